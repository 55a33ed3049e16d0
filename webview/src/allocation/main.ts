/// <reference lib="dom" />
// Entry of the Allocation webview: a recipe's `allocate` as the allocator sees it. The
// summary (mix, size against the budget, predicted error, gap), the size-error frontier
// (click a point to preview its mix and set the budget to it), the layer x projection
// heatmap of allocated bits, and the sensitivity table: every candidate's predicted error
// per tensor, the chosen one marked, pinned tensors and excluded candidates said.
import { applyTheme, ChartSlot } from '../shared/charts';
import { DataTable } from '../shared/dataTable';
import { clear, createNotices, definitionList, h, showError } from '../shared/dom';
import { formatBpw, formatBytes, formatNumber } from '../shared/format';
import type { AllocationState, AllocationView } from '../shared/messages';
import { makeNameFilter } from '../shared/table';
import { onThemeChange, readTheme } from '../shared/theme';
import { getState, post, serve, setState } from '../shared/vscodeApi';
import { drawBitsHeatmap, drawFrontier } from './allocationCharts';

type Row = AllocationView['tensors'][number];

const root = document.getElementById('app')!;
let state: AllocationState | undefined = getState<AllocationState>('allocation');
let view: AllocationView | undefined;
let theme = readTheme();
let notify: ReturnType<typeof createNotices> = () => undefined;
const frontierSlot = new ChartSlot('frontier', 'Size–error frontier');
const heatmapSlot = new ChartSlot('bits-heatmap', 'Allocated bits: layer × projection', 'heatmap');
let preview: HTMLElement | undefined;

applyTheme(theme);
onThemeChange((t) => {
  theme = t;
  applyTheme(t);
  draw();
});

function save(patch: Partial<AllocationState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  setState(state);
}

const mix = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([f, n]) => `${n} ${f}`)
    .join(', ');

function draw(): void {
  if (!view || view.status !== 'ok') return;
  drawFrontier(frontierSlot, view, theme, state?.logScale ?? true, showPoint);
  drawBitsHeatmap(heatmapSlot, view, theme);
}

/** A frontier point's mix, and the button that makes it the recipe's budget. */
function showPoint(index: number): void {
  if (!view || !preview) return;
  const p = view.frontier[index];
  clear(preview);
  preview.append(
    h('h3', undefined, `At ${formatBytes(p.bytes)} (${formatBpw(p.bpw)} bpw)`),
    h('p', undefined, `Predicted error ${formatNumber(p.error)}; mix: ${mix(p.counts)}.`),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'button',
          id: 'use-budget',
          onclick: () => post({ type: 'setBudget', bytes: p.budget }),
        },
        `Use this budget (budget ${p.budget} B)`,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'button secondary',
          id: 'preview-recipe',
          onclick: () => post({ type: 'previewRecipe', bytes: p.budget }),
        },
        'Preview its recipe',
      ),
    ),
  );
}

function render(v: AllocationView): void {
  view = v;
  if (!state || state.recipe !== v.recipe) state = { kind: 'allocation', recipe: v.recipe, logScale: true };
  setState(state);
  for (const slot of [frontierSlot, heatmapSlot]) slot.destroy();
  clear(root);
  const header = h(
    'header',
    { class: 'page-header' },
    h(
      'div',
      { class: 'title-block' },
      h('h1', undefined, `Allocation: ${v.name}`),
      h('p', { class: 'subtitle' }, h('code', undefined, v.recipe)),
    ),
    h(
      'div',
      { class: 'actions', role: 'toolbar', 'aria-label': 'Allocation actions' },
      v.status === 'measure'
        ? h(
            'button',
            { type: 'button', class: 'button', id: 'measure', onclick: () => post({ type: 'measure' }) },
            'Measure',
          )
        : '',
      h(
        'button',
        { type: 'button', class: 'button secondary', id: 'reload', onclick: () => post({ type: 'reload' }) },
        'Reload',
      ),
    ),
  );
  root.append(header);
  if (v.status !== 'ok') {
    const what =
      v.status === 'measure'
        ? `${v.missing.errors} (tensor, candidate) errors and ${v.missing.klds} KL divergences are not measured yet. Measure runs bitsmith allocate on this recipe (cached beside it).`
        : "The recipe's allocate cannot be solved:";
    root.append(
      h(
        'section',
        { class: 'summary', id: 'allocation-status', 'aria-label': 'Status' },
        h('p', undefined, what),
        v.messages.map((m) => h('p', { class: v.status === 'error' ? 'error-text' : '' }, m)),
      ),
    );
    notify = createNotices(root);
    return;
  }
  const c = v.chosen!;
  root.append(
    h(
      'section',
      { class: 'summary', 'aria-label': 'Summary' },
      definitionList([
        ['Mix', h('span', { id: 'allocation-mix' }, mix(c.counts))],
        [
          'Size',
          `${formatBytes(c.bytes)} (${formatBpw(c.bpw)} bpw)${v.budget ? ` of the budget ${formatBytes(v.budget.bytes)} (${formatBpw(v.budget.bpw)} bpw)` : ''}`,
        ],
        ['Achievable', `${formatBytes(v.minBytes)} – ${formatBytes(v.maxBytes)}`],
        [
          'Predicted error',
          `${formatNumber(c.error)} (${v.metric === 'weight' ? '||ΔW||²' : 'nats of KL'}), ${c.optimal ? 'optimal' : `relaxation bound ${formatNumber(c.bound)}`}`,
        ],
        ['Metric', `${v.metric}, granularity ${v.granularity}, candidates ${v.candidates.join(' ')}`],
        ...(v.measured
          ? [
              ['Measured (last run)', `KL ${formatNumber(v.measured.klMean)} at ${formatBpw(v.measured.bpw)} bpw`] as [
                string,
                string,
              ],
            ]
          : []),
      ]),
    ),
  );

  const logToggle = h('input', { type: 'checkbox', id: 'log-scale', checked: state.logScale !== false });
  logToggle.addEventListener('change', () => {
    save({ logScale: logToggle.checked });
    draw();
  });
  preview = h(
    'div',
    { class: 'frontier-preview', id: 'frontier-preview', 'aria-live': 'polite' },
    h('p', undefined, 'Click a frontier point to preview its mix.'),
  );
  root.append(
    h(
      'section',
      { class: 'charts', 'aria-label': 'Charts' },
      h('div', { class: 'chart-toolbar' }, h('label', undefined, logToggle, ' Log scale')),
      frontierSlot.figure,
      preview,
      heatmapSlot.figure,
    ),
  );

  // Sensitivity: one column per candidate, the chosen one marked.
  const count = h('span', { class: 'count', id: 'allocation-count', 'aria-live': 'polite' });
  const table = new DataTable<Row>({
    id: 'sensitivity-table',
    caption: 'Predicted error of every candidate per tensor; the chosen candidate is marked',
    columns: [
      {
        id: 'name',
        label: 'Tensor',
        sortValue: (t) => t.name,
        render: (t) => h('span', { class: 'tensor-name' }, t.name),
      },
      {
        id: 'format',
        label: 'Chosen',
        sortValue: (t) => t.bpw,
        render: (t) => (t.pinned ? `${t.format} (pinned)` : t.format),
        firstDirection: 'descending',
      },
      {
        id: 'bpw',
        label: 'bpw',
        numeric: true,
        sortValue: (t) => t.bpw,
        render: (t) => formatBpw(t.bpw),
        firstDirection: 'descending',
      },
      ...v.candidates.map((f) => ({
        id: `c-${f}`,
        label: f,
        numeric: true,
        firstDirection: 'descending' as const,
        title: `Predicted error of ${f} for each tensor`,
        sortValue: (t: Row) => t.candidates.find((x) => x.format === f)?.error ?? -1,
        render: (t: Row) => {
          const cand = t.candidates.find((x) => x.format === f);
          if (!cand) {
            const ex = t.excluded.find((x) => x.format === f);
            return h(
              'span',
              { class: 'muted', title: ex?.reason ?? (t.pinned ? 'pinned' : '') },
              ex ? 'excluded' : '–',
            );
          }
          return h(
            'span',
            { class: f === t.format ? 'chosen' : '', title: `${formatBytes(cand.bytes)}` },
            `${formatNumber(cand.error, 3)}${f === t.format ? ' ●' : ''}`,
          );
        },
      })),
    ],
    rowKey: (t) => t.name,
    keyAttribute: 'data-tensor',
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
  const apply = () => {
    const f = makeNameFilter(filter.value);
    table.setFilter((t) => f.test(t.name));
    save({ filter: filter.value });
  };
  filter.addEventListener('input', apply);
  table.setRows(v.tensors);
  apply();
  root.append(
    h(
      'section',
      { class: 'table-pane', 'aria-labelledby': 'sensitivity-h' },
      h('div', { class: 'section-header' }, h('h2', { id: 'sensitivity-h' }, 'Sensitivity'), count),
      h('div', { class: 'filters' }, h('label', { for: 'tensor-filter' }, 'Filter'), filter),
      h('div', { class: 'table-scroll' }, table.element),
    ),
  );
  notify = createNotices(root);
  draw();
}

serve('allocation', {
  data: (message) => render(message.view),
  error: (message) => showError(root, message.title, message.message, message.file, () => post({ type: 'reload' })),
  notice: (message) => notify(message.message, message.level),
});
