// Sorting and filtering of table rows, without the DOM.
import { compilePattern } from '../../../core/src/analysis/pattern';

export type SortValue = string | number | undefined | null;
export type SortDirection = 'ascending' | 'descending';

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Numbers before strings; missing values (undefined, null, NaN) always last, whatever the direction. */
export function compareValues(a: SortValue, b: SortValue): number {
  const missingA = a === undefined || a === null || (typeof a === 'number' && Number.isNaN(a));
  const missingB = b === undefined || b === null || (typeof b === 'number' && Number.isNaN(b));
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return collator.compare(a as string, b as string);
}

/** A stable sort by `key`; names sort naturally (layers.2 before layers.10). Missing values stay last. */
export function sortRows<T>(rows: readonly T[], key: (row: T) => SortValue, direction: SortDirection): T[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, value: key(row) }))
    .sort((x, y) => {
      const missingX = x.value === undefined || x.value === null || Number.isNaN(x.value as number);
      const missingY = y.value === undefined || y.value === null || Number.isNaN(y.value as number);
      if (missingX || missingY) return missingX === missingY ? x.index - y.index : missingX ? 1 : -1;
      return sign * compareValues(x.value, y.value) || x.index - y.index;
    })
    .map((x) => x.row);
}

export interface NameFilter {
  test(name: string): boolean;
  /** Set when the text is an invalid pattern (the filter then matches nothing). */
  error?: string;
}

/**
 * A name filter from what the user typed: empty matches all; text with glob characters
 * (`* ? [ {`) or a `re:` prefix is a recipe pattern (the same semantics as `match`: `*`
 * within a segment, `**` across, dot-aligned tails, optional `.weight`); anything else is
 * a case-insensitive substring.
 */
export function makeNameFilter(text: string): NameFilter {
  const query = text.trim();
  if (!query) return { test: () => true };
  if (query.startsWith('re:') || /[*?[{]/.test(query)) {
    const pattern = compilePattern(query);
    return pattern.error ? { test: () => false, error: pattern.error } : { test: (name) => pattern.test(name) };
  }
  const needle = query.toLowerCase();
  return { test: (name) => name.toLowerCase().includes(needle) };
}
