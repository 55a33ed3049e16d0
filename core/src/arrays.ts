// Extremes and appends over arrays of any length. `Math.max(...a)` and `out.push(...a)` put
// every element on the call stack and throw RangeError past about 100,000 elements (a model
// with 130,000 tensors, a 150,000-token vocabulary); these loop instead. The lint forbids the
// spread forms everywhere.

/** The largest value, or `empty` for an empty array (NaN propagates as in Math.max). */
export function maxOf(values: Iterable<number>, empty = -Infinity): number {
  let m = empty;
  let first = true;
  for (const v of values) {
    if (first || v > m || Number.isNaN(v)) m = v;
    first = false;
    if (Number.isNaN(m)) return NaN;
  }
  return m;
}

/** The smallest value, or `empty` for an empty array (NaN propagates as in Math.min). */
export function minOf(values: Iterable<number>, empty = Infinity): number {
  let m = empty;
  let first = true;
  for (const v of values) {
    if (first || v < m || Number.isNaN(v)) m = v;
    first = false;
    if (Number.isNaN(m)) return NaN;
  }
  return m;
}

/** Appends every item of `items` to `out` and returns `out`. */
export function pushAll<T>(out: T[], ...lists: readonly (readonly T[])[]): T[] {
  for (const items of lists) for (const item of items) out.push(item);
  return out;
}
