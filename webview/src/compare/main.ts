/// <reference lib="dom" />
// Entry of the compare webview: two run reports side by side, totals with deltas and a
// per-tensor table joined by name.
import { compareTotals, joinReports, type JoinedRow, type TotalsRow } from '../shared/compare';
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

function header(a: LoadedReport, b: LoadedReport): HTMLElement {
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
      h('div', { class: 'sides' }, side('A', a), side('B', b)),
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

function render(a: LoadedReport, b: LoadedReport): void {
  if (!state || state.fileA !== a.file || state.fileB !== b.file)
    state = { kind: 'compare', fileA: a.file, fileB: b.file };
  setState(state);
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
  clear(root);
  root.append(
    header(a, b),
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
      h('h2', { id: 'totals-h' }, 'Totals'),
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
}

serve('compare', {
  data: (message) => render(message.a, message.b),
  error: (message) => showError(root, message.title, message.message, message.file, () => post({ type: 'reload' })),
  notice: (message) => notify(message.message, message.level),
});
