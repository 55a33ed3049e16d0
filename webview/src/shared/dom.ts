/// <reference lib="dom" />
// Small DOM builders (no innerHTML, no inline styles: the CSP forbids them) and the common
// pieces every panel uses: the error view and the notice live region.

// Arrays of children are flattened: a long list is passed as one array, never spread into a call.
type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
      continue;
    }
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

function applyAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, '').toLowerCase(), value);
    } else if (key === 'class') {
      el.setAttribute('class', String(value));
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A definition list from label/value pairs (values may be nodes); undefined values are skipped. */
export function definitionList(entries: [string, Child | Child[]][], className = 'facts'): HTMLDListElement {
  const dl = h('dl', { class: className });
  for (const [label, value] of entries) {
    if (value === undefined || value === null || value === false) continue;
    const div = h('div', { class: 'fact' }, h('dt', undefined, label));
    const dd = h('dd');
    append(dd, Array.isArray(value) ? value : [value]);
    div.appendChild(dd);
    dl.appendChild(div);
  }
  return dl;
}

/** Replaces the page with an error naming the file (missing report, unreadable model, ...). */
export function showError(
  root: HTMLElement,
  title: string,
  message: string,
  file: string,
  onReload?: () => void,
): void {
  clear(root);
  root.appendChild(
    h(
      'section',
      { class: 'error-view', role: 'alert' },
      h('h1', undefined, title),
      h('p', { class: 'error-message' }, message),
      h('p', { class: 'error-file' }, 'File: ', h('code', undefined, file)),
      onReload ? h('button', { type: 'button', class: 'button', onclick: onReload }, 'Try again') : null,
    ),
  );
}

/** A polite live region for short status lines; returns a function that shows one. */
export function createNotices(parent: HTMLElement): (message: string, level?: 'info' | 'warning' | 'error') => void {
  const region = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  parent.appendChild(region);
  let timer: number | undefined;
  return (message, level = 'info') => {
    region.textContent = message;
    region.setAttribute('data-level', level);
    if (timer !== undefined) window.clearTimeout(timer);
    timer = window.setTimeout(
      () => {
        region.textContent = '';
      },
      level === 'info' ? 6000 : 12000,
    );
  };
}

/** A collapsible data table: the text alternative of a chart. */
export function dataDetails(summary: string, headers: string[], rows: (string | number)[][]): HTMLDetailsElement {
  const table = h(
    'table',
    { class: 'data-table' },
    h(
      'thead',
      undefined,
      h(
        'tr',
        undefined,
        headers.map((label) => h('th', { scope: 'col' }, label)),
      ),
    ),
    h(
      'tbody',
      undefined,
      rows.map((row) =>
        h(
          'tr',
          undefined,
          row.map((cell, i) => (i === 0 ? h('th', { scope: 'row' }, String(cell)) : h('td', undefined, String(cell)))),
        ),
      ),
    ),
  );
  return h('details', { class: 'chart-data' }, h('summary', undefined, summary), table);
}
