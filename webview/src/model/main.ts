/// <reference lib="dom" />
// Entry of the Inspect Model webview (panel and read-only custom editor): the model's
// summary and a filterable, sortable table of its tensors, from the header only.
import { DataTable } from '../shared/dataTable';
import { clear, createNotices, definitionList, h, showError } from '../shared/dom';
import { formatBytes, formatCount, formatInteger, formatShape } from '../shared/format';
import type { ModelState, ModelView } from '../shared/messages';
import { makeNameFilter } from '../shared/table';
import { getState, post, serve, setState } from '../shared/vscodeApi';

type Row = ModelView['tensors'][number];

const root = document.getElementById('app')!;
let state: ModelState | undefined = getState<ModelState>('model');
let notify: ReturnType<typeof createNotices> = () => undefined;

function save(patch: Partial<ModelState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  setState(state);
}

function render(model: ModelView): void {
  if (!state || state.path !== model.path) state = { kind: 'model', path: model.path };
  setState(state);
  const count = h('span', { class: 'count', id: 'model-count', 'aria-live': 'polite' });
  const multiFile = model.files.length > 1 || new Set(model.tensors.map((t) => t.file)).size > 1;
  const table = new DataTable<Row>({
    id: 'model-table',
    caption: `Tensors of ${model.name}: shape, dtype, elements, bytes and file`,
    columns: [
      {
        id: 'name',
        label: 'Tensor',
        sortValue: (t) => t.name,
        render: (t) => h('span', { class: 'tensor-name' }, t.name),
      },
      {
        id: 'shape',
        label: 'Shape',
        sortValue: (t) => t.elements,
        render: (t) => formatShape(t.shape),
        firstDirection: 'descending',
        title: 'Sorted by number of elements',
      },
      { id: 'dtype', label: 'Dtype', sortValue: (t) => t.dtype, render: (t) => t.dtype },
      {
        id: 'elements',
        label: 'Elements',
        numeric: true,
        sortValue: (t) => t.elements,
        render: (t) => formatInteger(t.elements),
        firstDirection: 'descending',
      },
      {
        id: 'bytes',
        label: 'Size',
        numeric: true,
        sortValue: (t) => t.bytes,
        render: (t) => formatBytes(t.bytes),
        firstDirection: 'descending',
      },
      {
        id: 'file',
        label: 'File',
        sortValue: (t) => t.file,
        render: (t) => h('span', { title: `offset ${formatInteger(t.offset)}` }, t.file),
      },
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
    placeholder: 'q_proj, *.mlp.*, blk.{0..3}.**',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const dtypes = [...new Set(model.tensors.map((t) => t.dtype))];
  const dtypeSelect = h(
    'select',
    { id: 'dtype-filter' },
    h('option', { value: '' }, 'All dtypes'),
    dtypes.map((d) => h('option', { value: d }, d)),
  );
  const filterError = h('span', { class: 'filter-error', role: 'alert' });
  const apply = () => {
    const f = makeNameFilter(filter.value);
    filterError.textContent = f.error ?? '';
    const dtype = dtypeSelect.value;
    table.setFilter((t) => f.test(t.name) && (!dtype || t.dtype === dtype));
    save({ filter: filter.value });
  };
  filter.addEventListener('input', apply);
  dtypeSelect.addEventListener('change', apply);
  table.setRows(model.tensors);
  apply();

  clear(root);
  root.append(
    h(
      'header',
      { class: 'page-header' },
      h(
        'div',
        { class: 'title-block' },
        h('h1', undefined, model.name),
        h('p', { class: 'subtitle' }, h('code', undefined, model.path)),
      ),
      h(
        'div',
        { class: 'actions', role: 'toolbar', 'aria-label': 'Model actions' },
        h(
          'button',
          { type: 'button', class: 'button secondary', id: 'reload', onclick: () => post({ type: 'reload' }) },
          'Reload',
        ),
      ),
    ),
    h(
      'section',
      { class: 'summary', 'aria-label': 'Summary' },
      definitionList([
        ['Format', model.format],
        ['Architecture', model.architecture],
        ['Parameters', `${formatCount(model.parameters)} (${formatInteger(model.parameters)})`],
        ['Size', formatBytes(model.bytes)],
        ['Main dtype', model.dtype],
        ['Tensors', formatInteger(model.tensors.length)],
        ['Files', multiFile || model.files.length > 1 ? model.files.join(', ') : model.files[0]],
      ]),
    ),
    model.config.length
      ? h(
          'details',
          { class: 'config' },
          h('summary', undefined, `Configuration (${model.config.length} entries)`),
          definitionList(
            model.config.map(([k, v]) => [k, v]),
            'facts compact',
          ),
        )
      : '',
    h(
      'section',
      { class: 'table-pane', 'aria-labelledby': 'tensors-h' },
      h('div', { class: 'section-header' }, h('h2', { id: 'tensors-h' }, 'Tensors'), count),
      h(
        'div',
        { class: 'filters' },
        h('label', { for: 'tensor-filter' }, 'Filter'),
        filter,
        h('label', { for: 'dtype-filter' }, 'Dtype'),
        dtypeSelect,
        filterError,
      ),
      h('div', { class: 'table-scroll' }, table.element),
    ),
  );
  notify = createNotices(root);
}

serve('model', {
  data: (message) => render(message.model),
  error: (message) => showError(root, message.title, message.message, message.file, () => post({ type: 'reload' })),
  notice: (message) => notify(message.message, message.level),
});
