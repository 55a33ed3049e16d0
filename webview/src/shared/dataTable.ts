/// <reference lib="dom" />
// An accessible sortable table: a real <table> with <th scope>, sort buttons in the headers
// (Enter/Space come with the button), aria-sort on the sorted column, and rows that take
// focus one at a time (roving tabindex: arrows, Home/End, PageUp/PageDown move, Enter/Space
// activate). Rows are built once and reordered, so sorting and filtering stay cheap.
import { h, clear } from './dom';
import { sortRows, type SortDirection, type SortValue } from './table';

export interface Column<T> {
  id: string;
  label: string;
  /** Longer description (header tooltip and accessible description). */
  title?: string;
  numeric?: boolean;
  sortValue: (row: T) => SortValue;
  render: (row: T) => string | Node;
  /** Direction of the first click on this header (numbers usually descending). */
  firstDirection?: SortDirection;
}

export interface SortState {
  column: string;
  direction: SortDirection;
}

export interface DataTableOptions<T> {
  id: string;
  caption: string;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  /** Attribute holding the row key, e.g. 'data-tensor'. */
  keyAttribute: string;
  rowClass?: (row: T) => string | undefined;
  onActivate?: (row: T) => void;
  onSortChange?: (sort: SortState | undefined) => void;
  /** Called after each render with the number of visible and total rows. */
  onRender?: (visible: number, total: number) => void;
  emptyText?: string;
  sort?: SortState;
}

export class DataTable<T> {
  readonly element: HTMLTableElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly headers = new Map<string, HTMLTableCellElement>();
  private rows: T[] = [];
  private rowElements = new Map<string, HTMLTableRowElement>();
  private filter: (row: T) => boolean = () => true;
  private visible: T[] = [];
  private selectedKey: string | undefined;
  private focusKey: string | undefined;
  private sortState: SortState | undefined;

  constructor(private readonly options: DataTableOptions<T>) {
    this.sortState =
      options.sort && options.columns.some((c) => c.id === options.sort!.column) ? options.sort : undefined;
    const headRow = h('tr');
    for (const column of options.columns) {
      const button = h(
        'button',
        { type: 'button', class: 'sort-button', title: column.title, onclick: () => this.toggleSort(column) },
        h('span', { class: 'sort-label' }, column.label),
        h('span', { class: 'sort-indicator', 'aria-hidden': 'true' }),
      );
      const th = h(
        'th',
        { scope: 'col', 'data-column': column.id, class: column.numeric ? 'numeric' : undefined },
        button,
      );
      this.headers.set(column.id, th);
      headRow.appendChild(th);
    }
    this.tbody = h('tbody');
    this.tbody.addEventListener('keydown', (e) => this.onKeyDown(e));
    this.tbody.addEventListener('click', (e) => {
      const row = (e.target as Element).closest('tr[data-key]') as HTMLTableRowElement | null;
      if (row) this.activate(row.dataset.key!);
    });
    this.element = h(
      'table',
      { id: options.id, class: options.onActivate ? 'data-grid activatable' : 'data-grid' },
      h('caption', { class: 'visually-hidden' }, options.caption),
      h('thead', undefined, headRow),
      this.tbody,
    );
    this.updateHeaders();
  }

  get sort(): SortState | undefined {
    return this.sortState;
  }

  setRows(rows: T[]): void {
    this.rows = rows;
    this.rowElements = new Map();
    this.render();
  }

  setFilter(filter: (row: T) => boolean): void {
    this.filter = filter;
    this.render();
  }

  /** Keys of the visible rows in display order (what an export of "the table" means). */
  visibleKeys(): string[] {
    return this.visible.map(this.options.rowKey);
  }

  /** Marks a row as selected (aria-current) without activating it; scrolls it into view. */
  select(key: string | undefined, scroll = true): void {
    if (this.selectedKey) this.rowElements.get(this.selectedKey)?.removeAttribute('aria-current');
    this.selectedKey = key;
    if (key === undefined) return;
    const el = this.rowElements.get(key);
    if (!el) return;
    el.setAttribute('aria-current', 'true');
    this.setFocusKey(key);
    if (scroll) el.scrollIntoView({ block: 'nearest' });
  }

  private activate(key: string): void {
    const row = this.rows.find((r) => this.options.rowKey(r) === key);
    if (!row) return;
    this.select(key, false);
    this.options.onActivate?.(row);
  }

  private toggleSort(column: Column<T>): void {
    const current = this.sortState;
    if (current?.column === column.id) {
      const first = column.firstDirection ?? 'ascending';
      // first direction -> the other -> unsorted (the report's own order)
      this.sortState =
        current.direction === first
          ? { column: column.id, direction: first === 'ascending' ? 'descending' : 'ascending' }
          : undefined;
    } else {
      this.sortState = { column: column.id, direction: column.firstDirection ?? 'ascending' };
    }
    this.updateHeaders();
    this.render();
    this.options.onSortChange?.(this.sortState);
  }

  private updateHeaders(): void {
    for (const [id, th] of this.headers) {
      const indicator = th.querySelector('.sort-indicator')!;
      if (this.sortState?.column === id) {
        th.setAttribute('aria-sort', this.sortState.direction);
        indicator.textContent = this.sortState.direction === 'ascending' ? '▲' : '▼';
      } else {
        th.removeAttribute('aria-sort');
        indicator.textContent = '';
      }
    }
  }

  private rowElement(row: T): HTMLTableRowElement {
    const key = this.options.rowKey(row);
    let tr = this.rowElements.get(key);
    if (!tr) {
      tr = h('tr', {
        'data-key': key,
        [this.options.keyAttribute]: key,
        tabindex: -1,
        class: this.options.rowClass?.(row),
      });
      for (const [i, column] of this.options.columns.entries()) {
        const content = column.render(row);
        const cell = i === 0 ? h('th', { scope: 'row' }) : h('td');
        if (column.numeric) cell.classList.add('numeric');
        cell.append(content);
        tr.appendChild(cell);
      }
      if (key === this.selectedKey) tr.setAttribute('aria-current', 'true');
      this.rowElements.set(key, tr);
    }
    return tr;
  }

  private render(): void {
    const filtered = this.rows.filter(this.filter);
    const column = this.sortState && this.options.columns.find((c) => c.id === this.sortState!.column);
    this.visible = column ? sortRows(filtered, column.sortValue, this.sortState!.direction) : filtered;
    const fragment = document.createDocumentFragment();
    for (const row of this.visible) fragment.appendChild(this.rowElement(row));
    clear(this.tbody);
    if (!this.visible.length) {
      fragment.appendChild(
        h(
          'tr',
          { class: 'empty-row' },
          h('td', { colspan: this.options.columns.length }, this.options.emptyText ?? 'No rows match the filter.'),
        ),
      );
    }
    this.tbody.appendChild(fragment);
    const keys = this.visibleKeys();
    this.setFocusKey(
      this.focusKey && keys.includes(this.focusKey)
        ? this.focusKey
        : this.selectedKey && keys.includes(this.selectedKey)
          ? this.selectedKey
          : keys[0],
    );
    this.options.onRender?.(this.visible.length, this.rows.length);
  }

  /** Exactly one visible row is in the tab order. */
  private setFocusKey(key: string | undefined): void {
    if (this.focusKey) this.rowElements.get(this.focusKey)?.setAttribute('tabindex', '-1');
    this.focusKey = key;
    if (key) this.rowElements.get(key)?.setAttribute('tabindex', '0');
  }

  private onKeyDown(e: KeyboardEvent): void {
    const row = (e.target as Element).closest('tr[data-key]') as HTMLTableRowElement | null;
    if (!row) return;
    const keys = this.visibleKeys();
    const index = keys.indexOf(row.dataset.key!);
    let next: number | undefined;
    switch (e.key) {
      case 'ArrowDown':
        next = Math.min(keys.length - 1, index + 1);
        break;
      case 'ArrowUp':
        next = Math.max(0, index - 1);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = keys.length - 1;
        break;
      case 'PageDown':
        next = Math.min(keys.length - 1, index + 10);
        break;
      case 'PageUp':
        next = Math.max(0, index - 10);
        break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.activate(row.dataset.key!);
        return;
      default:
        return;
    }
    e.preventDefault();
    const key = keys[next];
    this.setFocusKey(key);
    this.rowElements.get(key)?.focus();
  }
}
