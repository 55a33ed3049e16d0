// The allocation solver: one candidate per item (tensor, or tensor role of a layer) so that
// the summed error is least and the summed bytes fit the budget, a multiple-choice knapsack.
//
// 1. Each item's candidates reduce to their Pareto front (fewer bytes, or less error) and
//    its lower convex hull. The Lagrangian relaxation over the hulls is solved exactly by
//    taking hull segments in order of error saved per byte until the budget is spent:
//    its value is a lower bound on every allocation's error, and the slope where it stops
//    (lambda) is the price of a byte.
// 2. The repair is exact on a core: the items whose hull segments are priced nearest
//    lambda (where the relaxation's choice is in doubt) get every Pareto candidate in a
//    dynamic programme over (bytes, error) lists with dominated states pruned, which needs
//    no rounding of byte counts; the other items keep the relaxation's choice. With every
//    item in the core the result is optimal. The gap to the bound is reported either way.
// Everything is ordered by (value, index): the same problem gives the same allocation.

import { checkDeadline } from '../analysis/deadline';

export interface AllocCandidate {
  /** What the candidate is (a format name); opaque to the solver. */
  key: string;
  bytes: number;
  /** Additive error (comparable across items: the measurement's job). */
  error: number;
}

export interface AllocItem {
  id: string;
  candidates: AllocCandidate[];
}

export interface AllocProblem {
  items: AllocItem[];
  /** Total bytes allowed, pinned bytes included. */
  budgetBytes: number;
  /** Bytes outside the solver's choice (pinned and kept tensors). */
  fixedBytes?: number;
}

export interface SolveOptions {
  /** Items solved exactly in the repair (default 24; every item when there are at most 64). */
  coreSize?: number;
  /** Candidates a core item may move from the relaxation's choice, along its Pareto front,
   * when not every item is in the core (default 2; all when every item is). */
  window?: number;
  /** Cap on the dynamic programme's list of non-dominated states (default 20,000). */
  maxStates?: number;
}

export interface AllocSolution {
  feasible: boolean;
  /** Per item, the index of the chosen candidate in its `candidates` (infeasible: the smallest). */
  choice: number[];
  /** Bytes of the allocation, fixed bytes included. */
  bytes: number;
  error: number;
  /** The Lagrangian (convex hull) relaxation's error: no allocation within the budget does better. */
  bound: number;
  /** error - bound: how far from the relaxation the allocation is at most from the optimum. */
  gap: number;
  /** True when the repair covered every item: the allocation is optimal. */
  optimal: boolean;
  /** Price of a byte at the relaxation's optimum (error saved per byte by the next upgrade). */
  lambda: number;
  /** The smallest achievable bytes (every item at its smallest candidate, fixed bytes included). */
  minBytes: number;
  /** The largest useful bytes (every item at its least-error candidate). */
  maxBytes: number;
  coreItems: number;
}

interface Prepared {
  /** Candidate indices on the Pareto front, by bytes ascending (error strictly descending). */
  pareto: number[];
  /** Indices (into pareto) of the lower convex hull. */
  hull: number[];
}

function prepare(item: AllocItem, where: string): Prepared {
  if (item.candidates.length === 0) throw new Error(`${where}: item ${item.id} has no candidate`);
  item.candidates.forEach((c, i) => {
    if (!(Number.isFinite(c.bytes) && c.bytes >= 0) || !(Number.isFinite(c.error) && c.error >= 0)) {
      throw new Error(`${where}: item ${item.id}, candidate ${c.key} (#${i}): bytes and error must be finite and >= 0`);
    }
  });
  const order = item.candidates
    .map((_, i) => i)
    .sort(
      (a, b) =>
        item.candidates[a].bytes - item.candidates[b].bytes ||
        item.candidates[a].error - item.candidates[b].error ||
        a - b,
    );
  const pareto: number[] = [];
  for (const i of order) {
    const last = pareto.length ? item.candidates[pareto[pareto.length - 1]] : undefined;
    if (!last || item.candidates[i].error < last.error) pareto.push(i);
  }
  // Lower convex hull of the front (monotone chain: drop a point that lies on or above the
  // segment joining its neighbours).
  const hull: number[] = [];
  const pt = (k: number) => item.candidates[pareto[k]];
  for (let k = 0; k < pareto.length; k++) {
    while (hull.length >= 2) {
      const a = pt(hull[hull.length - 2]),
        b = pt(hull[hull.length - 1]),
        c = pt(k);
      const cross = (b.bytes - a.bytes) * (c.error - a.error) - (b.error - a.error) * (c.bytes - a.bytes);
      if (cross <= 0) hull.pop();
      else break;
    }
    hull.push(k);
  }
  return { pareto, hull };
}

interface Segment {
  item: number;
  /** Hull position the segment starts from. */
  from: number;
  bytes: number;
  saved: number;
  efficiency: number;
}

export function solveAllocation(problem: AllocProblem, options: SolveOptions = {}): AllocSolution {
  const coreSize = options.coreSize ?? 24;
  const maxStates = options.maxStates ?? 20_000;
  const { items } = problem;
  const fixed = problem.fixedBytes ?? 0;
  const prep = items.map((it, i) => prepare(it, `allocation item ${i}`));
  const cand = (i: number, paretoPos: number) => items[i].candidates[prep[i].pareto[paretoPos]];
  const hullCand = (i: number, h: number) => cand(i, prep[i].hull[h]);

  let minBytes = fixed,
    maxBytes = fixed,
    baseError = 0;
  for (let i = 0; i < items.length; i++) {
    minBytes += hullCand(i, 0).bytes;
    baseError += hullCand(i, 0).error;
    maxBytes += cand(i, prep[i].pareto.length - 1).bytes;
  }
  const smallest = prep.map((p) => p.pareto[0]);
  if (minBytes > problem.budgetBytes) {
    return {
      feasible: false,
      choice: smallest,
      bytes: minBytes,
      error: baseError,
      bound: Infinity,
      gap: Infinity,
      optimal: false,
      lambda: Infinity,
      minBytes,
      maxBytes,
      coreItems: 0,
    };
  }

  // 1. The relaxation: hull segments by efficiency, descending (per item they already are).
  const segments: Segment[] = [];
  for (let i = 0; i < items.length; i++) {
    const h = prep[i].hull;
    for (let k = 0; k + 1 < h.length; k++) {
      const a = hullCand(i, k),
        b = hullCand(i, k + 1);
      const bytes = b.bytes - a.bytes,
        saved = a.error - b.error;
      segments.push({ item: i, from: k, bytes, saved, efficiency: bytes > 0 ? saved / bytes : Infinity });
    }
  }
  segments.sort((s, t) => t.efficiency - s.efficiency || s.item - t.item || s.from - t.from);
  const hullPos = new Array<number>(items.length).fill(0);
  let slack = problem.budgetBytes - minBytes;
  let bound = baseError;
  let lambda = 0;
  let critical = -1;
  let next = 0;
  for (; next < segments.length; next++) {
    const s = segments[next];
    if (s.bytes <= slack) {
      slack -= s.bytes;
      bound -= s.saved;
      hullPos[s.item] = s.from + 1;
    } else {
      bound -= s.saved * (slack / s.bytes);
      lambda = s.efficiency;
      critical = s.item;
      break;
    }
  }
  // A feasible start: the relaxation's integral part, then later segments that still fit.
  const start = hullPos.slice();
  let startSlack = slack;
  for (let k = next + 1; k < segments.length; k++) {
    const s = segments[k];
    if (start[s.item] === s.from && s.bytes <= startSlack) {
      startSlack -= s.bytes;
      start[s.item] = s.from + 1;
    }
  }
  const startChoice = start.map((h, i) => prep[i].hull[h]); // pareto positions

  // 2. The repair: exact over the core, the others as the relaxation left them.
  let core: number[];
  if (items.length <= Math.max(coreSize, options.coreSize === undefined ? 64 : 0)) {
    core = items.map((_, i) => i);
  } else {
    // Distance of an item's decision from the critical price: its next segment's and its
    // last taken segment's efficiency against lambda (log scale; the critical item first).
    const dist = items.map((_, i) => {
      if (i === critical) return -1;
      const h = prep[i].hull;
      let d = Infinity;
      for (const k of [hullPos[i] - 1, hullPos[i]]) {
        if (k < 0 || k + 1 >= h.length) continue;
        const a = hullCand(i, k),
          b = hullCand(i, k + 1);
        const e = b.bytes > a.bytes ? (a.error - b.error) / (b.bytes - a.bytes) : Infinity;
        const dd = lambda > 0 && e > 0 && Number.isFinite(e) ? Math.abs(Math.log(e / lambda)) : Infinity;
        d = Math.min(d, dd);
      }
      return d;
    });
    core = items
      .map((_, i) => i)
      .filter((i) => prep[i].pareto.length > 1)
      .sort((a, b) => dist[a] - dist[b] || a - b)
      .slice(0, coreSize)
      .sort((a, b) => a - b);
  }
  const inCore = new Array<boolean>(items.length).fill(false);
  for (const i of core) inCore[i] = true;
  let outsideBytes = fixed;
  const relaxed = hullPos.map((h, i) => prep[i].hull[h]);
  for (let i = 0; i < items.length; i++) {
    if (inCore[i]) continue;
    outsideBytes += cand(i, relaxed[i]).bytes;
  }
  const capacity = problem.budgetBytes - outsideBytes;
  // Every item in the core: all its candidates (exact). Otherwise a window around the
  // relaxation's choice keeps the programme small.
  const all = core.length === items.length;
  const win = options.window ?? 2;
  const ranges = core.map((i) =>
    all
      ? [0, prep[i].pareto.length]
      : [Math.max(0, relaxed[i] - win), Math.min(prep[i].pareto.length, relaxed[i] + win + 1)],
  );
  const dp = paretoDp(
    core.map((i, k) => prep[i].pareto.slice(ranges[k][0], ranges[k][1]).map((_, j) => cand(i, ranges[k][0] + j))),
    capacity,
    maxStates,
  );

  const total = (choice: number[]) => {
    let b = fixed,
      e = 0;
    for (let i = 0; i < items.length; i++) {
      b += cand(i, choice[i]).bytes;
      e += cand(i, choice[i]).error;
    }
    return { b, e };
  };
  let best = startChoice;
  let bestTotals = total(startChoice);
  if (dp) {
    const c = relaxed.slice();
    core.forEach((i, k) => (c[i] = ranges[k][0] + dp.choice[k]));
    const t = total(c);
    if (t.b <= problem.budgetBytes && (t.e < bestTotals.e || (t.e === bestTotals.e && t.b < bestTotals.b))) {
      best = c;
      bestTotals = t;
    }
  }
  const optimal = !!dp && dp.exact && core.length === items.length;
  // Rounding in the bound's sums must not report a negative gap.
  const gap = Math.max(0, bestTotals.e - bound);
  return {
    feasible: true,
    choice: best.map((p, i) => prep[i].pareto[p]),
    bytes: bestTotals.b,
    error: bestTotals.e,
    bound: Math.min(bound, bestTotals.e),
    gap,
    optimal,
    lambda,
    minBytes,
    maxBytes,
    coreItems: core.length,
  };
}

/** Exact multiple-choice knapsack over small lists: states (bytes, error) kept when no
 * other state has fewer-or-equal bytes and less-or-equal error. Each layer merges the
 * previous states shifted by each candidate (every shifted list is already sorted by bytes),
 * pruning dominated states as they come. */
function paretoDp(
  lists: AllocCandidate[][],
  capacity: number,
  maxStates: number,
): { choice: number[]; exact: boolean } | undefined {
  if (capacity < 0) return undefined;
  interface Layer {
    bytes: Float64Array;
    error: Float64Array;
    parent: Int32Array;
    pick: Int32Array;
    n: number;
  }
  const layers: Layer[] = [];
  let bytes: Float64Array = Float64Array.of(0),
    error: Float64Array = Float64Array.of(0),
    n = 1;
  let exact = true;
  for (const list of lists) {
    checkDeadline('solving the allocation');
    // Candidates by bytes, so ties in the merge resolve by the cheaper candidate first.
    const order = list
      .map((_, i) => i)
      .sort((a, b) => list[a].bytes - list[b].bytes || list[a].error - list[b].error || a - b);
    const k = order.length;
    const pos = new Int32Array(k);
    const cap = n * k;
    const nb = new Float64Array(cap),
      ne = new Float64Array(cap),
      np = new Int32Array(cap),
      nk = new Int32Array(cap);
    let m = 0;
    for (;;) {
      let bi = -1,
        bb = Infinity,
        be = Infinity;
      for (let j = 0; j < k; j++) {
        const p = pos[j];
        if (p >= n) continue;
        const c = list[order[j]];
        const b = bytes[p] + c.bytes;
        if (b > capacity) {
          pos[j] = n; // the rest of this shifted list is larger still
          continue;
        }
        const e = error[p] + c.error;
        if (b < bb || (b === bb && e < be)) {
          bi = j;
          bb = b;
          be = e;
        }
      }
      if (bi < 0) break;
      const p = pos[bi]++;
      if (m === 0 || be < ne[m - 1]) {
        nb[m] = bb;
        ne[m] = be;
        np[m] = p;
        nk[m] = order[bi];
        m++;
      }
    }
    if (m === 0) return undefined;
    let layer: Layer = { bytes: nb, error: ne, parent: np, pick: nk, n: m };
    if (m > maxStates) {
      // Thin evenly by bytes (the end points stay): no longer exact, still feasible.
      const step = m / maxStates;
      const t: Layer = {
        bytes: new Float64Array(maxStates),
        error: new Float64Array(maxStates),
        parent: new Int32Array(maxStates),
        pick: new Int32Array(maxStates),
        n: maxStates,
      };
      for (let q = 0; q < maxStates; q++) {
        const src = q === maxStates - 1 ? m - 1 : Math.floor(q * step);
        t.bytes[q] = nb[src];
        t.error[q] = ne[src];
        t.parent[q] = np[src];
        t.pick[q] = nk[src];
      }
      layer = t;
      exact = false;
    }
    layers.push(layer);
    bytes = layer.bytes;
    error = layer.error;
    n = layer.n;
  }
  // The least-error state is the last (error strictly decreases with bytes).
  let si = n - 1;
  const choice = new Array<number>(lists.length);
  for (let l = lists.length - 1; l >= 0; l--) {
    choice[l] = layers[l].pick[si];
    si = layers[l].parent[si];
  }
  return { choice, exact };
}

/** Solutions over a range of budgets (ascending bytes), for the size-error frontier. */
export function allocationFrontier(
  problem: Omit<AllocProblem, 'budgetBytes'>,
  budgets: number[],
  options: SolveOptions = {},
): AllocSolution[] {
  return budgets
    .slice()
    .sort((a, b) => a - b)
    .map((budgetBytes) => solveAllocation({ ...problem, budgetBytes }, options));
}
