// From a recipe with `allocate` and its plan to the allocation problem: which tensors the
// allocator chooses for (free), which are pinned (a `match` rule sets their format, or
// keeps them), every free tensor's candidates with their exact bytes (the same bit
// accounting as the plan), candidates that cannot hold a tensor (with the reason), and
// the budget checks that need no measurement (no budget, infeasible budget, a tensor no
// candidate can hold). A candidate the tensor's method does not run on (gptq into q2_k,
// hqq into a float grid) is excluded like one that does not fit its rows.
//
// The `defaults` format does not pin: it is the provisional format shown until the
// candidates are measured. Only floating-point weights (2-D and up) are free.

import { type Diagnostic, diag } from '../analysis/diagnostic';
import type { Recipe } from '../analysis/recipe';
import { isWeightTensor, planTensorWith, tensorValues } from '../analysis/resolve';
import type { QuantConfig } from '../analysis/bits';
import { rowMisfit } from '../analysis/checks';
import { gptqLimit } from '../analysis/executable';
import { methodGridProblem } from '../analysis/methodFit';
import type { Plan } from '../plan';
import { formatBytes } from '../analysis/checks';
import { maxOf, minOf } from '../arrays';

export interface AllocCandidateSpec {
  format: string;
  bytes: number;
}

export interface ExcludedCandidate {
  format: string;
  reason: string;
}

export interface FreeTensor {
  /** Index in plan.tensors. */
  index: number;
  name: string;
  shape: number[];
  /** Transformer block, when the name has one (`layers.N`, `blk.N`, `h.N`). */
  layer?: number;
  candidates: AllocCandidateSpec[];
  excluded: ExcludedCandidate[];
}

export interface PinnedTensor {
  index: number;
  name: string;
  /** The rule that pins it (its index in recipe.rules). */
  rule: number;
  format: string;
}

/** One decision of the solver: a tensor, or (granularity layer) every free tensor of a block. */
export interface AllocGroup {
  id: string;
  /** Indices into `free`. */
  members: number[];
  /** Candidate formats every member can take. */
  formats: string[];
}

export interface AllocationSetup {
  free: FreeTensor[];
  pinned: PinnedTensor[];
  groups: AllocGroup[];
  /** Bytes of every tensor outside the allocation (pinned, kept, 1-D). */
  fixedBytes: number;
  budgetBytes?: number;
  /** Every free tensor at its smallest candidate, plus the fixed bytes. */
  minBytes: number;
  maxBytes: number;
  diagnostics: Diagnostic[];
}

const LAYER = /(?:^|\.)(?:layers|blk|h|block|blocks)\.(\d+)\./;

export function layerOf(name: string): number | undefined {
  const m = LAYER.exec(name);
  return m ? Number(m[1]) : undefined;
}

function misfitText(format: string, config: QuantConfig, cols: number): string | undefined {
  const m = rowMisfit(config, cols);
  if (!m) return undefined;
  return m.prop === 'format'
    ? `${format} blocks hold ${m.unit} weights; rows of ${cols} do not divide`
    : `group ${m.unit} does not divide rows of ${cols}`;
}

export function allocationSetup(recipe: Recipe, plan: Plan): AllocationSetup | undefined {
  const alloc = recipe.allocate;
  if (!alloc) return undefined;
  const diagnostics: Diagnostic[] = [];
  const formats = [...new Set(alloc.formats.map((f) => f.name))];
  const free: FreeTensor[] = [];
  const pinned: PinnedTensor[] = [];
  let fixedBytes = 0;
  plan.tensors.forEach((tp, index) => {
    const t = tp.tensor;
    const by = tp.decidedBy.format;
    const pinRule = by !== undefined && recipe.rules[by]?.kind === 'match' ? by : undefined;
    if (!isWeightTensor(t) || pinRule !== undefined || tp.keepReason === 'not-quantizable') {
      if (pinRule !== undefined && isWeightTensor(t))
        pinned.push({
          index,
          name: t.name,
          rule: pinRule,
          format: tp.action === 'keep' ? 'keep' : tp.config!.format.name,
        });
      fixedBytes += tp.bytesOut;
      return;
    }
    const values = tensorValues(recipe, tp.matchedRules);
    const candidates: AllocCandidateSpec[] = [];
    const excluded: ExcludedCandidate[] = [];
    for (const format of formats) {
      const cp = planTensorWith(t, { ...values, format }, tp.matchedRules);
      // A candidate the tensor's method cannot run on is excluded, never run with another method.
      const methodWhy = cp.method.name === 'gptq' ? gptqLimit(cp)?.why : undefined;
      const grid = methodGridProblem(cp);
      const why = !cp.config
        ? `${format} cannot quantize this tensor`
        : (misfitText(format, cp.config, cp.cols) ??
          (methodWhy ? `method gptq ${methodWhy}` : grid?.severity === 'error' ? grid.message : undefined));
      if (why) excluded.push({ format, reason: why });
      else candidates.push({ format, bytes: cp.bytesOut });
    }
    free.push({ index, name: t.name, shape: t.shape, layer: layerOf(t.name), candidates, excluded });
  });

  const formatsSpan = alloc.formats.length
    ? { start: alloc.formats[0].span.start, end: alloc.formats[alloc.formats.length - 1].span.end }
    : alloc.stmt;
  const homeless = free.filter((f) => f.candidates.length === 0);
  if (homeless.length && formats.length) {
    const f = homeless[0];
    diagnostics.push(
      diag(
        'allocate/no-candidate',
        'error',
        formatsSpan,
        `No candidate can hold ${f.name} [${f.shape.join(', ')}]${homeless.length > 1 ? ` (and ${homeless.length - 1} more tensors)` : ''}: ${f.excluded.map((e) => e.reason).join('; ')}. Add a candidate that fits, or pin it with a match rule`,
      ),
    );
  }

  // Groups: one per tensor, or one per transformer block (tensors outside blocks alone).
  const groups: AllocGroup[] = [];
  if (alloc.granularity === 'layer') {
    const byLayer = new Map<string, number[]>();
    free.forEach((f, i) => {
      const key = f.layer !== undefined ? `layer ${f.layer}` : f.name;
      const list = byLayer.get(key);
      if (list) list.push(i);
      else byLayer.set(key, [i]);
    });
    for (const [id, members] of byLayer) {
      const ok = formats.filter((fmt) => members.every((m) => free[m].candidates.some((c) => c.format === fmt)));
      groups.push({ id, members, formats: ok });
      if (!ok.length && members.every((m) => free[m].candidates.length > 0)) {
        diagnostics.push(
          diag(
            'allocate/no-candidate',
            'error',
            formatsSpan,
            `granularity layer: no candidate fits every tensor of ${id} (${members
              .map((m) => free[m].name)
              .slice(0, 3)
              .join(
                ', ',
              )}${members.length > 3 ? ', ...' : ''}); use granularity tensor or add a format that fits them all`,
          ),
        );
      }
    }
  } else {
    free.forEach((f, i) => groups.push({ id: f.name, members: [i], formats: f.candidates.map((c) => c.format) }));
  }

  let minBytes = fixedBytes,
    maxBytes = fixedBytes;
  for (const g of groups) {
    const totals = g.formats.map((fmt) =>
      g.members.reduce((s, m) => s + free[m].candidates.find((c) => c.format === fmt)!.bytes, 0),
    );
    if (totals.length) {
      minBytes += minOf(totals);
      maxBytes += maxOf(totals);
    }
  }
  const budgetBytes = plan.budget?.bytes;
  if (budgetBytes === undefined) {
    diagnostics.push(
      diag(
        'allocate/no-budget',
        'error',
        alloc.stmt,
        'allocate needs a budget to fill: add budget 4.5 bpw (or a size, e.g. budget 2.1 MiB)',
      ),
    );
  } else if (recipe.budget && !homeless.length && minBytes > budgetBytes) {
    const params = plan.totals.params;
    diagnostics.push(
      diag(
        'allocate/infeasible',
        'error',
        recipe.budget.stmt,
        `The budget cannot be met: with the smallest candidates the model is ${formatBytes(minBytes)} (${params ? ((8 * minBytes) / params).toFixed(3) : '?'} bpw), over the budget of ${formatBytes(budgetBytes)} by ${formatBytes(minBytes - budgetBytes)}. Raise the budget, add smaller candidates, or unpin tensors`,
      ),
    );
  }
  return { free, pinned, groups, fixedBytes, budgetBytes, minBytes, maxBytes, diagnostics };
}
