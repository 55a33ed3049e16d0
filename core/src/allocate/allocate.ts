// The allocation from measured figures: each group's candidates get the summed bytes and
// error of their members, the solver picks, and the result names every tensor's format,
// whether it was pinned, and the predicted error. Without every needed figure it lists
// what is missing (the CLI measures exactly that; the editor says measuring is needed).

import { checkDeadline } from '../analysis/deadline';
import type { Recipe } from '../analysis/recipe';
import { tensorValues } from '../analysis/resolve';
import type { Plan } from '../plan';
import { candidateKey, type MeasurementEntry, type MeasurementTable } from './measurements';
import type { AllocationSetup } from './setup';
import { allocationFrontier, solveAllocation, type AllocItem, type AllocSolution } from './solver';

export type AllocMetric = 'weight' | 'output' | 'kld';

export interface MissingMeasurement {
  /** Index in plan.tensors. */
  index: number;
  tensor: string;
  format: string;
  key: string;
  /** error: bytes, weight and output error (one pass per format over many tensors);
   * kld: the end-to-end KL divergence with only this tensor quantized (one pass each). */
  kind: 'error' | 'kld';
}

/** The candidate whose KL divergence calibrates a tensor's output error (metric output):
 * the middle one by bytes, where the proxy is neither lost in noise nor saturated. */
export function kldReference(formats: string[], bytesOf: (format: string) => number): string {
  const sorted = formats.slice().sort((a, b) => bytesOf(a) - bytesOf(b) || a.localeCompare(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export interface AllocatedTensor {
  index: number;
  name: string;
  format: string;
  bytes: number;
  /** Predicted error (the metric's units); undefined for pinned tensors. */
  error?: number;
  pinned: boolean;
  /** Metric output: no KL divergence calibrates this tensor's proxy; the median scale does. */
  estimated?: boolean;
  /** Free tensors: every candidate's bytes and predicted error (the sensitivity table). */
  candidates?: { format: string; bytes: number; error: number }[];
}

/** One point of the size-error frontier. */
export interface FrontierPoint {
  budget: number;
  bytes: number;
  error: number;
  /** Formats by how many free tensors get them at this budget. */
  counts: Record<string, number>;
  feasible: boolean;
}

export interface AllocationResult {
  metric: AllocMetric;
  /** Per plan tensor index, the chosen format (free tensors only). */
  formats: Map<number, string>;
  tensors: AllocatedTensor[];
  solution: AllocSolution;
  /** Formats by how many tensors got them (free and pinned). */
  counts: Record<string, number>;
  /** Metric output: the median KL-per-proxy scale, used for tensors without their own. */
  weightToOutput?: number;
}

/** The (tensor, candidate) figures the table lacks for `metric`. */
export function missingMeasurements(
  recipe: Recipe,
  plan: Plan,
  setup: AllocationSetup,
  table: MeasurementTable | undefined,
  metric: AllocMetric,
): MissingMeasurement[] {
  const out: MissingMeasurement[] = [];
  for (const g of setup.groups) {
    checkDeadline(`reading the measurements of ${setup.free.length} tensors`);
    for (const m of g.members) {
      const f = setup.free[m];
      const values = tensorValues(recipe, plan.tensors[f.index].matchedRules);
      const ref =
        metric === 'output'
          ? kldReference(g.formats, (fmt) => f.candidates.find((c) => c.format === fmt)!.bytes)
          : undefined;
      for (const format of g.formats) {
        const key = candidateKey(f.name, values, format);
        const e = table?.entries[key];
        if (!e) out.push({ index: f.index, tensor: f.name, format, key, kind: 'error' });
        if ((metric === 'kld' || format === ref) && e?.kld === undefined)
          out.push({ index: f.index, tensor: f.name, format, key, kind: 'kld' });
      }
    }
  }
  return out;
}

/**
 * The allocation at the setup's budget (or `budgetBytes`), from a table holding every
 * needed figure (check with missingMeasurements first). Throws when one is missing.
 */
export function allocate(
  recipe: Recipe,
  plan: Plan,
  setup: AllocationSetup,
  table: MeasurementTable,
  metric: AllocMetric,
  budgetBytes = setup.budgetBytes,
): AllocationResult {
  if (budgetBytes === undefined) throw new Error('allocate needs a budget');
  const built = buildItems(recipe, plan, setup, table, metric);
  const solution = solveAllocation({ items: built.items, budgetBytes, fixedBytes: setup.fixedBytes });
  return result(plan, setup, built, solution, metric);
}

/** Solutions over `points` budgets from the smallest achievable size to the largest useful one. */
export function frontier(
  recipe: Recipe,
  plan: Plan,
  setup: AllocationSetup,
  table: MeasurementTable,
  metric: AllocMetric,
  points = 12,
): FrontierPoint[] {
  const { items } = buildItems(recipe, plan, setup, table, metric);
  const budgets = Array.from({ length: points }, (_, i) =>
    Math.round(setup.minBytes + ((setup.maxBytes - setup.minBytes) * i) / Math.max(1, points - 1)),
  );
  return allocationFrontier({ items, fixedBytes: setup.fixedBytes }, budgets).map((sol, i) => {
    const counts: Record<string, number> = {};
    setup.groups.forEach((g, gi) => {
      const f = items[gi].candidates[sol.choice[gi]].key;
      counts[f] = (counts[f] ?? 0) + g.members.length;
    });
    return { budget: budgets[i], bytes: sol.bytes, error: sol.error, counts, feasible: sol.feasible };
  });
}

/** The solver's items (one per group: each candidate's summed bytes and error), as
 * allocate() builds them; exported for benchmarks that time the solver alone. */
export function allocationItems(
  recipe: Recipe,
  plan: Plan,
  setup: AllocationSetup,
  table: MeasurementTable,
  metric: AllocMetric,
): AllocItem[] {
  return buildItems(recipe, plan, setup, table, metric).items;
}

/** Per free tensor (index into setup.free), each candidate's bytes and predicted error. */
type MemberFigures = Map<string, { bytes: number; error: number }>;

function buildItems(recipe: Recipe, plan: Plan, setup: AllocationSetup, table: MeasurementTable, metric: AllocMetric) {
  // Each member's entries, looked up once (its cascaded values make every candidate's key).
  const entries = new Map<number, Map<string, MeasurementEntry>>();
  for (const g of setup.groups) {
    for (const m of g.members) {
      const f = setup.free[m];
      const values = tensorValues(recipe, plan.tensors[f.index].matchedRules);
      const byFormat = new Map<string, MeasurementEntry>();
      for (const format of g.formats) {
        const e = table.entries[candidateKey(f.name, values, format)];
        if (!e) throw new Error(`no measurement of ${f.name} as ${format}`);
        byFormat.set(format, e);
      }
      entries.set(m, byFormat);
    }
  }
  const bytesOf = (m: number, format: string) => setup.free[m].candidates.find((c) => c.format === format)!.bytes;
  // metric output: tr(dW H dW^T) ranks one tensor's candidates well, but a unit of it in
  // one layer is not worth a unit in another. Each tensor's proxy is scaled so that its
  // reference candidate's value equals that candidate's measured KL divergence: every
  // item's error is then in nats of KL, summable across tensors. Tensors the forward pass
  // does not see (embeddings, the output head) use their weight error as the proxy.
  const scales = new Map<number, number>();
  let weightToOutput: number | undefined;
  if (metric === 'output') {
    const proxies: number[] = [];
    setup.groups.forEach((g) =>
      g.members.forEach((m) => {
        const ref = entries.get(m)!.get(kldReference(g.formats, (fmt) => bytesOf(m, fmt)))!;
        const proxy = ref.outputErrorSum ?? ref.squaredError;
        if (ref.kld !== undefined && proxy > 0 && ref.kld > 0) {
          scales.set(m, ref.kld / proxy);
          proxies.push(ref.kld / proxy);
        }
      }),
    );
    // A reference exact enough to show no KL (or no error): the median scale stands in.
    proxies.sort((a, b) => a - b);
    weightToOutput = proxies.length ? proxies[Math.floor(proxies.length / 2)] : 1;
  }
  const errorOf = (m: number, e: MeasurementEntry) => {
    if (metric === 'weight') return e.squaredError;
    if (metric === 'kld') {
      if (e.kld === undefined) throw new Error(`no KL divergence measured for ${e.tensor} as ${e.format}`);
      return e.kld;
    }
    return (e.outputErrorSum ?? e.squaredError) * (scales.get(m) ?? weightToOutput!);
  };
  const figures = new Map<number, MemberFigures>();
  for (const [m, byFormat] of entries) {
    figures.set(
      m,
      new Map([...byFormat].map(([format, e]) => [format, { bytes: bytesOf(m, format), error: errorOf(m, e) }])),
    );
  }
  const items: AllocItem[] = setup.groups.map((g) => ({
    id: g.id,
    candidates: g.formats.map((format) => {
      let bytes = 0,
        error = 0;
      for (const m of g.members) {
        const x = figures.get(m)!.get(format)!;
        bytes += x.bytes;
        error += x.error;
      }
      return { key: format, bytes, error };
    }),
  }));
  const estimated = new Set(metric === 'output' ? [...entries.keys()].filter((m) => !scales.has(m)) : []);
  return { items, figures, estimated, weightToOutput };
}

function result(
  plan: Plan,
  setup: AllocationSetup,
  built: ReturnType<typeof buildItems>,
  solution: AllocSolution,
  metric: AllocMetric,
): AllocationResult {
  const { items, figures, estimated, weightToOutput } = built;
  const formats = new Map<number, string>();
  const tensors: AllocatedTensor[] = [];
  const counts: Record<string, number> = {};
  setup.groups.forEach((g, gi) => {
    const format = items[gi].candidates[solution.choice[gi]].key;
    for (const m of g.members) {
      const f = setup.free[m];
      const fig = figures.get(m)!;
      const chosen = fig.get(format)!;
      formats.set(f.index, format);
      const candidates = g.formats.map((fmt) => ({ format: fmt, ...fig.get(fmt)! }));
      tensors.push({
        index: f.index,
        name: f.name,
        format,
        bytes: chosen.bytes,
        error: chosen.error,
        pinned: false,
        estimated: estimated.has(m) || undefined,
        candidates,
      });
      counts[format] = (counts[format] ?? 0) + 1;
    }
  });
  for (const p of setup.pinned) {
    tensors.push({
      index: p.index,
      name: p.name,
      format: p.format,
      bytes: plan.tensors[p.index].bytesOut,
      pinned: true,
    });
    counts[p.format] = (counts[p.format] ?? 0) + 1;
  }
  tensors.sort((a, b) => a.index - b.index);
  return { metric, formats, tensors, solution, counts, weightToOutput };
}

/** The allocation as explicit `match` rules, one per chosen format (pinned tensors stay as
 * their own rules say): what the code action writes in place of `allocate`. */
export function allocationRules(result: AllocationResult): string {
  const byFormat = new Map<string, string[]>();
  for (const t of result.tensors) {
    if (t.pinned) continue;
    const name = t.name.replace(/\.weight$/, '');
    const list = byFormat.get(t.format);
    if (list) list.push(name);
    else byFormat.set(t.format, [name]);
  }
  return [...byFormat.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(
      ([format, names]) =>
        `# allocate (${result.metric}): ${names.length} tensor${names.length === 1 ? '' : 's'}\nmatch ${names.map((n) => `"${n}"`).join(', ')} { format ${format} }`,
    )
    .join('\n\n');
}

/**
 * The recipe text with `allocate` replaced by the allocation at `budgetBytes` as match rules
 * and the budget set to that size: what a frontier point means, as a recipe to read or save.
 */
export function recipeAtBudget(
  text: string,
  recipe: Recipe,
  plan: Plan,
  setup: AllocationSetup,
  table: MeasurementTable,
  metric: AllocMetric,
  budgetBytes: number,
): string {
  const r = allocate(recipe, plan, setup, table, metric, budgetBytes);
  const edits: { start: number; end: number; text: string }[] = [
    { start: recipe.allocate!.stmt.start, end: recipe.allocate!.stmt.end, text: allocationRules(r) },
  ];
  if (recipe.budget)
    edits.push({ start: recipe.budget.stmt.start, end: recipe.budget.stmt.end, text: `budget ${budgetBytes} B` });
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
