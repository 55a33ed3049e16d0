// Compare Runs: any number of run reports as one row each (size, bits per weight and the
// evaluation's figures, for the size-vs-KL chart), and two of them (A and B) joined by
// tensor name with the deltas.
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

/** One run in the runs table and the size-vs-KL chart. */
export interface RunRow {
  index: number;
  /** "A", "B", ... "Z", "AA", ... */
  letter: string;
  name: string;
  file: string;
  bytes: number;
  bpw: number;
  /** Present when the run evaluated: the figures llama-perplexity --kl-divergence prints. */
  ppl?: number;
  pplUncertainty?: number;
  pplOriginal?: number;
  lnPplRatio?: number;
  lnPplRatioUncertainty?: number;
  klMean?: number;
  klUncertainty?: number;
  klMedian?: number;
  klP99?: number;
  klMax?: number;
  deltaPRms?: number;
  sameTop?: number;
  sameTopUncertainty?: number;
  /** What the evaluation ran on: "text wiki.test.raw, 40 windows" */
  evaluatedOn?: string;
}

export function runLetter(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(65 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

export function runRows(reports: readonly { file: string; report: RunReport }[]): RunRow[] {
  return reports.map(({ file, report }, index) => {
    const e = report.evaluation;
    const row: RunRow = {
      index,
      letter: runLetter(index),
      name: report.recipe.name ?? (file.split(/[\\/]/).pop() || file),
      file,
      bytes: report.totals.bytesOut,
      bpw: report.totals.bpw,
    };
    if (e) {
      row.ppl = e.perplexityQuantized;
      row.pplUncertainty = e.perplexityQuantizedUncertainty;
      row.pplOriginal = e.perplexityOriginal;
      row.lnPplRatio = e.lnPerplexityRatio ?? Math.log(e.perplexityQuantized / e.perplexityOriginal);
      row.lnPplRatioUncertainty = e.lnPerplexityRatioUncertainty;
      row.klMean = e.kl?.mean ?? e.klMean;
      row.klUncertainty = e.kl?.uncertainty;
      row.klMedian = e.kl?.median;
      row.klP99 = e.kl?.p99 ?? e.klP99;
      row.klMax = e.kl?.max ?? e.klMax;
      row.deltaPRms = e.deltaP?.rms;
      row.sameTop = e.sameTop?.share ?? e.top1Agreement;
      row.sameTopUncertainty = e.sameTop?.uncertainty;
      const src = e.source.path ? e.source.path.split(/[\\/]/).pop() : `seed ${e.source.seed}`;
      row.evaluatedOn = `${e.source.kind} ${src}, ${e.sequences} sequences, ${e.tokens} scored tokens`;
    }
    return row;
  });
}

/** Runs evaluated on different data cannot be compared by their figures: the distinct sources. */
export function evaluationSources(rows: readonly RunRow[]): string[] {
  return [...new Set(rows.filter((r) => r.evaluatedOn).map((r) => r.evaluatedOn!))];
}

export function runsToCsv(rows: readonly RunRow[]): string {
  return toCsv(
    [
      'run',
      'name',
      'file',
      'bytes',
      'bpw',
      'ppl_quantized',
      'ppl_quantized_unc',
      'ppl_original',
      'ln_ppl_ratio',
      'ln_ppl_ratio_unc',
      'kld_mean',
      'kld_mean_unc',
      'kld_median',
      'kld_p99',
      'kld_max',
      'delta_p_rms',
      'same_top',
      'same_top_unc',
    ],
    rows.map((r) => [
      r.letter,
      r.name,
      r.file,
      r.bytes,
      r.bpw,
      r.ppl,
      r.pplUncertainty,
      r.pplOriginal,
      r.lnPplRatio,
      r.lnPplRatioUncertainty,
      r.klMean,
      r.klUncertainty,
      r.klMedian,
      r.klP99,
      r.klMax,
      r.deltaPRms,
      r.sameTop,
      r.sameTopUncertainty,
    ]),
  );
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
