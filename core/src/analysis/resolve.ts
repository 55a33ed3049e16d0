// Resolves the cascade: for each tensor, built-in defaults, then `defaults`, then every
// matching `match` rule in file order, property by property. The result is the plan.

import { FORMAT_BY_NAME } from '../language/formats';
import type { ModelHeader, TensorInfo } from '../models/types';
import type { Plan, RuleSummary, TensorPlan } from '../plan';
import { tensorBytes, type QuantConfig } from './bits';
import { checkDeadline } from './deadline';
import { PROP_NAMES, type PropName, type PropValues, type Recipe, type Rule } from './recipe';

/** What a property is when no rule sets it. */
export const BUILTIN_DEFAULTS: Omit<PropValues, 'format'> = {
  method: { name: 'rtn', options: {} },
  group: 128,
  symmetric: true,
  scale: 'f16',
  zero: 'f16',
  clip: 'none',
  outliers: { count: 0 },
  lowrank: 0,
  rotate: 'none',
};

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Weight tensors the defaults apply to: floating point (or ggml-encoded) and at least 2-D. */
export function isWeightTensor(t: TensorInfo): boolean {
  return t.shape.length >= 2 && isFloatTensor(t);
}

export function isFloatTensor(t: TensorInfo): boolean {
  return FLOAT_DTYPES.has(t.dtype) || /^(Q\d|IQ\d|TQ\d)/.test(t.dtype);
}

// Pattern results per tensor list, so re-analysis after an edit only tests new patterns.
// Stored as the indices of the matching tensors: rules select few tensors each, so a
// recipe's cascade costs the number of matches, not rules x tensors.
const matchCache = new WeakMap<TensorInfo[], Map<string, Uint32Array>>();

function patternHits(tensors: TensorInfo[], p: Rule['patterns'][number]): Uint32Array {
  let perList = matchCache.get(tensors);
  if (!perList) matchCache.set(tensors, (perList = new Map()));
  let hits = perList.get(p.text);
  if (!hits) {
    const found: number[] = [];
    for (let i = 0; i < tensors.length; i++) {
      if ((i & 1023) === 0) checkDeadline(`matching "${p.text}" against ${tensors.length} tensors`);
      if (p.compiled.test(tensors[i].name)) found.push(i);
    }
    hits = Uint32Array.from(found);
    if (perList.size > 10000) perList.clear();
    perList.set(p.text, hits);
  }
  return hits;
}

/** Indices of the tensors a pattern matches (cached per tensor list and pattern text). */
export function patternMatches(tensors: TensorInfo[], p: Rule['patterns'][number]): Uint32Array {
  return patternHits(tensors, p);
}

/** For each tensor, the indices (ascending) of the rules that apply to it. */
function rulesPerTensor(rules: Rule[], tensors: TensorInfo[]): number[][] {
  const weights = tensors.map(isWeightTensor);
  const out: number[][] = tensors.map(() => []);
  // Per tensor: 0 no match, 1 matched by a wildcard leaf only, 2 matched by an explicit leaf.
  const level = new Uint8Array(tensors.length);
  const touched: number[] = [];
  for (let ri = 0; ri < rules.length; ri++) {
    checkDeadline(`applying ${rules.length} rules to ${tensors.length} tensors`);
    const rule = rules[ri];
    if (rule.kind === 'defaults') {
      for (let ti = 0; ti < tensors.length; ti++) if (weights[ti]) out[ti].push(ri);
      continue;
    }
    for (const p of rule.patterns) {
      const l = p.compiled.explicitLeaf ? 2 : 1;
      for (const ti of patternHits(tensors, p)) {
        if (level[ti] === 0) touched.push(ti);
        if (l > level[ti]) level[ti] = l;
      }
    }
    // `defaults` and wildcard patterns apply to weight tensors only; 1-D tensors (norms,
    // biases) change only when a pattern names them (`*.input_layernorm`, `re:...`).
    for (const ti of touched) {
      if (weights[ti] || level[ti] === 2) out[ti].push(ri);
      level[ti] = 0;
    }
    touched.length = 0;
  }
  return out;
}

/** The cascaded property values of one tensor (what resolvePlan computes for it). */
export function tensorValues(recipe: Recipe, matchedRules: number[]): Partial<PropValues> {
  const values: Partial<PropValues> = {};
  for (const ri of matchedRules) {
    const settings = recipe.rules[ri].settings;
    for (const prop of PROP_NAMES) {
      const s = settings[prop];
      if (s) (values as Record<string, unknown>)[prop] = s.value;
    }
  }
  return values;
}

/** The plan of one tensor with the given values: what a candidate format would cost. */
export function planTensorWith(t: TensorInfo, values: Partial<PropValues>, matchedRules: number[] = []): TensorPlan {
  return planTensor(t, values, {}, matchedRules);
}

/**
 * `formatOf`, when given, replaces the cascaded format of the tensors it answers for (the
 * allocation's choice); those tensors are marked `allocated`.
 */
export function resolvePlan(
  recipe: Recipe,
  model: ModelHeader,
  formatOf?: (tensorIndex: number) => string | undefined,
): Plan {
  const tensors = model.tensors;
  const rules = recipe.rules;
  const rulesOf = rulesPerTensor(rules, tensors);
  const plans: TensorPlan[] = [];
  const summaries: RuleSummary[] = recipe.rules.map((r) => ({
    index: r.index,
    label: r.label,
    matched: [],
    decided: [],
    params: 0,
    bytesIn: 0,
    bytesOut: 0,
  }));

  for (let ti = 0; ti < tensors.length; ti++) {
    if ((ti & 1023) === 0) checkDeadline(`resolving the plan of ${tensors.length} tensors`);
    const t = tensors[ti];
    const values: Partial<PropValues> = {};
    const decidedBy: Partial<Record<PropName, number>> = {};
    const matchedRules = rulesOf[ti];
    for (const ri of matchedRules) {
      const settings = rules[ri].settings;
      for (const prop of PROP_NAMES) {
        const s = settings[prop];
        if (s) {
          (values as Record<string, unknown>)[prop] = s.value;
          decidedBy[prop] = ri;
        }
      }
    }
    const allocated = formatOf?.(ti);
    if (allocated) values.format = allocated;
    const tp = planTensor(t, values, decidedBy, matchedRules);
    if (allocated) tp.allocated = true;
    plans.push(tp);
  }

  for (let ti = 0; ti < plans.length; ti++) {
    const p = plans[ti];
    for (const ri of p.matchedRules) summaries[ri].matched.push(ti);
    const deciders = new Set(Object.values(p.decidedBy));
    for (const ri of deciders) {
      const s = summaries[ri];
      s.decided.push(ti);
      s.params += p.tensor.elements;
      s.bytesIn += p.bytesIn;
      s.bytesOut += p.bytesOut;
    }
  }

  const params = plans.reduce((a, p) => a + p.tensor.elements, 0);
  const bytesIn = plans.reduce((a, p) => a + p.bytesIn, 0);
  const bytesOut = plans.reduce((a, p) => a + p.bytesOut, 0);
  const plan: Plan = {
    tensors: plans,
    rules: summaries,
    totals: {
      tensors: plans.length,
      quantized: plans.filter((p) => p.action === 'quantize').length,
      params,
      bytesIn,
      bytesOut,
      bpwIn: params ? (8 * bytesIn) / params : 0,
      bpw: params ? (8 * bytesOut) / params : 0,
    },
  };
  const b = recipe.budget;
  if (b) {
    const limit = b.kind === 'bpw' ? (b.bpw * params) / 8 : b.bytes;
    plan.budget = {
      bytes: limit,
      bpw: params ? (8 * limit) / params : 0,
      fits: bytesOut <= limit,
      overBytes: Math.max(0, bytesOut - limit),
    };
  }
  return plan;
}

function planTensor(
  t: TensorInfo,
  values: Partial<PropValues>,
  decidedBy: Partial<Record<PropName, number>>,
  matchedRules: number[],
): TensorPlan {
  const cols = t.shape.length ? t.shape[t.shape.length - 1] : 1;
  const rows = cols ? t.elements / cols : 0;
  // Field by field rather than object spreads: `values` objects come in many shapes, and
  // spreading them was most of an analysis on a 1,000-tensor model.
  const D = BUILTIN_DEFAULTS;
  const method = values.method ?? D.method;
  const clip = values.clip ?? D.clip;
  const rotate = values.rotate ?? D.rotate;
  const format = values.format ? FORMAT_BY_NAME.get(values.format) : undefined;
  if (!format || !isFloatTensor(t) || t.elements === 0) {
    const keepReason =
      values.format === 'keep' ? 'keep-rule' : !isFloatTensor(t) || t.elements === 0 ? 'not-quantizable' : 'no-format';
    return {
      tensor: t,
      rows,
      cols,
      decidedBy,
      matchedRules,
      method,
      clip,
      rotate,
      bytesIn: t.bytes,
      action: 'keep',
      keepReason,
      bytesOut: t.bytes,
      // No elements, no bits: 0, as the backend reports an empty tensor (copied as it is).
      bpw: t.elements > 0 ? t.bitsPerElement : 0,
    };
  }
  const g = values.group ?? D.group;
  const outliers = values.outliers ?? D.outliers;
  const groupKind = g === 'channel' ? 'channel' : g === 'tensor' ? 'tensor' : 'size';
  const group =
    format.fixedGroup ??
    format.block?.weights ??
    (groupKind === 'channel' ? cols : groupKind === 'tensor' ? rows * cols : (g as number));
  const config: QuantConfig = {
    format,
    group,
    groupKind: format.fixedGroup || format.block ? 'size' : groupKind,
    symmetric: format.symmetricOnly || format.block ? true : (values.symmetric ?? D.symmetric),
    scale: format.fixedScale ?? values.scale ?? D.scale,
    zero: values.zero ?? D.zero,
    outliers:
      'fraction' in outliers ? Math.floor(outliers.fraction * t.elements) : Math.min(outliers.count, t.elements),
    lowrank: values.lowrank ?? D.lowrank,
  };
  const bytes = tensorBytes(rows, cols, config);
  return {
    tensor: t,
    rows,
    cols,
    decidedBy,
    matchedRules,
    method,
    clip,
    rotate,
    bytesIn: t.bytes,
    action: 'quantize',
    config,
    bytes,
    bytesOut: bytes.total,
    bpw: (8 * bytes.total) / t.elements,
  };
}
