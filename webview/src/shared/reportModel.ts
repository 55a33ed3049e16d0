// Pure views of a run report: how a tensor's format reads, which rule decided it, the CSV
// export, and per-layer aggregation for the charts. Shared by the webview and the host.
import type { ReportRule, RunReport, SequenceSourceInfo, TensorResult } from '../../../core/src/runReport';
import { toCsv } from './csv';
import { elementsOf, formatInteger, formatNumber, formatRatio, formatSeconds } from './format';
import { parseTensorName, PROJECTION_ROLES, type ProjectionRole, type Role } from './tensorNames';
import { maxOf } from '../../../core/src/arrays';

export function isKept(t: TensorResult): boolean {
  return t.action === 'keep';
}

function configValue<T>(t: TensorResult, key: string): T | undefined {
  return t.config ? (t.config[key] as T | undefined) : undefined;
}

/** "g32", "channel", "tensor" or undefined. */
export function groupLabel(t: TensorResult): string | undefined {
  const kind = configValue<string>(t, 'groupKind');
  const group = configValue<number>(t, 'group');
  if (kind === 'channel' || kind === 'tensor') return kind;
  if (typeof group === 'number') return `g${group}`;
  return kind;
}

/** "int4 · g32 · sym", "int3 · g32 · asym", or "kept (F32)". */
export function formatLabel(t: TensorResult): string {
  if (isKept(t)) return `kept (${t.dtype})`;
  const parts = [t.format];
  const group = groupLabel(t);
  if (group) parts.push(group);
  const sym = configValue<boolean>(t, 'symmetric');
  if (sym !== undefined) parts.push(sym ? 'sym' : 'asym');
  return parts.join(' · ');
}

/** The most specific rule that decided any of the tensor's settings (what "reveal rule" opens). */
export function decidingRule(report: RunReport, t: TensorResult): ReportRule | undefined {
  if (!t.decidedBy || !report.rules) return undefined;
  // Later rules override earlier ones property by property, so the last rule that set
  // anything is the most specific one (a `match` over `defaults`): the one a user looks for.
  const indices = Object.values(t.decidedBy).filter((i) => Number.isInteger(i));
  if (!indices.length) return undefined;
  const index = maxOf(indices);
  return report.rules.find((r) => r.index === index) ?? report.rules[index];
}

export const CSV_HEADER = [
  'name',
  'shape',
  'dtype',
  'action',
  'format',
  'group',
  'symmetric',
  'method',
  'bpw',
  'plan_bpw',
  'bytes_in',
  'bytes_out',
  'rel_error',
  'sqnr_db',
  'output_error',
  'output_sqnr_db',
  'max_abs_error',
  'cosine',
  'outliers',
  'seconds',
  'rule',
  'rule_line',
];

/** The report's tensors as CSV, in the given order of names (all tensors in report order when absent). */
export function reportToCsv(report: RunReport, names?: readonly string[]): string {
  const byName = new Map(report.tensors.map((t) => [t.name, t]));
  const tensors = names ? names.map((n) => byName.get(n)).filter((t): t is TensorResult => !!t) : report.tensors;
  return toCsv(
    CSV_HEADER,
    tensors.map((t) => {
      const rule = decidingRule(report, t);
      return [
        t.name,
        t.shape.join('x'),
        t.dtype,
        t.action,
        isKept(t) ? 'keep' : t.format,
        groupLabel(t),
        configValue<boolean>(t, 'symmetric'),
        t.method,
        t.bpw,
        t.planBpw,
        t.bytesIn,
        t.bytesOut,
        t.relError,
        t.sqnrDb,
        t.outputError,
        t.outputSqnrDb,
        t.maxAbsError,
        t.cosine,
        t.outliers,
        t.seconds,
        rule?.label,
        rule ? rule.line + 1 : undefined,
      ];
    }),
  );
}

export interface LayerCell {
  layer: number;
  role: ProjectionRole;
  /** Element-weighted quadratic mean of the tensors' relative errors (exact for one tensor). */
  relError?: number;
  /** Element-weighted mean of the tensors' output errors (energy ratios; exact for one tensor). */
  outputError?: number;
  params: number;
  bytesOut: number;
  bpw: number;
  tensors: string[];
}

export interface LayerTotal {
  layer: number;
  params: number;
  bytesOut: number;
  bpw: number;
}

export interface LayerAggregation {
  /** Sorted block indices that have at least one tensor. */
  layers: number[];
  /** Projection roles present, in PROJECTION_ROLES order. */
  roles: ProjectionRole[];
  /** Keyed by `${layer}:${role}`. */
  cells: Map<string, LayerCell>;
  /** Every tensor of a block (norms and biases too). */
  totals: LayerTotal[];
  /** Tensors in no numbered block (embeddings, lm_head, final norm), with their role. */
  outside: { tensor: TensorResult; role: Role }[];
  /** Tensors in a block that are not projection weights (norms, biases, routers). */
  inLayerOther: TensorResult[];
}

export const cellKey = (layer: number, role: string): string => `${layer}:${role}`;

/**
 * Groups the tensors by block and projection role. Several tensors of one role in one block
 * (split experts) are combined: bytes and parameters add up, relative errors combine as an
 * element-weighted quadratic mean (the exact combined error needs each tensor's norm, which
 * the report does not carry).
 */
export function aggregateByLayer(tensors: readonly TensorResult[]): LayerAggregation {
  const cells = new Map<string, LayerCell & { sq: number; errParams: number; out: number; outParams: number }>();
  const totals = new Map<number, LayerTotal>();
  const outside: LayerAggregation['outside'] = [];
  const inLayerOther: TensorResult[] = [];
  const roles = new Set<ProjectionRole>();
  for (const t of tensors) {
    const info = parseTensorName(t.name);
    const params = elementsOf(t.shape);
    if (info.layer === null) {
      outside.push({ tensor: t, role: info.role });
      continue;
    }
    const total = totals.get(info.layer) ?? { layer: info.layer, params: 0, bytesOut: 0, bpw: 0 };
    total.params += params;
    total.bytesOut += t.bytesOut;
    totals.set(info.layer, total);
    const role = info.role as ProjectionRole;
    if (info.kind === 'bias' || !(PROJECTION_ROLES as readonly string[]).includes(info.role)) {
      inLayerOther.push(t);
      continue;
    }
    roles.add(role);
    const key = cellKey(info.layer, role);
    const cell = cells.get(key) ?? {
      layer: info.layer,
      role,
      params: 0,
      bytesOut: 0,
      bpw: 0,
      tensors: [],
      sq: 0,
      errParams: 0,
      out: 0,
      outParams: 0,
    };
    cell.params += params;
    cell.bytesOut += t.bytesOut;
    cell.tensors.push(t.name);
    if (t.relError !== undefined && Number.isFinite(t.relError)) {
      cell.sq += params * t.relError * t.relError;
      cell.errParams += params;
    }
    if (t.outputError !== undefined && Number.isFinite(t.outputError)) {
      cell.out += params * t.outputError;
      cell.outParams += params;
    }
    cells.set(key, cell);
  }
  const out = new Map<string, LayerCell>();
  for (const [key, { sq, errParams, out: outSum, outParams, ...cell }] of cells) {
    out.set(key, {
      ...cell,
      bpw: cell.params ? (8 * cell.bytesOut) / cell.params : 0,
      relError: errParams ? Math.sqrt(sq / errParams) : undefined,
      outputError: outParams ? outSum / outParams : undefined,
    });
  }
  const layerTotals = [...totals.values()].sort((a, b) => a.layer - b.layer);
  for (const t of layerTotals) t.bpw = t.params ? (8 * t.bytesOut) / t.params : 0;
  return {
    layers: layerTotals.map((t) => t.layer),
    roles: PROJECTION_ROLES.filter((r) => roles.has(r)),
    cells: out,
    totals: layerTotals,
    outside,
    inLayerOther,
  };
}

/** Mean and median relative (or output) error over the quantized tensors that report one. */
export function errorStats(
  tensors: readonly TensorResult[],
  metric: ErrorMetric = 'relError',
): { mean?: number; median?: number; max?: number; count: number } {
  const values = tensors
    .filter((t) => !isKept(t))
    .map((t) => t[metric])
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (!values.length) return { count: 0 };
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return {
    count: values.length,
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    median: values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2,
    max: values[values.length - 1],
  };
}

/** Distinct format names of the report, kept tensors as 'keep', in first-seen order. */
export function formatsOf(tensors: readonly TensorResult[]): string[] {
  return [...new Set(tensors.map((t) => (isKept(t) ? 'keep' : t.format)))];
}

/**
 * The error the per-layer charts show: the relative weight error ‖ŵ − w‖ / ‖w‖, or (with
 * calibration) the relative output error tr(ΔW H ΔW^T) / tr(W H W^T) on the calibration
 * inputs, an energy ratio (compare it with the relative error squared).
 */
export type ErrorMetric = 'relError' | 'outputError';

export const ERROR_METRICS: Record<ErrorMetric, { label: string; option: string; short: string }> = {
  relError: { label: 'Relative error', option: 'Weight rel. error', short: 'relative error' },
  outputError: { label: 'Output error', option: 'Output error', short: 'output error' },
};

/** Whether any tensor reports an output error (the run had calibration). */
export function hasOutputError(tensors: readonly TensorResult[]): boolean {
  return tensors.some((t) => t.outputError !== undefined && Number.isFinite(t.outputError));
}

/**
 * The metric to show: the saved choice when the report has it, else the output error when
 * any tensor has one (what the model's outputs feel), else the relative weight error.
 */
export function chooseErrorMetric(saved: string | undefined, outputErrors: boolean): ErrorMetric {
  if (!outputErrors) return 'relError';
  return saved === 'relError' || saved === 'outputError' ? saved : 'outputError';
}

/** A layer cell's value for the metric. */
export function cellError(cell: LayerCell | undefined, metric: ErrorMetric): number | undefined {
  return cell?.[metric];
}

/** "generated (seed 1)" or "tokens file calib.json". */
export function sourceLabel(source: SequenceSourceInfo | undefined): string {
  if (!source) return 'unknown source';
  if (source.kind === 'generated') return source.seed !== undefined ? `generated (seed ${source.seed})` : 'generated';
  if (source.kind === 'tokens') return source.path ? `tokens file ${source.path.split(/[\\/]/).pop()}` : 'tokens file';
  if (source.kind === 'text') return source.path ? `text ${source.path.split(/[\\/]/).pop()}` : 'text';
  return String(source.kind);
}

function plural(n: number, word: string): string {
  return `${formatInteger(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** The lines of the "End-to-end quality" block, as text (the view adds emphasis). */
export interface EvaluationSummary {
  /** "15.15 → 197.2" */
  perplexity: string;
  pplOriginal: string;
  pplQuantized: string;
  /** "×13.0" (quantized / original), or undefined when the original is not positive. */
  perplexityRatio?: string;
  /** "2.7 → 5.283 nats/token" */
  nll: string;
  /** "mean 2.561 · p99 10 · max 12 nats" */
  kl: string;
  /** "25.0%" */
  top1: string;
  /** "16 sequences · 2,032 tokens" */
  basis: string;
  /** "generated (seed 1)" */
  source: string;
  seconds: string;
}

export function summarizeEvaluation(e: NonNullable<RunReport['evaluation']>): EvaluationSummary {
  const ratio = e.perplexityOriginal > 0 ? e.perplexityQuantized / e.perplexityOriginal : undefined;
  return {
    perplexity: `${formatNumber(e.perplexityOriginal)} → ${formatNumber(e.perplexityQuantized)}`,
    pplOriginal: formatNumber(e.perplexityOriginal),
    pplQuantized: formatNumber(e.perplexityQuantized),
    perplexityRatio: ratio !== undefined && Number.isFinite(ratio) ? formatRatio(ratio) : undefined,
    nll: `${formatNumber(e.nllOriginal)} → ${formatNumber(e.nllQuantized)} nats/token`,
    kl: `mean ${formatNumber(e.klMean)} · p99 ${formatNumber(e.klP99)} · max ${formatNumber(e.klMax)} nats`,
    top1: Number.isFinite(e.top1Agreement) ? `${(100 * e.top1Agreement).toFixed(1)}%` : '—',
    basis:
      `${plural(e.sequences, 'sequence')} · ${plural(e.tokens, 'scored token')}` +
      (e.scoreFrom ? ` (from position ${e.scoreFrom} of each, as llama-perplexity)` : ''),
    source: sourceLabel(e.source),
    seconds: formatSeconds(e.seconds),
  };
}

/** "16 sequences · 2,048 tokens · generated (seed 0) · 28 Hessians · 0.52 s" */
export function summarizeCalibration(c: NonNullable<RunReport['calibration']>): string {
  const parts = [];
  if (c.source) parts.push(plural(c.source.sequences, 'sequence'), plural(c.source.tokens, 'token'));
  parts.push(sourceLabel(c.source), plural(c.hessians, 'Hessian'));
  if (c.sequential !== undefined) parts.push(c.sequential ? 'sequential' : 'on the original model');
  parts.push(formatSeconds(c.seconds));
  return parts.join(' · ');
}

/** Keys of the evaluation object this view shows; anything else is listed as it comes. */
export const KNOWN_EVALUATION_KEYS: readonly string[] = [
  'source',
  'sequences',
  'tokens',
  'perplexityOriginal',
  'perplexityQuantized',
  'nllOriginal',
  'nllQuantized',
  'klMean',
  'klP99',
  'klMax',
  'top1Agreement',
  'seconds',
  'logitsCache',
  'scoreFrom',
  'perplexityOriginalUncertainty',
  'perplexityQuantizedUncertainty',
  'lnPerplexityRatio',
  'lnPerplexityRatioUncertainty',
  'nllCorrelation',
  'kl',
  'deltaP',
  'sameTop',
];

/** The run's phases and their seconds, in run order: "calibration 12.3 s · quantize 40 s · ...". */
export function summarizePhases(phases: Record<string, number> | undefined): string | undefined {
  if (!phases) return undefined;
  const parts = Object.entries(phases).map(([k, v]) => `${k} ${formatSeconds(v)}`);
  return parts.length ? parts.join(' · ') : undefined;
}
