// The resolved plan: one effective configuration per tensor, with its exact bytes. It is
// the single source of truth that hover, diagnostics, the CLI and the backend read.

import type { ByteBreakdown, QuantConfig } from './analysis/bits';
import type { PropName, PropValues } from './analysis/recipe';
import type { TensorInfo } from './models/types';

export interface TensorPlan {
  tensor: TensorInfo;
  /** Rows (product of all but the last dimension) and input dimension (the last). */
  rows: number;
  cols: number;
  /** Quantized, or left in its source precision (by a `keep` rule, or because no rule gave it a format). */
  action: 'quantize' | 'keep';
  keepReason?: 'keep-rule' | 'no-format' | 'not-quantizable';
  /** Present when action is 'quantize'. */
  config?: QuantConfig;
  method: PropValues['method'];
  clip: PropValues['clip'];
  rotate: PropValues['rotate'];
  /** The format was chosen by `allocate` (decidedBy.format then names the rule it replaced, if any). */
  allocated?: boolean;
  /** For each property, the index of the rule (in Recipe.rules) that decided it; absent = built-in default. */
  decidedBy: Partial<Record<PropName, number>>;
  /** Indices of every rule whose patterns match this tensor (defaults included when it applies). */
  matchedRules: number[];
  bytesIn: number;
  bytesOut: number;
  /** Component breakdown when quantized. */
  bytes?: ByteBreakdown;
  bpw: number;
}

export interface RuleSummary {
  index: number;
  label: string;
  /** Tensors this rule matches. */
  matched: number[];
  /** Tensors for which this rule decided at least one property. */
  decided: number[];
  params: number;
  bytesIn: number;
  bytesOut: number;
}

export interface Plan {
  tensors: TensorPlan[];
  rules: RuleSummary[];
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
