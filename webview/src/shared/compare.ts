// Joins two run reports by tensor name and computes the deltas the compare panel shows.
import type { RunReport, TensorResult } from '../../../core/src/runReport';
import { toCsv } from './csv';
import { errorStats, isKept } from './reportModel';

export interface JoinedRow {
  name: string;
  a?: TensorResult;
  b?: TensorResult;
  status: 'both' | 'onlyA' | 'onlyB';
  /** b.relError / a.relError (undefined unless both are finite and a's is non-zero). */
  relRatio?: number;
  /** b.bpw - a.bpw. */
  bpwDelta?: number;
}

/** A's tensors in A's order, then the tensors only B has, in B's order. */
export function joinReports(a: RunReport, b: RunReport): JoinedRow[] {
  const inB = new Map(b.tensors.map((t) => [t.name, t]));
  const rows: JoinedRow[] = [];
  const seen = new Set<string>();
  for (const ta of a.tensors) {
    seen.add(ta.name);
    const tb = inB.get(ta.name);
    if (!tb) {
      rows.push({ name: ta.name, a: ta, status: 'onlyA' });
      continue;
    }
    const ra = ta.relError;
    const rb = tb.relError;
    rows.push({
      name: ta.name,
      a: ta,
      b: tb,
      status: 'both',
      relRatio:
        ra !== undefined && rb !== undefined && Number.isFinite(ra) && Number.isFinite(rb) && ra > 0
          ? rb / ra
          : undefined,
      bpwDelta: tb.bpw - ta.bpw,
    });
  }
  for (const tb of b.tensors) if (!seen.has(tb.name)) rows.push({ name: tb.name, b: tb, status: 'onlyB' });
  return rows;
}

export interface TotalsRow {
  id: 'bytesOut' | 'bpw' | 'meanRel' | 'medianRel' | 'maxRel' | 'seconds' | 'quantized';
  label: string;
  a?: number;
  b?: number;
  /** b - a */
  delta?: number;
  /** b / a */
  ratio?: number;
  /** Which direction is better: lower (size, error, time) or neither. */
  better: 'lower' | 'none';
}

export function compareTotals(a: RunReport, b: RunReport): TotalsRow[] {
  const ea = errorStats(a.tensors);
  const eb = errorStats(b.tensors);
  const row = (
    id: TotalsRow['id'],
    label: string,
    va: number | undefined,
    vb: number | undefined,
    better: TotalsRow['better'],
  ): TotalsRow => ({
    id,
    label,
    a: va,
    b: vb,
    better,
    delta: va !== undefined && vb !== undefined ? vb - va : undefined,
    ratio: va !== undefined && vb !== undefined && va !== 0 ? vb / va : undefined,
  });
  return [
    row('bytesOut', 'Size after', a.totals.bytesOut, b.totals.bytesOut, 'lower'),
    row('bpw', 'Average bpw', a.totals.bpw, b.totals.bpw, 'lower'),
    row('meanRel', 'Mean relative error', ea.mean, eb.mean, 'lower'),
    row('medianRel', 'Median relative error', ea.median, eb.median, 'lower'),
    row('maxRel', 'Max relative error', ea.max, eb.max, 'lower'),
    row('seconds', 'Run time', a.totals.seconds, b.totals.seconds, 'lower'),
    row('quantized', 'Tensors quantized', a.totals.quantized, b.totals.quantized, 'none'),
  ];
}

function formatOf(t: TensorResult | undefined): string | undefined {
  if (!t) return undefined;
  return isKept(t) ? 'keep' : t.format;
}

export function compareToCsv(rows: readonly JoinedRow[]): string {
  return toCsv(
    [
      'name',
      'status',
      'format_a',
      'format_b',
      'bpw_a',
      'bpw_b',
      'bpw_delta',
      'rel_error_a',
      'rel_error_b',
      'rel_error_ratio',
    ],
    rows.map((r) => [
      r.name,
      r.status,
      formatOf(r.a),
      formatOf(r.b),
      r.a?.bpw,
      r.b?.bpw,
      r.bpwDelta,
      r.a?.relError,
      r.b?.relError,
      r.relRatio,
    ]),
  );
}
