/// <reference lib="dom" />
// Entry of the compare webview: any number of run reports: one row per run (size and the
// evaluation's figures, llama-perplexity's), size vs KL drawn across them, then two runs
// (A and B, chosen here) side by side: totals with deltas and a per-tensor table joined by name.
import {
  compareTotals,
  evaluationSources,
  joinReports,
  runRows,
  type JoinedRow,
  type RunRow,
  type TotalsRow,
} from '../shared/compare';
import { applyTheme, ChartSlot } from '../shared/charts';
import { readTheme, onThemeChange } from '../shared/theme';
import { DataTable, type Column } from '../shared/dataTable';
import { clear, createNotices, h, showError } from '../shared/dom';
import {
  formatBpw,
  formatBytes,
  formatDelta,
  formatInteger,
  formatNumber,
  formatRatio,
  formatSeconds,
} from '../shared/format';
import type { CompareState, LoadedReport } from '../shared/messages';
import { formatLabel, isKept } from '../shared/reportModel';
import { makeNameFilter } from '../shared/table';
import { getState, post, serve, setState } from '../shared/vscodeApi';
import { runLetter } from '../shared/compare';

const root = document.getElementById('app')!;
let state: CompareState | undefined = getState<CompareState>('compare');
let notify: ReturnType<typeof createNotices> = () => undefined;
let table: DataTable<JoinedRow> | undefined;

function save(patch: Partial<CompareState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  setState(state);
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() || p;
}

function title(r: LoadedReport): string {
  return r.report.recipe.name ?? basename(r.report.recipe.path);
}

function totalValue(row: TotalsRow, v: number | undefined): string {
  switch (row.id) {
    case 'bytesOut':
      return formatBytes(v);
    case 'bpw':
      return formatBpw(v);
    case 'seconds':
      return formatSeconds(v);
    case 'quantized':
      return formatInteger(v);
    default:
      return formatNumber(v);
  }
}

function totalsTable(rows: TotalsRow[], a: LoadedReport, b: LoadedReport): HTMLTableElement {
  return h(
    'table',
    { class: 'data-grid totals', id: 'compare-totals' },
    h('caption', { class: 'visually-hidden' }, 'Totals of both runs with the change from A to B'),
    h(
      'thead',
      undefined,
      h(
        'tr',
        undefined,
        h('th', { scope: 'col' }, ''),
        h('th', { scope: 'col', class: 'numeric' }, `A: ${title(a)}`),
        h('th', { scope: 'col', class: 'numeric' }, `B: ${title(b)}`),
        h('th', { scope: 'col', class: 'numeric' }, 'B − A'),
        h('th', { scope: 'col', class: 'numeric' }, 'B / A'),
      ),
    ),
    h(
      'tbody',
      undefined,
      rows.map((row) => {
        const better =
          row.better === 'lower' && row.delta !== undefined && row.delta !== 0
            ? row.delta < 0
              ? 'better'
              : 'worse'
            : '';
        const fmt = (x: number) => totalValue(row, x);
        return h(
          'tr',
          { 'data-total': row.id },
          h('th', { scope: 'row' }, row.label),
          h('td', { class: 'numeric' }, totalValue(row, row.a)),
          h('td', { class: 'numeric' }, totalValue(row, row.b)),
          h(
            'td',
            { class: `numeric ${better}` },
            formatDelta(row.delta, fmt),
            better ? h('span', { class: 'visually-hidden' }, ` (${better})`) : '',
          ),
          h('td', { class: 'numeric' }, formatRatio(row.ratio)),
        );
      }),
    ),
  );
}

function columns(): Column<JoinedRow>[] {
  const fmt = (t: JoinedRow['a']) =>
    t
      ? isKept(t)
        ? h('span', { class: 'badge kept' }, 'kept')
        : formatLabel(t)
      : h('span', { class: 'muted' }, 'absent');
  return [
    {
      id: 'name',
      label: 'Tensor',
      sortValue: (r) => r.name,
      render: (r) =>
        h(
          'span',
          { class: 'tensor-name' },
          r.name,
          r.status === 'both'
            ? ''
            : h('span', { class: 'badge only' }, r.status === 'onlyA' ? 'only in A' : 'only in B'),
        ),
    },
    {
      id: 'formatA',
      label: 'Format A',
      sortValue: (r) => r.a && (isKept(r.a) ? '~keep' : formatLabel(r.a)),
      render: (r) => fmt(r.a),
    },
    {
      id: 'formatB',
      label: 'Format B',
      sortValue: (r) => r.b && (isKept(r.b) ? '~keep' : formatLabel(r.b)),
      render: (r) => fmt(r.b),
    },
    {
      id: 'bpwA',
      label: 'bpw A',
      numeric: true,
      sortValue: (r) => r.a?.bpw,
      render: (r) => formatBpw(r.a?.bpw),
      firstDirection: 'descending',
    },
    {
      id: 'bpwB',
      label: 'bpw B',
      numeric: true,
      sortValue: (r) => r.b?.bpw,
      render: (r) => formatBpw(r.b?.bpw),
      firstDirection: 'descending',
    },
    {
      id: 'bpwDelta',
      label: 'Δ bpw',
      title: 'bpw B − bpw A',
      numeric: true,
      sortValue: (r) => r.bpwDelta,
      render: (r) => formatDelta(r.bpwDelta, (x) => formatBpw(x)),
      firstDirection: 'descending',
    },
    {
      id: 'relA',
      label: 'Rel. error A',
      numeric: true,
      sortValue: (r) => r.a?.relError,
      render: (r) => formatNumber(r.a?.relError),
      firstDirection: 'descending',
    },
    {
      id: 'relB',
      label: 'Rel. error B',
      numeric: true,
      sortValue: (r) => r.b?.relError,
      render: (r) => formatNumber(r.b?.relError),
      firstDirection: 'descending',
    },
    {
      id: 'relRatio',
      label: 'Error B / A',
      title: 'Relative error of B divided by that of A (below 1: B is more accurate)',
      numeric: true,
      sortValue: (r) => r.relRatio,
      firstDirection: 'descending',
      render: (r) =>
        h(
          'span',
          {
            class: r.relRatio === undefined ? 'muted' : r.relRatio < 0.99 ? 'better' : r.relRatio > 1.01 ? 'worse' : '',
          },
          formatRatio(r.relRatio),
        ),
    },
  ];
}

function header(reports: LoadedReport[]): HTMLElement {
  const side = (label: string, r: LoadedReport) =>
    h(
      'div',
      { class: 'side' },
      h('h2', undefined, `${label}: ${title(r)}`),
      h(
        'p',
        { class: 'muted' },
        h('code', { title: r.file }, basename(r.file)),
        ` · ${basename(r.report.model.path)} · ${r.report.finished.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
      ),
    );
  return h(
    'header',
    { class: 'page-header' },
    h(
      'div',
      { class: 'title-block' },
      h('h1', undefined, 'Compare runs'),
      h(
        'div',
        { class: 'sides' },
        reports.map((r, i) => side(runLetter(i), r)),
      ),
    ),
    h(
      'div',
      { class: 'actions', role: 'toolbar', 'aria-label': 'Compare actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'button',
          id: 'export-csv',
          onclick: () => post({ type: 'exportCsv', tensors: table?.visibleKeys() }),
        },
        'Export CSV',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'button secondary',
          id: 'export-runs-csv',
          onclick: () => post({ type: 'exportCsv', what: 'runs' }),
        },
        'Export runs CSV',
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

let sizeChart: ChartSlot | undefined;
let lastRuns: RunRow[] = [];

function render(reports: LoadedReport[]): void {
  const files = reports.map((r) => r.file);
  if (!state || !state.files || state.files.join('\n') !== files.join('\n'))
    state = { kind: 'compare', files, sort: state?.sort, filter: state?.filter };
  const n = reports.length;
  const ia = state.a !== undefined && state.a < n ? state.a : 0;
  let ib = state.b !== undefined && state.b < n ? state.b : Math.min(1, n - 1);
  if (ib === ia) ib = ia === 0 ? Math.min(1, n - 1) : 0;
  state = { ...state, a: ia, b: ib };
  setState(state);
  post({ type: 'comparePair', a: ia, b: ib });
  const a = reports[ia],
    b = reports[ib];
  const runs = runRows(reports);
  lastRuns = runs;
  const rows = joinReports(a.report, b.report);
  const onlyA = rows.filter((r) => r.status === 'onlyA').length;
  const onlyB = rows.filter((r) => r.status === 'onlyB').length;
  const count = h('span', { class: 'count', id: 'compare-count', 'aria-live': 'polite' });
  table = new DataTable<JoinedRow>({
    id: 'compare-table',
    caption: 'Tensors of both runs joined by name: format, bits per weight and relative error in A and B',
    columns: columns(),
    rowKey: (r) => r.name,
    keyAttribute: 'data-tensor',
    rowClass: (r) => (r.status === 'both' ? undefined : 'unmatched'),
    sort: state.sort,
    onSortChange: (sort) => save({ sort }),
    onRender: (visible, total) => {
      count.textContent = visible === total ? `${total} tensors` : `${visible} of ${total} tensors`;
    },
    emptyText: 'No tensor matches the filter.',
  });
  const filter = h('input', {
    type: 'search',
    id: 'tensor-filter',
    value: state.filter ?? '',
    placeholder: 'q_proj, *.mlp.*',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const only = h(
    'select',
    { id: 'status-filter' },
    h('option', { value: '' }, 'All tensors'),
    h('option', { value: 'changed' }, 'Format or bpw changed'),
    h('option', { value: 'unmatched' }, 'In one report only'),
  );
  const filterError = h('span', { class: 'filter-error', role: 'alert' });
  const apply = () => {
    const f = makeNameFilter(filter.value);
    filterError.textContent = f.error ?? '';
    const mode = only.value;
    table!.setFilter(
      (r) =>
        f.test(r.name) &&
        (!mode ||
          (mode === 'unmatched'
            ? r.status !== 'both'
            : r.status !== 'both' || r.a!.format !== r.b!.format || r.bpwDelta !== 0)),
    );
    save({ filter: filter.value });
  };
  filter.addEventListener('input', apply);
  only.addEventListener('change', apply);
  table.setRows(rows);
  apply();

  const modelsDiffer = a.report.model.path !== b.report.model.path;
  const pairSelect = (which: 'a' | 'b', value: number) => {
    const sel = h(
      'select',
      { id: `pair-${which}` },
      reports.map((r, i) => h('option', { value: String(i), selected: i === value }, `${runLetter(i)}: ${title(r)}`)),
    );
    sel.addEventListener('change', () => {
      const v = Number(sel.value);
      if (which === 'a') save({ a: v, b: v === ib ? ia : ib });
      else save({ b: v, a: v === ia ? ib : ia });
      render(reports);
    });
    return sel;
  };
  clear(root);
  root.append(
    header(reports),
    runsSection(runs),
    modelsDiffer
      ? h(
          'p',
          { class: 'warning-text', role: 'note' },
          `The runs quantized different models (${basename(a.report.model.path)} and ${basename(b.report.model.path)}): tensors are joined by name.`,
        )
      : '',
    h(
      'section',
      { class: 'summary', 'aria-labelledby': 'totals-h' },
      h('h2', { id: 'totals-h' }, n > 2 ? 'Two runs side by side' : 'Totals'),
      n > 2
        ? h(
            'div',
            { class: 'filters' },
            h('label', { for: 'pair-a' }, 'A'),
            pairSelect('a', ia),
            h('label', { for: 'pair-b' }, 'B'),
            pairSelect('b', ib),
          )
        : '',
      totalsTable(compareTotals(a.report, b.report), a, b),
    ),
    h(
      'section',
      { class: 'table-pane', 'aria-labelledby': 'tensors-h' },
      h('div', { class: 'section-header' }, h('h2', { id: 'tensors-h' }, 'Tensors'), count),
      onlyA || onlyB
        ? h(
            'p',
            { class: 'muted', id: 'unmatched-note' },
            `${onlyA} tensors only in A, ${onlyB} only in B (listed with a badge).`,
          )
        : '',
      h(
        'div',
        { class: 'filters' },
        h('label', { for: 'tensor-filter' }, 'Filter'),
        filter,
        h('label', { for: 'status-filter' }, 'Show'),
        only,
        filterError,
      ),
      h('div', { class: 'table-scroll' }, table.element),
    ),
  );
  notify = createNotices(root);
  drawSizeChart();
}

const fixed = (x: number | undefined, d: number) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const pm = (x: number | undefined, u: number | undefined, d: number) =>
  x === undefined ? '—' : u === undefined ? fixed(x, d) : `${fixed(x, d)} ± ${fixed(u, d)}`;
const pct = (x: number | undefined, u?: number) =>
  x === undefined ? '—' : u === undefined ? `${fixed(100 * x, 3)}%` : `${fixed(100 * x, 3)} ± ${fixed(100 * u, 3)}%`;

/** Every run: its size and the evaluation's figures (llama-perplexity's), and size vs KL. */
function runsSection(runs: RunRow[]): HTMLElement {
  const evaluated = runs.filter((r) => r.klMean !== undefined);
  const sources = evaluationSources(runs);
  sizeChart?.destroy();
  sizeChart = new ChartSlot('size-kl', 'Size vs KL divergence (mean KLD per run)');
  const axis = h(
    'select',
    { id: 'size-axis' },
    h('option', { value: 'bpw', selected: (state?.sizeAxis ?? 'bpw') === 'bpw' }, 'bits per weight'),
    h('option', { value: 'bytes', selected: state?.sizeAxis === 'bytes' }, 'bytes'),
  );
  axis.addEventListener('change', () => {
    save({ sizeAxis: axis.value === 'bytes' ? 'bytes' : 'bpw' });
    drawSizeChart();
  });
  const cols: [string, string, (r: RunRow) => string][] = [
    ['Size', 'Bytes written', (r) => formatBytes(r.bytes)],
    ['bpw', 'Bits per weight', (r) => formatBpw(r.bpw)],
    ['PPL(Q)', 'Perplexity of the quantized model ± uncertainty', (r) => pm(r.ppl, r.pplUncertainty, 4)],
    ['ln(PPL(Q)/PPL(base))', 'Log perplexity ratio ± uncertainty', (r) => pm(r.lnPplRatio, r.lnPplRatioUncertainty, 5)],
    [
      'Mean KLD',
      'KL(original ‖ quantized) per position, mean ± uncertainty (nats)',
      (r) => pm(r.klMean, r.klUncertainty, 6),
    ],
    ['Median KLD', '', (r) => fixed(r.klMedian, 6)],
    ['99.0% KLD', '', (r) => fixed(r.klP99, 6)],
    ['Max KLD', '', (r) => fixed(r.klMax, 6)],
    ['RMS Δp', 'RMS of the change of the reference token probability', (r) => pct(r.deltaPRms)],
    ['Same top p', 'Share of positions with the same most likely token', (r) => pct(r.sameTop, r.sameTopUncertainty)],
  ];
  return h(
    'section',
    { class: 'runs', 'aria-labelledby': 'runs-h' },
    h('h2', { id: 'runs-h' }, `Runs (${runs.length})`),
    evaluated.length < runs.length
      ? h(
          'p',
          { class: 'muted', id: 'runs-unevaluated' },
          `${runs.length - evaluated.length} of ${runs.length} runs have no evaluation (add evaluate { perplexity text "…" } to the recipe): their figures show —.`,
        )
      : '',
    sources.length > 1
      ? h(
          'p',
          { class: 'warning-text', role: 'note', id: 'runs-sources' },
          `The runs were evaluated on different data (${sources.join('; ')}): their figures are not comparable.`,
        )
      : '',
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'data-grid', id: 'compare-runs' },
        h('caption', { class: 'visually-hidden' }, 'Every run: size and the evaluation figures'),
        h(
          'thead',
          undefined,
          h(
            'tr',
            undefined,
            h('th', { scope: 'col' }, 'Run'),
            cols.map(([label, tip]) => h('th', { scope: 'col', class: 'numeric', title: tip || undefined }, label)),
          ),
        ),
        h(
          'tbody',
          undefined,
          runs.map((r) =>
            h(
              'tr',
              { 'data-run': String(r.index) },
              h('th', { scope: 'row', title: r.file }, `${r.letter}: ${r.name}`),
              cols.map(([label, , f]) => h('td', { class: 'numeric', 'data-col': label }, f(r))),
            ),
          ),
        ),
      ),
    ),
    h('div', { class: 'chart-controls' }, h('label', { for: 'size-axis' }, 'Size axis'), axis),
    sizeChart.figure,
  );
}

function drawSizeChart(): void {
  if (!sizeChart) return;
  const theme = readTheme();
  applyTheme(theme);
  const bytes = state?.sizeAxis === 'bytes';
  type P = { x: number; y: number; run: RunRow };
  const pts: P[] = lastRuns
    .filter((r) => r.klMean !== undefined)
    .map((r) => ({ x: bytes ? r.bytes : r.bpw, y: r.klMean!, run: r }))
    .sort((p, q) => p.x - q.x);
  if (!pts.length) {
    sizeChart.empty(
      'No run has an evaluation: add evaluate { kl_divergence } (or perplexity text "…") to the recipes.',
    );
    return;
  }
  sizeChart.render<'line', P[]>(
    {
      type: 'line',
      data: {
        datasets: [
          {
            label: 'Mean KLD',
            data: pts,
            borderColor: theme.blue,
            backgroundColor: theme.blue,
            pointRadius: 5,
            pointHoverRadius: 7,
            showLine: pts.length > 1,
          },
        ],
      },
      options: {
        parsing: false,
        scales: {
          x: {
            type: 'linear',
            title: { display: true, text: bytes ? 'Size (bytes written)' : 'Bits per weight (whole model)' },
            grid: { color: theme.grid },
          },
          y: {
            type: 'linear',
            title: { display: true, text: 'Mean KL divergence (nats)' },
            grid: { color: theme.grid },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (item) => {
                const p = item.raw as P;
                return `${p.run.letter}: ${p.run.name}: ${bytes ? formatBytes(p.x) : `${formatBpw(p.x)} bpw`}, KLD ${pm(p.run.klMean, p.run.klUncertainty, 6)}`;
              },
            },
          },
        },
      },
    },
    `Size vs mean KL divergence of ${pts.length} run(s): ${pts.map((p) => `${p.run.letter} ${bytes ? formatBytes(p.x) : `${formatBpw(p.x)} bpw`} KLD ${fixed(p.y, 6)}`).join(', ')}`,
  );
}

onThemeChange(() => drawSizeChart());

serve('compare', {
  data: (message) => render(message.reports),
  error: (message) => showError(root, message.title, message.message, message.file, () => post({ type: 'reload' })),
  notice: (message) => notify(message.message, message.level),
});
