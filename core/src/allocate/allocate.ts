// The allocation from measured figures: each group's candidates get the summed bytes and
// error of their members, the solver picks, and the result names every tensor's format,
// whether it was pinned, and the predicted error. Without every needed figure it lists
// what is missing (the CLI measures exactly that; the editor says measuring is needed).

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
}

export interface AllocatedTensor {
  index: number;
  name: string;
  format: string;
  bytes: number;
  /** Predicted error (the metric's units); undefined for pinned tensors. */
  error?: number;
  pinned: boolean;
  /** Output metric without a Hessian for this tensor: the weight error, scaled (see errorOf). */
  estimated?: boolean;
}

export interface AllocationResult {
  metric: AllocMetric;
  /** Per plan tensor index, the chosen format (free tensors only). */
  formats: Map<number, string>;
  tensors: AllocatedTensor[];
  solution: AllocSolution;
  /** Formats by how many tensors got them (free and pinned). */
  counts: Record<string, number>;
  /** Scale applied to weight errors of tensors without output error (output metric). */
  weightToOutput?: number;
}

/** The (tensor, candidate) pairs the table lacks. */
export function missingMeasurements(recipe: Recipe, plan: Plan, setup: AllocationSetup, table: MeasurementTable | undefined): MissingMeasurement[] {
  const out: MissingMeasurement[] = [];
  for (const g of setup.groups) {
    for (const m of g.members) {
      const f = setup.free[m];
      const values = tensorValues(recipe, plan.tensors[f.index].matchedRules);
      for (const format of g.formats) {
        const key = candidateKey(f.name, values, format);
        if (!table?.entries[key]) out.push({ index: f.index, tensor: f.name, format, key });
      }
    }
  }
  return out;
}

/**
 * The allocation at the setup's budget (or `budgetBytes`), from a table holding every
 * needed figure (check with missingMeasurements first). Throws when one is missing.
 */
export function allocate(recipe: Recipe, plan: Plan, setup: AllocationSetup, table: MeasurementTable, metric: AllocMetric, budgetBytes = setup.budgetBytes): AllocationResult {
  if (budgetBytes === undefined) throw new Error('allocate needs a budget');
  const { items, entryOf, weightToOutput } = buildItems(recipe, plan, setup, table, metric);
  const solution = solveAllocation({ items, budgetBytes, fixedBytes: setup.fixedBytes });
  return result(plan, setup, items, entryOf, solution, metric, weightToOutput);
}

/** Solutions over `points` budgets from the smallest achievable size to the largest useful one. */
export function frontier(recipe: Recipe, plan: Plan, setup: AllocationSetup, table: MeasurementTable, metric: AllocMetric, points = 12): AllocSolution[] {
  const { items } = buildItems(recipe, plan, setup, table, metric);
  const budgets = Array.from({ length: points }, (_, i) => Math.round(setup.minBytes + ((setup.maxBytes - setup.minBytes) * i) / Math.max(1, points - 1)));
  return allocationFrontier({ items, fixedBytes: setup.fixedBytes }, budgets);
}

function buildItems(recipe: Recipe, plan: Plan, setup: AllocationSetup, table: MeasurementTable, metric: AllocMetric) {
  if (metric === 'kld') throw new Error('metric kld is not measured yet: use metric weight or metric output');
  const entryOf = (m: number, format: string): MeasurementEntry => {
    const f = setup.free[m];
    const key = candidateKey(f.name, tensorValues(recipe, plan.tensors[f.index].matchedRules), format);
    const e = table.entries[key];
    if (!e) throw new Error(`no measurement of ${f.name} as ${format}`);
    return e;
  };
  // The output metric needs every tensor's error in one unit. Tensors the forward pass does
  // not see (embeddings, the output head) have only the weight error: scale it by the
  // median output/weight ratio of the tensors that have both.
  let weightToOutput: number | undefined;
  if (metric === 'output') {
    const ratios: number[] = [];
    for (const e of Object.values(table.entries)) if (e.outputErrorSum !== undefined && e.squaredError > 0) ratios.push(e.outputErrorSum / e.squaredError);
    ratios.sort((a, b) => a - b);
    weightToOutput = ratios.length ? ratios[Math.floor(ratios.length / 2)] : 1;
  }
  const errorOf = (e: MeasurementEntry) => metric === 'output' ? e.outputErrorSum ?? e.squaredError * weightToOutput! : e.squaredError;
  const items: AllocItem[] = setup.groups.map((g) => ({
    id: g.id,
    candidates: g.formats.map((format) => {
      let bytes = 0, error = 0;
      for (const m of g.members) {
        const e = entryOf(m, format);
        bytes += setup.free[m].candidates.find((c) => c.format === format)!.bytes;
        error += errorOf(e);
      }
      return { key: format, bytes, error };
    }),
  }));
  return { items, entryOf: (m: number, format: string) => ({ e: entryOf(m, format), error: errorOf(entryOf(m, format)) }), weightToOutput };
}

function result(plan: Plan, setup: AllocationSetup, items: AllocItem[], entryOf: (m: number, f: string) => { e: MeasurementEntry; error: number },
  solution: AllocSolution, metric: AllocMetric, weightToOutput: number | undefined): AllocationResult {
  const formats = new Map<number, string>();
  const tensors: AllocatedTensor[] = [];
  const counts: Record<string, number> = {};
  setup.groups.forEach((g, gi) => {
    const format = items[gi].candidates[solution.choice[gi]].key;
    for (const m of g.members) {
      const f = setup.free[m];
      const { e, error } = entryOf(m, format);
      formats.set(f.index, format);
      tensors.push({ index: f.index, name: f.name, format, bytes: f.candidates.find((c) => c.format === format)!.bytes, error, pinned: false, estimated: metric === 'output' && e.outputErrorSum === undefined ? true : undefined });
      counts[format] = (counts[format] ?? 0) + 1;
    }
  });
  for (const p of setup.pinned) {
    tensors.push({ index: p.index, name: p.name, format: p.format, bytes: plan.tensors[p.index].bytesOut, pinned: true });
    counts[p.format] = (counts[p.format] ?? 0) + 1;
  }
  tensors.sort((a, b) => a.index - b.index);
  return { metric, formats, tensors, solution, counts, weightToOutput };
}
