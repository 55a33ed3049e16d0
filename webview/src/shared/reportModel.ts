// Pure views of a run report: how a tensor's format reads, which rule decided it, the CSV
// export, and per-layer aggregation for the charts. Shared by the webview and the host.
import type { ReportRule, RunReport, TensorResult } from '../../../core/src/runReport';
import { toCsv } from './csv';
import { elementsOf } from './format';
import { parseTensorName, PROJECTION_ROLES, type ProjectionRole, type Role } from './tensorNames';

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
  const index = Math.max(...indices);
  return report.rules.find((r) => r.index === index) ?? report.rules[index];
}

export const CSV_HEADER = [
  'name', 'shape', 'dtype', 'action', 'format', 'group', 'symmetric', 'method', 'bpw', 'plan_bpw',
  'bytes_in', 'bytes_out', 'rel_error', 'sqnr_db', 'max_abs_error', 'cosine', 'outliers', 'seconds', 'rule', 'rule_line',
];

/** The report's tensors as CSV, in the given order of names (all tensors in report order when absent). */
export function reportToCsv(report: RunReport, names?: readonly string[]): string {
  const byName = new Map(report.tensors.map((t) => [t.name, t]));
  const tensors = names ? names.map((n) => byName.get(n)).filter((t): t is TensorResult => !!t) : report.tensors;
  return toCsv(CSV_HEADER, tensors.map((t) => {
    const rule = decidingRule(report, t);
    return [
      t.name, t.shape.join('x'), t.dtype, t.action, isKept(t) ? 'keep' : t.format, groupLabel(t),
      configValue<boolean>(t, 'symmetric'), t.method, t.bpw, t.planBpw, t.bytesIn, t.bytesOut,
      t.relError, t.sqnrDb, t.maxAbsError, t.cosine, t.outliers, t.seconds, rule?.label, rule ? rule.line + 1 : undefined,
    ];
  }));
}

export interface LayerCell {
  layer: number;
  role: ProjectionRole;
  /** Element-weighted quadratic mean of the tensors' relative errors (exact for one tensor). */
  relError?: number;
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
  const cells = new Map<string, LayerCell & { sq: number; errParams: number }>();
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
    const cell = cells.get(key) ?? { layer: info.layer, role, params: 0, bytesOut: 0, bpw: 0, tensors: [], sq: 0, errParams: 0 };
    cell.params += params;
    cell.bytesOut += t.bytesOut;
    cell.tensors.push(t.name);
    if (t.relError !== undefined && Number.isFinite(t.relError)) {
      cell.sq += params * t.relError * t.relError;
      cell.errParams += params;
    }
    cells.set(key, cell);
  }
  const out = new Map<string, LayerCell>();
  for (const [key, { sq, errParams, ...cell }] of cells) {
    out.set(key, {
      ...cell,
      bpw: cell.params ? (8 * cell.bytesOut) / cell.params : 0,
      relError: errParams ? Math.sqrt(sq / errParams) : undefined,
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

/** Mean and median relative error over the quantized tensors that report one. */
export function errorStats(tensors: readonly TensorResult[]): { mean?: number; median?: number; max?: number; count: number } {
  const values = tensors.filter((t) => !isKept(t) && t.relError !== undefined && Number.isFinite(t.relError)).map((t) => t.relError!);
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
