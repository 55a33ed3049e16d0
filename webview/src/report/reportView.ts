/// <reference lib="dom" />
// The run report panel: summary, per-layer charts, the tensor table and the selected
// tensor's details and histograms.
import { EVALUATION_GROUP_TITLES, evaluationRows, type EvaluationRow } from '../../../core/src/evaluationFigures';
import type { ReportExport, RunReport, TensorResult } from '../../../core/src/runReport';
import { applyTheme, ChartSlot } from '../shared/charts';
import { DataTable, type Column, type SortState } from '../shared/dataTable';
import { clear, createNotices, definitionList, h, showError } from '../shared/dom';
import {
  formatBpw,
  formatBytes,
  formatCount,
  formatInteger,
  formatNumber,
  formatSeconds,
  formatShape,
} from '../shared/format';
import type { ReportState } from '../shared/messages';
import {
  aggregateByLayer,
  chooseErrorMetric,
  decidingRule,
  ERROR_METRICS,
  errorStats,
  formatLabel,
  formatsOf,
  hasOutputError,
  isKept,
  KNOWN_EVALUATION_KEYS,
  summarizePhases,
  summarizeCalibration,
  summarizeEvaluation,
  type ErrorMetric,
  type LayerAggregation,
} from '../shared/reportModel';
import { makeNameFilter } from '../shared/table';
import { roleLabel } from '../shared/tensorNames';
import { onThemeChange, readTheme, type Theme } from '../shared/theme';
import { post, setState } from '../shared/vscodeApi';
import {
  drawBitsPerLayer,
  drawErrorHistogram,
  drawErrorPerLayer,
  drawHeatmap,
  drawWeightHistogram,
} from './reportCharts';

/** Translations `bitsmith run` wrote; reports from before they were saved have none. */
function exportsOf(report: RunReport): ReportExport[] {
  return Array.isArray(report.exports) ? report.exports : [];
}

const OUTPUT_KINDS: Record<string, string> = { fake: 'fake-quantized', compressed_tensors: 'compressed-tensors' };

function basename(p: string): string {
  return (
    p
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() || p
  );
}

// diagonal: the output errors are calibration imatrix's diagonal estimate (runReport.ts outputErrorKind).
function columns(outputErrors: boolean, diagonal = false): Column<TensorResult>[] {
  const num =
    (value: (t: TensorResult) => number | undefined, fmt: (x: number | undefined) => string) => (t: TensorResult) =>
      isKept(t) && value(t) === undefined ? h('span', { class: 'muted' }, '—') : fmt(value(t));
  return [
    {
      id: 'name',
      label: 'Tensor',
      sortValue: (t) => t.name,
      render: (t) => h('span', { class: 'tensor-name' }, t.name),
    },
    {
      id: 'shape',
      label: 'Shape',
      sortValue: (t) => t.shape.reduce((a, b) => a * b, 1),
      render: (t) => formatShape(t.shape),
      firstDirection: 'descending',
      title: 'Sorted by number of elements',
    },
    {
      id: 'format',
      label: 'Format',
      sortValue: (t) => (isKept(t) ? `~keep ${t.dtype}` : formatLabel(t)),
      render: (t) => (isKept(t) ? h('span', { class: 'badge kept' }, formatLabel(t)) : formatLabel(t)),
    },
    {
      id: 'method',
      label: 'Method',
      sortValue: (t) => t.method,
      render: (t) => t.method ?? h('span', { class: 'muted' }, '—'),
    },
    {
      id: 'bpw',
      label: 'bpw',
      title: 'Bits per weight, from the bytes produced',
      numeric: true,
      sortValue: (t) => t.bpw,
      render: (t) => formatBpw(t.bpw),
      firstDirection: 'descending',
    },
    {
      id: 'relError',
      label: 'Rel. error',
      title: 'Relative error ‖ŵ − w‖ / ‖w‖',
      numeric: true,
      sortValue: (t) => t.relError,
      render: num(
        (t) => t.relError,
        (x) => formatNumber(x),
      ),
      firstDirection: 'descending',
    },
    {
      id: 'sqnrDb',
      label: 'SQNR dB',
      title: 'Signal-to-quantization-noise ratio in decibels',
      numeric: true,
      sortValue: (t) => t.sqnrDb,
      render: num(
        (t) => t.sqnrDb,
        (x) => (x === undefined ? '—' : x.toFixed(2)),
      ),
      firstDirection: 'ascending',
    },
    ...(outputErrors
      ? [
          {
            id: 'outputError',
            label: diagonal ? 'Out err (diag.)' : 'Out err',
            numeric: true,
            firstDirection: 'descending' as const,
            title: diagonal
              ? 'Diagonal estimate of the relative output error from the imatrix, Σ d_j |ΔW_:j|² / Σ d_j |W_:j|² (d = mean x² per input: only the diagonal of XᵀX, not the full-Hessian figure)'
              : 'Relative output error tr(ΔW H ΔW^T) / tr(W H W^T) on the calibration inputs: an energy ratio (compare with rel. error squared)',
            sortValue: (t: TensorResult) => t.outputError,
            render: num(
              (t) => t.outputError,
              (x) => formatNumber(x),
            ),
          },
          {
            id: 'outputSqnrDb',
            label: diagonal ? 'Out SQNR dB (diag.)' : 'Out SQNR dB',
            numeric: true,
            firstDirection: 'ascending' as const,
            title: diagonal
              ? "Output SQNR from the imatrix's diagonal estimate, in decibels"
              : 'Output signal-to-noise ratio on the calibration inputs, in decibels',
            sortValue: (t: TensorResult) => t.outputSqnrDb,
            render: num(
              (t) => t.outputSqnrDb,
              (x) => (x === undefined ? '—' : x.toFixed(2)),
            ),
          },
        ]
      : []),
    {
      id: 'maxAbsError',
      label: 'Max abs. error',
      numeric: true,
      sortValue: (t) => t.maxAbsError,
      render: num(
        (t) => t.maxAbsError,
        (x) => formatNumber(x),
      ),
      firstDirection: 'descending',
    },
    {
      id: 'seconds',
      label: 'Time',
      numeric: true,
      sortValue: (t) => t.seconds,
      render: (t) => formatSeconds(t.seconds),
      firstDirection: 'descending',
    },
  ];
}

/** The figures llama-perplexity --kl-divergence prints, in its three blocks and with its labels. */
function evaluationTables(rows: EvaluationRow[]): HTMLElement {
  const groups = [...new Set(rows.map((r) => r.group))];
  return h(
    'div',
    { class: 'evaluation-stats' },
    groups.map((g) =>
      h(
        'table',
        { class: 'evaluation-table', 'data-group': g },
        h('caption', undefined, EVALUATION_GROUP_TITLES[g]),
        h(
          'tbody',
          undefined,
          rows
            .filter((r) => r.group === g)
            .map((r) => h('tr', undefined, h('th', { scope: 'row' }, r.label), h('td', undefined, r.value))),
        ),
      ),
    ),
  );
}

/** Any JSON value as nested definition lists / tables (evaluation fields this view does not know yet). */
function renderValue(value: unknown, depth = 0): Node {
  if (value === null || value === undefined) return document.createTextNode('—');
  if (typeof value === 'number') return document.createTextNode(formatNumber(value, 5));
  if (typeof value !== 'object') return document.createTextNode(String(value));
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object'))
      return document.createTextNode(
        value.map((v) => (typeof v === 'number' ? formatNumber(v, 5) : String(v))).join(', '),
      );
    const list = h('ol', { class: 'value-list' });
    for (const item of value) list.appendChild(h('li', undefined, renderValue(item, depth + 1)));
    return list;
  }
  if (depth > 4) return document.createTextNode(JSON.stringify(value));
  return definitionList(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, renderValue(v, depth + 1)]),
    'facts nested',
  );
}

/** allocate's mix and its predicted error, against the measured KL when the run evaluated. */
function allocationSummary(report: RunReport): string {
  const a = report.allocation!;
  const mix = Object.entries(a.counts)
    .sort((x, y) => y[1] - x[1])
    .map(([f, n]) => `${n} ${f}`)
    .join(', ');
  const kl = a.metric !== 'weight';
  const measured = kl && report.evaluation ? `, measured KL ${formatNumber(report.evaluation.klMean)}` : '';
  return `${mix} · predicted ${kl ? 'KL' : 'error'} ${formatNumber(a.predictedError)}${measured} (metric ${a.metric})`;
}

export class ReportApp {
  private report: RunReport | undefined;
  private file = '';
  private state: ReportState;
  private theme: Theme = readTheme();
  private agg: LayerAggregation | undefined;
  private outputErrors = false;
  private table: DataTable<TensorResult> | undefined;
  private readonly slots = {
    errorPerLayer: new ChartSlot('error-per-layer', 'Relative error per layer'),
    bitsPerLayer: new ChartSlot('bits-per-layer', 'Bits per weight per layer'),
    heatmap: new ChartSlot('heatmap', 'Relative error: layer × projection', 'heatmap'),
    weightHist: new ChartSlot('weight-hist', 'Weights and reconstruction'),
    errorHist: new ChartSlot('error-hist', 'Error histogram'),
  };
  private detail: HTMLElement | undefined;
  private notify: (message: string, level?: 'info' | 'warning' | 'error') => void = () => undefined;

  constructor(
    private readonly root: HTMLElement,
    restored: ReportState | undefined,
  ) {
    this.state = restored ?? { kind: 'report', file: '' };
    applyTheme(this.theme);
    onThemeChange((theme) => {
      this.theme = theme;
      applyTheme(theme);
      this.drawCharts();
    });
  }

  showError(title: string, message: string, file: string): void {
    for (const slot of Object.values(this.slots)) slot.destroy();
    this.report = undefined;
    if (file) this.saveState({ file });
    showError(this.root, title, message, file, () => post({ type: 'reload' }));
  }

  notice(message: string, level: 'info' | 'warning' | 'error'): void {
    this.notify(message, level);
  }

  show(file: string, report: RunReport): void {
    // A different file starts from a clean view; the same file keeps sort, filter and selection.
    if (this.state.file && this.state.file !== file) this.state = { kind: 'report', file };
    this.file = file;
    this.report = report;
    this.saveState({ file });
    this.agg = aggregateByLayer(report.tensors);
    for (const slot of Object.values(this.slots)) slot.destroy();
    clear(this.root);
    this.outputErrors = hasOutputError(report.tensors);
    this.root.append(this.header(report), this.summary(report));
    if (report.evaluation && typeof report.evaluation === 'object')
      this.root.appendChild(this.quality(report.evaluation));
    this.root.append(this.overview(), this.workbench(report));
    this.notify = createNotices(this.root);
    const selected =
      this.state.selected && report.tensors.some((t) => t.name === this.state.selected)
        ? this.state.selected
        : this.defaultSelection(report);
    this.selectTensor(selected, { reveal: false, scroll: false });
    this.drawLayerCharts();
  }

  private saveState(patch: Partial<ReportState>): void {
    this.state = { ...this.state, ...patch, kind: 'report' };
    setState(this.state);
  }

  /** The metric of the per-layer charts: the saved choice, else the output error when the run has it. */
  private get metric(): ErrorMetric {
    return chooseErrorMetric(this.state.errorMetric, this.outputErrors);
  }

  /** The tensor with the highest error of the charts' metric, else the first tensor. */
  private defaultSelection(report: RunReport): string | undefined {
    const metric = this.metric;
    let best: TensorResult | undefined;
    for (const t of report.tensors) {
      const v = t[metric];
      if (v !== undefined && Number.isFinite(v) && (!best || v > best[metric]!)) best = t;
    }
    return (best ?? report.tensors[0])?.name;
  }

  private header(report: RunReport): HTMLElement {
    const title = report.recipe.name ?? basename(report.recipe.path);
    return h(
      'header',
      { class: 'page-header' },
      h(
        'div',
        { class: 'title-block' },
        h('h1', undefined, title),
        h(
          'p',
          { class: 'subtitle' },
          'Run report ',
          h('code', { title: this.file }, basename(this.file)),
          ` · finished ${report.finished.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
          report.bitsmith ? ` · Bitsmith ${report.bitsmith}` : '',
        ),
      ),
      h(
        'div',
        { class: 'actions', role: 'toolbar', 'aria-label': 'Report actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'button',
            id: 'export-csv',
            onclick: () => post({ type: 'exportCsv', tensors: this.table?.visibleKeys() }),
          },
          'Export CSV',
        ),
        h(
          'button',
          { type: 'button', class: 'button secondary', id: 'export-json', onclick: () => post({ type: 'exportJson' }) },
          'Export JSON',
        ),
        h(
          'button',
          { type: 'button', class: 'button secondary', id: 'reload', onclick: () => post({ type: 'reload' }) },
          'Reload',
        ),
      ),
    );
  }

  private summary(report: RunReport): HTMLElement {
    const t = report.totals;
    const kept = t.tensors - t.quantized;
    const ratio = t.bytesIn ? t.bytesOut / t.bytesIn : undefined;
    const errors = errorStats(report.tensors);
    const outErrors = errorStats(report.tensors, 'outputError');
    const exported = exportsOf(report);
    const ggufWarnings = (report.outputs ?? []).find((o) => o.kind === 'gguf')?.warnings ?? [];
    const bpwParts: (Node | string)[] = [h('strong', undefined, formatBpw(t.bpw)), ' bpw'];
    if (t.planBpw !== undefined) {
      const same = Math.abs(t.planBpw - t.bpw) < 1e-9;
      bpwParts.push(
        h(
          'span',
          { class: same ? 'muted' : 'warning-text' },
          ` (plan ${formatBpw(t.planBpw)}${same ? '' : ', differs'})`,
        ),
      );
    }
    let budget: (Node | string)[] | undefined;
    if (report.budget) {
      const b = report.budget;
      budget = [
        `${formatBpw(b.bpw)} bpw (${formatBytes(b.bytes)}): `,
        b.fits
          ? h('span', { class: 'badge ok' }, `fits, ${formatBytes(b.bytes - t.bytesOut)} to spare`)
          : h('span', { class: 'badge over' }, `over by ${formatBytes(b.overBytes)}`),
      ];
    }
    const model = report.model;
    return h(
      'section',
      { class: 'summary', 'aria-label': 'Summary' },
      definitionList([
        [
          'Model',
          [
            h('span', { title: model.path }, basename(model.path)),
            h(
              'span',
              { class: 'muted' },
              ` ${model.format} · ${model.architecture} · ${formatCount(model.parameters)} params`,
            ),
          ],
        ],
        [
          'Recipe',
          [
            h('span', { title: report.recipe.path }, report.recipe.name ?? basename(report.recipe.path)),
            h('span', { class: 'muted' }, ` ${basename(report.recipe.path)}`),
          ],
        ],
        [
          'Size',
          [
            formatBytes(t.bytesIn),
            ' → ',
            h('strong', undefined, formatBytes(t.bytesOut)),
            ratio ? h('span', { class: 'muted' }, ` (${(1 / ratio).toFixed(2)}× smaller)`) : '',
          ],
        ],
        ['Bits per weight', bpwParts],
        ['Budget', budget],
        ['Tensors', `${formatInteger(t.quantized)} quantized, ${formatInteger(kept)} kept`],
        [
          'Relative error',
          errors.count
            ? `mean ${formatNumber(errors.mean)}, median ${formatNumber(errors.median)}, max ${formatNumber(errors.max)}`
            : 'no quantized tensor',
        ],
        [
          'Output error',
          outErrors.count
            ? [
                `mean ${formatNumber(outErrors.mean)}, median ${formatNumber(outErrors.median)}, max ${formatNumber(outErrors.max)}`,
                h('span', { class: 'muted' }, ` (${formatInteger(outErrors.count)} tensors)`),
              ]
            : undefined,
        ],
        ['Calibration', report.calibration ? summarizeCalibration(report.calibration) : undefined],
        ['Allocation', report.allocation ? allocationSummary(report) : undefined],
        ['Wall time', formatSeconds(t.seconds)],
        ['Phases', summarizePhases(report.phases)],
        ['Threads', String(report.threads)],
        ['Peak RSS', formatBytes(t.peakRssBytes)],
        [
          'Output',
          report.output
            ? h(
                'span',
                { title: report.output.path },
                `${OUTPUT_KINDS[report.output.kind] ?? report.output.kind}: ${basename(report.output.path)}`,
              )
            : 'none',
        ],
        [
          'GGUF warnings',
          ggufWarnings.length
            ? h(
                'ul',
                { class: 'warning-text' },
                ggufWarnings.map((w) => h('li', undefined, w)),
              )
            : undefined,
        ],
        [
          'Exports',
          exported.length
            ? exported.flatMap((x, i) => [
                i ? ', ' : '',
                h('span', { title: x.path }, `${x.kind}: ${basename(x.path)}`),
                x.issues?.length ? h('span', { class: 'warning-text' }, ` (${x.issues.length} not translated)`) : '',
              ])
            : undefined,
        ],
      ]),
    );
  }

  /** End-to-end quality: the fake-quantized model against the original on held-out sequences. */
  private quality(e: NonNullable<RunReport['evaluation']>): HTMLElement {
    const q = summarizeEvaluation(e);
    const extra = Object.entries(e).filter(([k]) => !KNOWN_EVALUATION_KEYS.includes(k));
    return h(
      'section',
      { class: 'evaluation', 'aria-labelledby': 'evaluation-h' },
      h('h2', { id: 'evaluation-h' }, 'End-to-end quality'),
      h(
        'p',
        { class: 'help' },
        `The original and the fake-quantized model predicting the next token of held-out sequences (${q.seconds}).`,
      ),
      definitionList([
        [
          'Perplexity',
          [
            q.pplOriginal,
            ' → ',
            h('strong', undefined, q.pplQuantized),
            q.perplexityRatio ? h('span', { class: 'muted' }, ` (${q.perplexityRatio})`) : '',
          ],
        ],
        ['Mean NLL', q.nll],
        ['KL divergence', q.kl],
        ['Top-1 agreement', h('strong', undefined, q.top1)],
        ['Evaluated on', [q.basis, h('span', { class: 'muted' }, ` · ${q.source}`)]],
      ]),
      evaluationTables(evaluationRows(e)),
      extra.length
        ? definitionList(
            extra.map(([k, v]) => [k, renderValue(v, 1)]),
            'facts nested',
          )
        : null,
    );
  }

  private overview(): HTMLElement {
    const agg = this.agg!;
    const log = h('input', { type: 'checkbox', id: 'log-scale', checked: this.state.logScale ?? false });
    log.addEventListener('change', () => {
      this.saveState({ logScale: log.checked });
      this.drawCharts();
    });
    let metricControl: HTMLElement | null = null;
    if (this.outputErrors) {
      const select = h(
        'select',
        { id: 'error-metric' },
        (['outputError', 'relError'] as const).map((m) =>
          h('option', { value: m, selected: this.metric === m }, ERROR_METRICS[m].option),
        ),
      );
      select.addEventListener('change', () => {
        this.saveState({ errorMetric: select.value === 'relError' ? 'relError' : 'outputError' });
        this.drawLayerCharts();
      });
      metricControl = h(
        'span',
        { class: 'metric-control' },
        h('label', { for: 'error-metric' }, 'Error metric'),
        select,
      );
    }
    const section = h(
      'section',
      { class: 'overview', 'aria-labelledby': 'overview-h' },
      h(
        'div',
        { class: 'section-header' },
        h('h2', { id: 'overview-h' }, 'Per layer'),
        h(
          'div',
          { class: 'chart-controls' },
          metricControl,
          h('label', { class: 'checkbox' }, log, ' Logarithmic scales'),
        ),
      ),
      h(
        'div',
        { class: 'chart-grid' },
        this.slots.errorPerLayer.figure,
        this.slots.bitsPerLayer.figure,
        this.slots.heatmap.figure,
      ),
    );
    section.appendChild(this.outsideLayers(agg));
    return section;
  }

  /** Tensors in no numbered layer: listed with their figures, never dropped silently. */
  private outsideLayers(agg: LayerAggregation): HTMLElement {
    const box = h(
      'div',
      { class: 'outside-layers', 'data-outside-layers': '' },
      h('h3', undefined, 'Outside the numbered layers'),
    );
    if (!agg.outside.length) {
      box.appendChild(h('p', { class: 'muted' }, 'Every tensor sits in a numbered layer.'));
      return box;
    }
    const list = h('ul', { class: 'outside-list' });
    for (const { tensor: t, role } of agg.outside) {
      list.appendChild(
        h(
          'li',
          undefined,
          h(
            'button',
            {
              type: 'button',
              class: 'link-button',
              'data-tensor-link': t.name,
              onclick: () => this.selectTensor(t.name, { reveal: false, scroll: true }),
            },
            t.name,
          ),
          h('span', { class: 'muted' }, ` ${roleLabel(role)} · ${formatLabel(t)} · ${formatBpw(t.bpw)} bpw`),
          t.relError !== undefined ? h('span', undefined, ` · rel. error ${formatNumber(t.relError)}`) : '',
          t.outputError !== undefined ? h('span', undefined, ` · output error ${formatNumber(t.outputError)}`) : '',
        ),
      );
    }
    box.appendChild(list);
    if (agg.inLayerOther.length) {
      box.appendChild(
        h(
          'p',
          { class: 'muted' },
          `${agg.inLayerOther.length} other tensors inside the layers (norms, biases, routers) count in the whole-layer bits but have no projection series; the table lists them.`,
        ),
      );
    }
    return box;
  }

  private workbench(report: RunReport): HTMLElement {
    const count = h('span', { class: 'count', id: 'tensor-count', 'aria-live': 'polite' });
    this.table = new DataTable<TensorResult>({
      id: 'tensor-table',
      caption:
        'Tensors of the run: format, bits per weight and error. Select a row to see its histograms and open the rule that decided it.',
      columns: columns(this.outputErrors, this.report?.tensors.some((t) => t.outputErrorKind === 'diagonal') ?? false),
      rowKey: (t) => t.name,
      keyAttribute: 'data-tensor',
      rowClass: (t) => (isKept(t) ? 'kept' : undefined),
      sort: this.state.sort,
      onSortChange: (sort: SortState | undefined) => this.saveState({ sort }),
      onActivate: (t) => this.selectTensor(t.name, { reveal: true, scroll: false }),
      onRender: (visible, total) => {
        count.textContent = visible === total ? `${total} tensors` : `${visible} of ${total} tensors`;
      },
      emptyText: 'No tensor matches the filter.',
    });
    const filter = h('input', {
      type: 'search',
      id: 'tensor-filter',
      value: this.state.filter ?? '',
      placeholder: 'q_proj, *.mlp.*, model.layers.{0..3}.**',
      'aria-describedby': 'filter-help',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    const formatSelect = h(
      'select',
      { id: 'format-filter' },
      h('option', { value: '' }, 'All formats'),
      formatsOf(report.tensors).map((f) =>
        h('option', { value: f, selected: this.state.format === f }, f === 'keep' ? 'kept' : f),
      ),
    );
    const filterError = h('span', { class: 'filter-error', id: 'filter-error', role: 'alert' });
    const apply = () => {
      const nameFilter = makeNameFilter(filter.value);
      filterError.textContent = nameFilter.error ? nameFilter.error : '';
      filter.setAttribute('aria-invalid', nameFilter.error ? 'true' : 'false');
      const format = formatSelect.value;
      this.table!.setFilter((t) => nameFilter.test(t.name) && (!format || (isKept(t) ? 'keep' : t.format) === format));
      this.saveState({ filter: filter.value, format });
    };
    filter.addEventListener('input', apply);
    formatSelect.addEventListener('change', apply);
    this.table.setRows(report.tensors);
    apply();

    this.detail = h('div', { class: 'detail-body' });
    return h(
      'section',
      { class: 'workbench' },
      h(
        'div',
        { class: 'table-pane', role: 'region', 'aria-labelledby': 'tensors-h' },
        h('div', { class: 'section-header' }, h('h2', { id: 'tensors-h' }, 'Tensors'), count),
        h(
          'div',
          { class: 'filters' },
          h('label', { for: 'tensor-filter' }, 'Filter'),
          filter,
          h('label', { for: 'format-filter' }, 'Format'),
          formatSelect,
          filterError,
        ),
        h(
          'p',
          { id: 'filter-help', class: 'help' },
          'A substring, or a recipe pattern: * within a segment, ** across segments, {0..3} ranges, re: for a regular expression.',
        ),
        h('div', { class: 'table-scroll' }, this.table.element),
      ),
      h('aside', { class: 'detail-pane', 'aria-labelledby': 'detail-h' }, this.detail),
    );
  }

  /** Selects a tensor: table row, detail pane and histograms; `reveal` asks the host to open its rule. */
  selectTensor(name: string | undefined, how: { reveal: boolean; scroll: boolean }): void {
    const report = this.report;
    if (!report) return;
    const t = name ? report.tensors.find((x) => x.name === name) : undefined;
    this.saveState({ selected: t?.name });
    this.table?.select(t?.name, how.scroll);
    this.renderDetail(t);
    this.drawHistograms(t);
    if (t && how.reveal) post({ type: 'revealRule', tensor: t.name });
  }

  private renderDetail(t: TensorResult | undefined): void {
    const detail = this.detail;
    const report = this.report;
    if (!detail || !report) return;
    clear(detail);
    if (!t) {
      detail.append(
        h('h2', { id: 'detail-h' }, 'No tensor selected'),
        h('p', { class: 'muted' }, 'Select a row of the table.'),
      );
      return;
    }
    const config = t.config
      ? Object.entries(t.config).filter(([k]) => !['format', 'method', 'group', 'groupKind', 'symmetric'].includes(k))
      : [];
    const bytes = t.bytes
      ? Object.entries(t.bytes)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${formatBytes(v)}`)
          .join(' · ')
      : undefined;
    const rules =
      t.decidedBy && report.rules
        ? Object.entries(t.decidedBy).map(([prop, index]) => {
            const rule = report.rules!.find((r) => r.index === index) ?? report.rules![index];
            return h(
              'li',
              undefined,
              h('span', { class: 'muted' }, `${prop}: `),
              rule ? `${rule.label} (line ${rule.line + 1})` : `rule ${index}`,
            );
          })
        : [];
    const deciding = decidingRule(report, t);
    detail.append(
      h('h2', { id: 'detail-h', class: 'tensor-title' }, t.name),
      definitionList(
        [
          ['Shape', `${formatShape(t.shape)} (${formatInteger(t.shape.reduce((a, b) => a * b, 1))} elements)`],
          ['Source', t.dtype],
          ['Format', formatLabel(t)],
          ['Method', t.method],
          ['Options', config.length ? config.map(([k, v]) => `${k} ${String(v)}`).join(' · ') : undefined],
          [
            'Bits per weight',
            `${formatBpw(t.bpw)}${t.planBpw !== undefined && Math.abs(t.planBpw - t.bpw) > 1e-9 ? ` (plan ${formatBpw(t.planBpw)})` : ''}`,
          ],
          ['Bytes', `${formatBytes(t.bytesIn)} → ${formatBytes(t.bytesOut)}`],
          ['Bytes by part', bytes],
          ['Relative error', t.relError !== undefined ? formatNumber(t.relError) : undefined],
          ['SQNR', t.sqnrDb !== undefined ? `${t.sqnrDb.toFixed(2)} dB` : undefined],
          [
            'Output error',
            t.outputError !== undefined
              ? [
                  h(
                    'span',
                    { title: 'tr(ΔW H ΔW^T) / tr(W H W^T) on the calibration inputs: an energy ratio' },
                    formatNumber(t.outputError),
                  ),
                  t.relError !== undefined
                    ? h('span', { class: 'muted' }, ` (rel. error² ${formatNumber(t.relError * t.relError)})`)
                    : '',
                ]
              : undefined,
          ],
          ['Output SQNR', t.outputSqnrDb !== undefined ? `${t.outputSqnrDb.toFixed(2)} dB` : undefined],
          ['Max abs. error', t.maxAbsError !== undefined ? formatNumber(t.maxAbsError) : undefined],
          ['Cosine', t.cosine !== undefined ? formatNumber(t.cosine, 6) : undefined],
          ['Outliers', t.outliers ? formatInteger(t.outliers) : undefined],
          ['Time', formatSeconds(t.seconds)],
        ],
        'facts compact',
      ),
      rules.length
        ? h(
            'div',
            { class: 'rules' },
            h('h3', undefined, 'Decided by'),
            h('ul', undefined, rules),
            h(
              'button',
              {
                type: 'button',
                class: 'button secondary',
                id: 'reveal-rule',
                onclick: () => post({ type: 'revealRule', tensor: t.name }),
              },
              deciding ? `Go to ${deciding.label}` : 'Go to rule',
            ),
          )
        : h(
            'p',
            { class: 'muted' },
            report.rules
              ? 'No rule decided this tensor (the defaults of the format leave it as it is).'
              : 'This report does not record which rule decided each tensor.',
          ),
      this.slots.weightHist.figure,
      this.slots.errorHist.figure,
    );
  }

  private drawHistograms(t: TensorResult | undefined): void {
    if (!this.report) return;
    const log = this.state.logScale ?? false;
    drawWeightHistogram(this.slots.weightHist, t, this.theme, log);
    drawErrorHistogram(this.slots.errorHist, t, this.theme, log);
  }

  private drawCharts(): void {
    this.drawLayerCharts();
    this.drawHistograms(this.report?.tensors.find((t) => t.name === this.state.selected));
  }

  private drawLayerCharts(): void {
    if (!this.report || !this.agg) return;
    const pick = (name: string) => this.selectTensor(name, { reveal: false, scroll: true });
    const log = this.state.logScale ?? false;
    const metric = this.metric;
    drawErrorPerLayer(this.slots.errorPerLayer, this.agg, this.theme, log, pick, metric);
    drawBitsPerLayer(this.slots.bitsPerLayer, this.agg, this.theme, pick);
    drawHeatmap(this.slots.heatmap, this.agg, this.theme, pick, metric);
  }
}
