// The run report and the events of `bitsmith run --events`: produced by the CLI from the
// native runner's events, read by the extension (progress, report panel, compare) and by
// anything else that consumes a saved report. One file so every reader compiles against
// the same shape.
import type { PlanJson } from './serialize';

/** Counts in equal-width bins over [min, max]. */
export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}

export interface StartEvent {
  type: 'start';
  tensors: number;
  params: number;
  bytesIn: number;
  model: string;
  modelFormat: string;
  threads: number;
  output: string | null;
  /** output gguf's path, when the recipe has one. */
  gguf?: string;
}

export interface TensorStartEvent {
  type: 'tensor-start';
  index: number;
  name: string;
}

export interface TensorEvent {
  type: 'tensor';
  index: number;
  name: string;
  shape: number[];
  dtype: string;
  action: 'quantize' | 'keep';
  format: string;
  method?: string;
  config?: Record<string, unknown>;
  bpw: number;
  bytesIn: number;
  bytesOut: number;
  bytes?: Record<string, number>;
  relError?: number;
  sqnrDb?: number;
  maxAbsError?: number;
  cosine?: number;
  outliers?: number;
  chunks?: number;
  seconds: number;
  /** Histogram of the source weights. */
  weightHist?: Histogram;
  /** Histogram of the reconstructed (dequantized) weights over the same bins as weightHist:
   * the quantization grid as the tensor actually uses it (with per-group scales, the union
   * of every group's grid, weighted by use). */
  dequantHist?: Histogram;
  /** Histogram of the signed error (reconstruction - source). */
  errorHist?: Histogram;
}

export interface RunTotals {
  tensors: number;
  quantized: number;
  params: number;
  bytesIn: number;
  bytesOut: number;
  bpw: number;
  seconds: number;
  peakRssBytes: number;
}

export interface DoneEvent {
  type: 'done';
  totals: RunTotals;
  output: string | null;
  gguf?: string;
  threads: number;
}

export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  tensor?: string;
}

export type RunEvent = StartEvent | TensorStartEvent | TensorEvent | DoneEvent | ErrorEvent;

/** One tensor of a report: the runner's measurement plus what the plan said. */
export type TensorResult = Omit<TensorEvent, 'type'> & {
  /** The plan's bpw for this tensor (equal to bpw: run checks it). */
  planBpw: number;
  /** Property (format, group, method, ...) -> index into RunReport.rules of the rule that decided it. */
  decidedBy?: Record<string, number>;
};

export interface ReportRule {
  index: number;
  /** How the rule reads in the recipe: `defaults`, `match "*.mlp.*"`, ... */
  label: string;
  /** 0-based line of the rule's keyword in the recipe. */
  line: number;
}

export interface ReportOutput {
  kind: 'fake' | 'gguf';
  path: string;
  /** GGUF: the architecture written and where the tokenizer came from ('none': without one). */
  architecture?: string;
  tokenizer?: string;
  notes?: string[];
}

export interface RunReport {
  type: 'report';
  /** Report format version. */
  reportVersion: 1;
  bitsmith: string;
  recipe: { path: string; name?: string };
  model: PlanJson['model'];
  /** The first output written (fake-quant safetensors, else GGUF); null without one. */
  output: ReportOutput | null;
  /** Every output written. */
  outputs?: ReportOutput[];
  threads: number;
  started: string;
  finished: string;
  rules?: ReportRule[];
  tensors: TensorResult[];
  totals: RunTotals & { planBpw: number };
  budget?: PlanJson['budget'];
  /** Where the report was saved (absent in the saved file itself). */
  file?: string;
}
