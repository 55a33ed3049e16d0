// The evaluation's figures as llama-perplexity --kl-divergence prints them (its labels, its
// decimals), one row per figure: the CLI's report, the report panel and Compare Runs show
// these rows. Reports written before the distributions existed have only the means; their
// rows say what they have.
import type { EvalDistribution, EvaluationEvent } from './runReport';

export interface EvaluationRow {
  group: 'perplexity' | 'kl' | 'deltaP';
  label: string;
  value: string;
}

type Evaluation = Omit<EvaluationEvent, 'type'>;

const fixed = (x: number | undefined, digits: number): string =>
  x === undefined || x === null ? '—' : !Number.isFinite(x) ? (x > 0 ? 'inf' : '-inf') : x.toFixed(digits);
const pm = (x: number | undefined, u: number | undefined, digits: number, udigits = digits): string =>
  u === undefined ? fixed(x, digits) : `${fixed(x, digits)} ± ${fixed(u, udigits)}`;
const pct = (x: number | undefined, digits = 3): string => (x === undefined ? '—' : `${fixed(100 * x, digits)}%`);
const pmPct = (x: number | undefined, u: number | undefined): string =>
  x === undefined ? '—' : u === undefined ? pct(x) : `${fixed(100 * x, 3)} ± ${fixed(100 * u, 3)}%`;

/** Percentile rows from the top down, as llama-perplexity lists them. */
function order(d: EvalDistribution, keys: [keyof EvalDistribution, string][], f: (x: number) => string) {
  return keys.map(([k, label]) => ({ label, value: f(d[k]) }));
}

export function evaluationRows(e: Evaluation): EvaluationRow[] {
  const rows: EvaluationRow[] = [];
  const add = (group: EvaluationRow['group'], label: string, value: string) => rows.push({ group, label, value });
  add('perplexity', 'PPL(original)', pm(e.perplexityOriginal, e.perplexityOriginalUncertainty, 6));
  add('perplexity', 'PPL(quantized)', pm(e.perplexityQuantized, e.perplexityQuantizedUncertainty, 6));
  if (e.lnPerplexityRatio !== undefined) {
    add('perplexity', 'ln(PPL(Q)/PPL(base))', pm(e.lnPerplexityRatio, e.lnPerplexityRatioUncertainty, 6));
    const r = Math.exp(e.lnPerplexityRatio);
    add('perplexity', 'PPL(Q)/PPL(base)', pm(r, r * (e.lnPerplexityRatioUncertainty ?? 0), 6));
    add('perplexity', 'Cor(ln(PPL(Q)), ln(PPL(base)))', pct(e.nllCorrelation, 2));
  } else if (e.perplexityOriginal > 0) {
    add('perplexity', 'PPL(Q)/PPL(base)', fixed(e.perplexityQuantized / e.perplexityOriginal, 6));
  }
  const kl = e.kl;
  if (kl) {
    add('kl', 'Mean KLD', pm(kl.mean, kl.uncertainty, 6));
    for (const r of order(
      kl,
      [
        ['max', 'Maximum KLD'],
        ['p999', '99.9% KLD'],
        ['p99', '99.0% KLD'],
        ['p95', '95.0% KLD'],
        ['p90', '90.0% KLD'],
        ['median', 'Median KLD'],
        ['p10', '10.0% KLD'],
        ['p5', '5.0% KLD'],
        ['p1', '1.0% KLD'],
        ['min', 'Minimum KLD'],
      ],
      (x) => fixed(x, 6),
    ))
      add('kl', r.label, r.value);
  } else {
    add('kl', 'Mean KLD', fixed(e.klMean, 6));
    add('kl', '99.0% KLD', fixed(e.klP99, 6));
    add('kl', 'Maximum KLD', fixed(e.klMax, 6));
  }
  const dp = e.deltaP;
  if (dp) {
    add('deltaP', 'Mean Δp', pmPct(dp.mean, dp.uncertainty));
    for (const r of order(
      dp,
      [
        ['max', 'Maximum Δp'],
        ['p999', '99.9% Δp'],
        ['p99', '99.0% Δp'],
        ['p95', '95.0% Δp'],
        ['p90', '90.0% Δp'],
        ['p75', '75.0% Δp'],
        ['median', 'Median Δp'],
        ['p25', '25.0% Δp'],
        ['p10', '10.0% Δp'],
        ['p5', '5.0% Δp'],
        ['p1', '1.0% Δp'],
        ['min', 'Minimum Δp'],
      ],
      (x) => pct(x),
    ))
      add('deltaP', r.label, r.value);
    add('deltaP', 'RMS Δp', pmPct(dp.rms, dp.rmsUncertainty));
  }
  add('deltaP', 'Same top p', pmPct(e.sameTop?.share ?? e.top1Agreement, e.sameTop?.uncertainty));
  return rows;
}

export const EVALUATION_GROUP_TITLES: Record<EvaluationRow['group'], string> = {
  perplexity: 'Perplexity statistics',
  kl: 'KL divergence statistics',
  deltaP: 'Token probability statistics',
};

/** The windows an evaluation scored, in words: "32 windows of 512 tokens, second half scored". */
export function evaluationBasis(e: Evaluation): string {
  const from = e.scoreFrom ?? 0;
  const per = e.sequences > 0 ? Math.round(e.tokens / e.sequences) : 0;
  const scored = from > 0 ? `positions ${from}..${from + per - 1} of each scored` : 'every position scored';
  return `${e.sequences} sequence${e.sequences === 1 ? '' : 's'}, ${e.tokens} scored token${e.tokens === 1 ? '' : 's'} (${scored})`;
}
