// The run report and the events of `bitsmith run --events`: produced by the CLI from the
// native runner's events, read by the extension (progress, report panel, compare) and by
// anything else that consumes a saved report. One file so every reader compiles against
// the same shape.
import type { ExportIssue } from './export/llmCompressor';
import type { PlanJson } from './serialize';

/** A measured figure. In the JSON written (events, saved reports) it is null when it is not
 *  finite (JSON has no Infinity or NaN): an exact reconstruction has sqnrDb +Infinity, a
 *  zero tensor relError NaN. The report schema types it as number or null. */
export type Measured = number;

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
  /** With calibration or evaluate (the layer-streamed pipeline): `calibration ... sequential`. */
  sequential?: boolean;
}

/** Progress within a phase of the run (native/src/run/events.h), at most about 5 per second. */
export interface ProgressEvent {
  type: 'progress';
  /** sequences (sampling calibration/evaluation sequences), calibration (a layer's forward
   * pass collecting its Hessians), awq (the scale search), quantize (a tensor), propagate
   * (the quantized layer's forward pass), evaluation (the output head, by vocabulary chunk). */
  phase: 'sequences' | 'calibration' | 'awq' | 'quantize' | 'propagate' | 'evaluation' | 'write';
  /** Steps done of the current span's steps (sequences of a layer, tensors, head chunks). */
  step: number;
  steps: number;
  /** For people: "layer 3/16, sequence 5/16", a tensor's name, ... */
  label: string;
  /** Seconds since the span began; eta: seconds to its end (null before the first step). */
  elapsed: number;
  eta: number | null;
  /** Of the whole run, 0..1 (never goes back). */
  fraction: number;
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
  relError?: Measured;
  /** ||dW||^2, additive across tensors (the allocator's weight metric). */
  squaredError?: Measured;
  sqnrDb?: Measured;
  maxAbsError?: Measured;
  cosine?: Measured;
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
  /** With calibration, for linear weights whose input the forward pass sees: the relative
   * output error tr(dW H dW^T) / tr(W H W^T) on the calibration inputs (an energy ratio:
   * compare with relError squared), and its SQNR in dB. */
  outputError?: Measured;
  /** tr(dW H dW^T) itself, additive across tensors (the allocator's output metric). */
  outputErrorSum?: Measured;
  outputSqnrDb?: Measured;
  /** What outputError measures: 'hessian' (the full X^T X of the forward pass), or
   * 'diagonal' (calibration imatrix: only the diagonal d of X^T X is known, so it is the
   * estimate sum_j d_j |dW_:j|^2 / sum_j d_j |W_:j|^2, blind to correlated inputs). */
  outputErrorKind?: 'hessian' | 'diagonal';
  /** The per-input-channel weights the searches used ('imatrix', or 'hessian': the forward-pass Hessian's diagonal). */
  importance?: 'imatrix' | 'hessian';
  /** method awq: the per-input-channel scaling chosen for the tensors reading this input. */
  awq?: AwqResult;
}

/** What method awq chose for one input (shared by the tensors in `shared`). */
export interface AwqResult {
  /** The exponent of s = mean|x|^alpha (normalised), from the grid {0, 1/grid, ..., (grid-1)/grid}; 0 is RTN. */
  alpha: number;
  gridPoint: number;
  grid: number;
  /** Range of the scales s over the input channels. */
  scaleMin: Measured;
  scaleMax: Measured;
  /** The tensors that share s (q/k/v, gate/up, or the tensor alone). */
  shared: string[];
  /** Sum over the shared tensors of tr(dW H dW^T) at alpha = 0 (RTN) and at the chosen alpha. */
  searchErrorRtn: Measured;
  searchError: Measured;
  /** With an output of codes (gguf, compressed_tensors): the norm weight written as g / s. */
  foldedInto?: string;
  /** With an output of codes: why this input is not scaled (alpha 0, RTN). */
  note?: string;
  /** Time of the search for this input (before the tensor loop; not in the tensors' seconds). */
  seconds: number;
}

/** Where the forward pass's sequences came from. */
export interface SequenceSourceInfo {
  kind: 'generated' | 'tokens' | 'text';
  /** generated: the sampling seed. */
  seed?: number;
  /** tokens: the JSON file; text: the text file (tokenized with the model's tokenizer.json). */
  path?: string;
  sequences: number;
  tokens: number;
}

/** Calibration done before quantizing: Hessians (X^T X) per linear-layer input. */
export interface CalibrationEvent {
  type: 'calibration';
  source: SequenceSourceInfo;
  /** Input sites with a Hessian (4 per layer: q/k/v, o, gate/up, down). */
  hessians: number;
  /** Layer l + 1 calibrated on the quantized layer l's outputs (true) or the original's. */
  sequential?: boolean;
  /** How the calibration hidden states are kept between layers (bf16 above 1 GiB). */
  activations?: 'f32' | 'bf16';
  seconds: number;
}

/** calibration imatrix: the file read before quantizing and the tensors it weights. */
export interface ImportanceEvent {
  type: 'importance';
  source: 'imatrix' | 'hessian';
  path?: string;
  format?: 'gguf' | 'dat';
  /** Entries in the file. */
  entries?: number;
  /** Quantized tensors that get per-input-channel weights from it. */
  tensors: number;
  seconds: number;
}

/** Mean with its uncertainty and order statistics of a per-position figure, as
 * llama-perplexity --kl-divergence reports them (percentiles interpolated at fraction·(n−1)). */
export interface EvalDistribution {
  mean: Measured;
  /** sqrt(var / (n − 1)); 0 for 10 positions or fewer. */
  uncertainty: Measured;
  min: Measured;
  p1: Measured;
  p5: Measured;
  p10: Measured;
  p25: Measured;
  median: Measured;
  p75: Measured;
  p90: Measured;
  p95: Measured;
  p99: Measured;
  p999: Measured;
  max: Measured;
}

/** End-to-end quality of the fake-quantized model against the original, on held-out sequences.
 * The runner always sends the uncertainties and distributions (the contract requires them);
 * they are optional here because reports saved before they existed lack them. */
export interface EvaluationEvent {
  type: 'evaluation';
  source: SequenceSourceInfo;
  sequences: number;
  /** Scored positions (length − 1 − scoreFrom per sequence). */
  tokens: number;
  /** The first position of each sequence whose prediction is scored (perplexity text:
   * length / 2, llama-perplexity's second half of each window; else 0). */
  scoreFrom?: number;
  perplexityOriginal: Measured;
  perplexityQuantized: Measured;
  perplexityOriginalUncertainty?: Measured;
  perplexityQuantizedUncertainty?: Measured;
  /** ln(PPL(quantized) / PPL(original)) and its uncertainty (with the covariance). */
  lnPerplexityRatio?: Measured;
  lnPerplexityRatioUncertainty?: Measured;
  /** Correlation of the two models' per-position NLL means. */
  nllCorrelation?: Measured;
  /** Mean next-token negative log-likelihood, nats. */
  nllOriginal: Measured;
  nllQuantized: Measured;
  /** KL(original || quantized) of the next-token distributions per position, nats (kl.mean, kl.p99, kl.max). */
  klMean: Measured;
  klP99: Measured;
  klMax: Measured;
  /** Fraction of positions where both models' most likely next token agree (sameTop.share). */
  top1Agreement: Measured;
  kl?: EvalDistribution;
  /** p_quantized(reference token) − p_original(reference token), per position; and its RMS. */
  deltaP?: EvalDistribution & { rms: Measured; rmsUncertainty: Measured };
  sameTop?: { share: Measured; uncertainty: Measured };
  /** The original model's logits: read from the cache ('hit'), computed and cached ('written'), or not cached (null). */
  logitsCache?: 'hit' | 'written' | null;
  seconds: number;
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
  /** Seconds per phase (sequences, calibration, awq, quantize, propagate, evaluation, write). */
  phases?: Record<string, number>;
}

export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  tensor?: string;
}

/** Before a run with `allocate` whose candidates are not all measured: measuring progress
 * (one pass per candidate format over the tensors missing it). */
export interface MeasureEvent {
  type: 'measure';
  phase: 'error' | 'kld';
  format: string;
  formatIndex: number;
  formats: number;
  tensor?: string;
  done: number;
  total: number;
}

export type RunEvent =
  | StartEvent
  | ProgressEvent
  | CalibrationEvent
  | ImportanceEvent
  | TensorStartEvent
  | TensorEvent
  | EvaluationEvent
  | DoneEvent
  | ErrorEvent
  | MeasureEvent;

/** One tensor of a report: the runner's measurement plus what the plan said. */
export type TensorResult = Omit<TensorEvent, 'type'> & {
  /** The plan's bpw for this tensor (equal to bpw: run checks it). */
  planBpw: number;
  /** Property (format, group, method, ...) -> index into RunReport.rules of the rule that decided it. */
  decidedBy?: Record<string, number>;
  /** The method the recipe asked for when another ran (gptq/awq on a weight without input
   * activations, such as the token embedding, run as rtn). */
  methodRequested?: string;
};

export interface ReportRule {
  index: number;
  /** How the rule reads in the recipe: `defaults`, `match "*.mlp.*"`, ... */
  label: string;
  /** 0-based line of the rule's keyword in the recipe. */
  line: number;
}

export interface ReportOutput {
  kind: 'fake' | 'compressed_tensors' | 'gguf' | 'imatrix';
  path: string;
  /** GGUF: the architecture written and where the tokenizer came from ('none': without one). */
  architecture?: string;
  tokenizer?: string;
  /** GGUF: keys that could not be determined (or that differ from the model), and why. */
  warnings?: string[];
  notes?: string[];
}

/** A translation `bitsmith run` wrote, and what did not translate (also a comment in the file). */
export interface ReportExport {
  kind: string;
  path: string;
  issues: ExportIssue[];
}

export interface RunReport {
  type: 'report';
  /** Report format version. */
  reportVersion: 1;
  bitsmith: string;
  recipe: { path: string; name?: string };
  model: PlanJson['model'];
  /** The first output written (fake-quant safetensors or compressed-tensors folder, else GGUF); null without one. */
  output: ReportOutput | null;
  /** Every output written. */
  outputs?: ReportOutput[];
  threads: number;
  started: string;
  finished: string;
  rules?: ReportRule[];
  tensors: TensorResult[];
  totals: RunTotals & { planBpw: number };
  /** Seconds per phase of the run (the done event's phases). */
  phases?: Record<string, number>;
  budget?: PlanJson['budget'];
  /** Present when the recipe has a calibration statement. */
  calibration?: Omit<CalibrationEvent, 'type'>;
  /** Present with calibration imatrix. */
  importance?: Omit<ImportanceEvent, 'type'>;
  /** Present when the recipe has an evaluate block. */
  evaluation?: Omit<EvaluationEvent, 'type'>;
  /** Translations written after the run (`export llm_compressor ...`). */
  exports?: ReportExport[];
  /** With `allocate`: what the allocator predicted for the formats this run quantized, to
   * compare with the measured evaluation (metric output and kld predict nats of KL). */
  allocation?: {
    metric: string;
    predictedError: Measured;
    bytes: number;
    counts: Record<string, number>;
    optimal: boolean;
  };
  /** Where the report was saved (absent in the saved file itself). */
  file?: string;
}
