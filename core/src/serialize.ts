// The plan as plain JSON: what `bitsmith budget --json` prints and what the backend
// receives. Rules are referred to by label and 0-based line of their keyword.

import type { Analysis } from './analyze';
import { LineIndex } from './text';

export interface TensorPlanJson {
  name: string;
  shape: number[];
  dtype: string;
  action: 'quantize' | 'keep';
  keepReason?: string;
  format?: string;
  method?: string;
  methodOptions?: Record<string, number | boolean>;
  group?: number;
  groupKind?: string;
  symmetric?: boolean;
  scale?: string;
  zero?: string;
  clip?: string;
  outliers?: number;
  lowrank?: number;
  rotate?: string;
  bpw: number;
  bytesIn: number;
  bytesOut: number;
  bytes?: Record<string, number>;
  /** Property -> index into `rules` of the rule that decided it. */
  decidedBy: Record<string, number>;
}

export interface PlanJson {
  model: {
    path: string;
    format: string;
    architecture: string;
    tensors: number;
    parameters: number;
    bytes: number;
    dtype: string;
    /** When the model was named by a Hugging Face id: the id, the revision asked for and the
     *  commit it resolved to in the local cache (`path` is that commit's snapshot folder). */
    hub?: { id: string; revision: string; commit: string };
  };
  rules: {
    index: number;
    label: string;
    line: number;
    matched: number;
    decided: number;
    params: number;
    bytesIn: number;
    bytesOut: number;
    bpw: number;
  }[];
  tensors: TensorPlanJson[];
  totals: {
    tensors: number;
    quantized: number;
    params: number;
    bytesIn: number;
    bytesOut: number;
    bpwIn: number;
    bpw: number;
  };
  budget?: { bytes: number; bpw: number; fits: boolean; overBytes: number };
}

export function planToJson(analysis: Analysis, text: string): PlanJson | undefined {
  const { plan, model, recipe } = analysis;
  if (!plan || !model) return undefined;
  const lines = new LineIndex(text);
  return {
    model: {
      path: model.path,
      format: model.format,
      architecture: model.architecture,
      tensors: model.tensors.length,
      parameters: model.parameters,
      bytes: model.bytes,
      dtype: model.dtype,
      ...(analysis.modelRef?.hub
        ? {
            hub: {
              id: analysis.modelRef.hub.id,
              revision: analysis.modelRef.hub.revision,
              commit: analysis.modelRef.hub.commit,
            },
          }
        : {}),
    },
    rules: plan.rules.map((r) => ({
      index: r.index,
      label: r.label,
      line: lines.position(recipe.rules[r.index].stmt.start).line,
      matched: r.matched.length,
      decided: r.decided.length,
      params: r.params,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      bpw: r.params ? (8 * r.bytesOut) / r.params : 0,
    })),
    // Object literals in full, no spreads: spreading was most of the time on a 130,000-tensor model.
    tensors: plan.tensors.map((t): TensorPlanJson => {
      const decidedBy = t.decidedBy as Record<string, number>;
      if (t.action === 'keep' || !t.config || !t.bytes) {
        return {
          name: t.tensor.name,
          shape: t.tensor.shape,
          dtype: t.tensor.dtype,
          action: t.action,
          bpw: t.bpw,
          bytesIn: t.bytesIn,
          bytesOut: t.bytesOut,
          decidedBy,
          keepReason: t.keepReason,
        };
      }
      const c = t.config;
      const b = t.bytes;
      return {
        name: t.tensor.name,
        shape: t.tensor.shape,
        dtype: t.tensor.dtype,
        action: t.action,
        bpw: t.bpw,
        bytesIn: t.bytesIn,
        bytesOut: t.bytesOut,
        decidedBy,
        format: c.format.name,
        method: t.method.name,
        methodOptions: t.method.options,
        group: c.group,
        groupKind: c.groupKind,
        symmetric: c.symmetric,
        scale: c.scale,
        zero: c.zero,
        clip: t.clip,
        outliers: c.outliers,
        lowrank: c.lowrank,
        rotate: t.rotate,
        bytes: {
          codes: b.codes,
          scales: b.scales,
          zeros: b.zeros,
          outliers: b.outliers,
          lowrank: b.lowrank,
          extra: b.extra,
        },
      };
    }),
    totals: plan.totals,
    budget: plan.budget,
  };
}
