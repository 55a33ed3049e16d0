// The run report: what `bitsmith run --json` prints, the last line of --events, and the
// file kept beside the recipe:
//   <recipe dir>/.bitsmith/reports/<recipe name>-<ISO timestamp>.json   (one per run)
//   <recipe dir>/.bitsmith/reports/<recipe name>-latest.json            (the last run)
// (or the same names in the folder given by --report-dir)
// where <recipe name> is the recipe's file name without .quant and the timestamp is UTC
// with ':' replaced by '-' (2025-01-31T12-00-00.000Z), so file names sort by time.
import * as fs from 'fs';
import * as path from 'path';
import {
  EVALUATION_GROUP_TITLES,
  entryAt,
  evaluationBasis,
  evaluationRows,
  fmt,
  maxOf,
  formatBytes,
  removeStaleTemps,
  writeFileAtomic,
  type PlanJson,
  type ReportOutput,
  type RunReport,
} from '../../../core/src/index';
export type { RunReport } from '../../../core/src/index';
import { table } from '../table';
import type { CalibrationEvent, DoneEvent, EvaluationEvent, ImportanceEvent, TensorEvent } from './native';

export function buildReport(args: {
  version: string;
  recipePath: string;
  recipeName?: string;
  plan: PlanJson;
  output?: string;
  outputKind?: 'fake' | 'compressed_tensors';
  gguf?: ReportOutput;
  imatrix?: ReportOutput;
  started: Date;
  finished: Date;
  tensors: TensorEvent[];
  done: DoneEvent;
  calibration?: CalibrationEvent;
  importance?: ImportanceEvent;
  evaluation?: EvaluationEvent;
  allocation?: RunReport['allocation'];
}): RunReport {
  const planBpw = new Map(args.plan.tensors.map((t) => [t.name, t]));
  const strip = <T extends { type: string }>(e: T | undefined): Omit<T, 'type'> | undefined => {
    if (!e) return undefined;
    const { type: _t, ...rest } = e;
    return rest;
  };
  const extra: Pick<RunReport, 'calibration' | 'importance' | 'evaluation' | 'allocation'> = {};
  if (args.allocation) extra.allocation = args.allocation;
  if (args.calibration) extra.calibration = strip(args.calibration);
  if (args.importance) extra.importance = strip(args.importance);
  if (args.evaluation) extra.evaluation = strip(args.evaluation);
  return {
    type: 'report',
    reportVersion: 1,
    bitsmith: args.version,
    recipe: { path: args.recipePath, name: args.recipeName },
    model: args.plan.model,
    output: args.output ? { kind: args.outputKind ?? 'fake', path: args.output } : (args.gguf ?? null),
    outputs: [
      ...(args.output ? [{ kind: args.outputKind ?? 'fake', path: args.output }] : []),
      ...(args.gguf ? [args.gguf] : []),
      ...(args.imatrix ? [args.imatrix] : []),
    ],
    threads: args.done.threads,
    started: args.started.toISOString(),
    finished: args.finished.toISOString(),
    rules: args.plan.rules.map((r) => ({ index: r.index, label: r.label, line: r.line })),
    tensors: args.tensors.map(({ type: _t, ...rest }) => {
      const p = planBpw.get(rest.name);
      // gptq/awq on a weight without input activations ran as rtn: say what was asked.
      const asked = p?.method && rest.method && p.method !== rest.method ? { methodRequested: p.method } : {};
      return { ...rest, planBpw: p?.bpw ?? rest.bpw, decidedBy: p?.decidedBy, ...asked };
    }),
    totals: { ...args.done.totals, planBpw: args.plan.totals.bpw },
    ...(args.done.phases ? { phases: args.done.phases } : {}),
    budget: args.plan.budget,
    ...extra,
  };
}

/** Bytes produced must be the plan's, tensor by tensor: the figure shown is the figure written. */
export function checkAgainstPlan(plan: PlanJson, tensors: TensorEvent[], done: DoneEvent): string | undefined {
  const byName = new Map(plan.tensors.map((t) => [t.name, t]));
  for (const e of tensors) {
    const p = byName.get(e.name);
    if (!p) continue;
    // A tensor with no elements has no bits per weight (the plan gives its source's): bytes only.
    const empty = p.shape.some((d) => d === 0);
    if ((!empty && e.bpw !== p.bpw) || e.bytesOut !== p.bytesOut) {
      return `internal error: bpw mismatch for tensor ${e.name}: the plan says ${fmt(p.bpw)} bpw (${p.bytesOut} bytes), the backend produced ${fmt(e.bpw)} bpw (${e.bytesOut} bytes)`;
    }
  }
  if (done.totals.bytesOut !== plan.totals.bytesOut) {
    return `internal error: bpw mismatch for the model: the plan says ${plan.totals.bytesOut} bytes, the backend produced ${done.totals.bytesOut}`;
  }
  return undefined;
}

export function reportPaths(
  recipePath: string,
  when: Date,
  reportDir?: string,
): { dir: string; file: string; latest: string } {
  const dir = reportDir ? path.resolve(reportDir) : path.join(path.dirname(recipePath), '.bitsmith', 'reports');
  const base = path.basename(recipePath).replace(/\.quant$/i, '');
  const stamp = when.toISOString().replace(/:/g, '-');
  return { dir, file: path.join(dir, `${base}-${stamp}.json`), latest: path.join(dir, `${base}-latest.json`) };
}

/** Writes the report (whole or not at all: core/src/io/atomicWrite.ts) and returns its path.
 *  A file already at either name is replaced only when it is a Bitsmith report. */
export function saveReport(report: RunReport, recipePath: string, reportDir?: string): string {
  const p = reportPaths(recipePath, new Date(report.finished), reportDir);
  fs.mkdirSync(p.dir, { recursive: true });
  removeStaleTemps(p.dir);
  const text = JSON.stringify(report, null, 2) + '\n';
  for (const file of [p.file, p.latest]) writeFileAtomic(file, text, { replaces: reportIdentity(file) });
  return p.file;
}

/** The identity of the Bitsmith report at file (null: nothing there); throws when something else is there. */
function reportIdentity(file: string): string | null {
  const e = entryAt(file);
  if (!e) return null;
  let ours = false;
  if (e.kind === 'file') {
    try {
      const r = JSON.parse(fs.readFileSync(file, 'utf8')) as { type?: unknown; bitsmith?: unknown };
      ours = r?.type === 'report' && typeof r.bitsmith === 'string';
    } catch {
      ours = false;
    }
  }
  if (!ours)
    throw new Error(
      `${file} exists and is not a Bitsmith report: not replaced (delete it or use another --report-dir)`,
    );
  return e.id;
}

const num = (x: number | undefined, digits = 4): string =>
  x === undefined || x === null ? '' : !Number.isFinite(x) ? (x > 0 ? 'inf' : '-inf') : x.toPrecision(digits);

export function seconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms` : `${s.toFixed(2)} s`;
}

/** The per-tensor table and the totals, for a terminal. */
export function formatReport(r: RunReport): string {
  const withOut = r.tensors.some((t) => t.outputSqnrDb !== undefined);
  const rows = r.tensors.map((t) => [
    t.name,
    t.shape.join('x'),
    t.action === 'keep'
      ? `keep (${t.dtype})`
      : `${t.format}${t.config?.symmetric === false ? ' asym' : ''}${t.config?.groupKind === 'size' ? ` g${t.config.group}` : t.config?.groupKind ? ` ${t.config.groupKind}` : ''}${t.method && t.method !== 'rtn' ? ` ${t.method}` : ''}${t.methodRequested ? ` (${t.methodRequested} -> rtn: no input activations)` : ''}`,
    fmt(t.bpw),
    t.action === 'keep' ? '' : num(t.relError, 3),
    t.action === 'keep' ? '' : num(t.sqnrDb, 4),
    t.action === 'keep' ? '' : num(t.maxAbsError, 3),
    ...(withOut ? [t.outputSqnrDb === undefined ? '' : num(t.outputSqnrDb, 4)] : []),
    seconds(t.seconds),
  ]);
  const head = [
    'tensor',
    'shape',
    'format',
    'bpw',
    'rel err',
    'SQNR dB',
    'max abs err',
    ...(withOut ? ['out SQNR dB'] : []),
    'time',
  ];
  const out = [table(head, rows, withOut ? [3, 4, 5, 6, 7, 8] : [3, 4, 5, 6, 7])];
  const tot = r.totals;
  const sites = new Map<string, NonNullable<RunReport['tensors'][number]['awq']>>();
  for (const t of r.tensors) if (t.awq) sites.set(t.awq.shared.join(','), t.awq);
  if (sites.size) {
    out.push('');
    out.push(
      'awq (one scaling per input, shared by its tensors; search error = sum of tr(dW H dW^T), relative to rtn):',
    );
    for (const a of sites.values()) {
      const rel = a.searchErrorRtn > 0 ? `${num(100 * (a.searchError / a.searchErrorRtn - 1), 3)}%` : 'n/a';
      out.push(
        `  ${a.shared.join(', ')}: ${a.note ? `${a.note}` : `alpha ${fmt(a.alpha)} (grid point ${a.gridPoint} of ${a.grid}), scales ${num(a.scaleMin, 3)} .. ${num(a.scaleMax, 3)}, search error ${rel}${a.foldedInto ? `; 1/s folded into ${/(up|v)_proj\.weight$/.test(a.foldedInto) ? 'the rows of ' : ''}${a.foldedInto}` : ''}, ${seconds(a.seconds)}`}`,
      );
    }
  }
  out.push('');
  out.push(
    `total: ${tot.quantized} of ${tot.tensors} tensors quantized, ${tot.params.toLocaleString('en-US')} params, ` +
      `${formatBytes(tot.bytesIn)} -> ${formatBytes(tot.bytesOut)} (${fmt(tot.bpw)} bpw), ${seconds(tot.seconds)} on ${r.threads} thread${r.threads === 1 ? '' : 's'}, ` +
      `${(tot.bytesIn / 1e9 / Math.max(tot.seconds, 1e-9)).toFixed(2)} GB/s of weights, peak RSS ${formatBytes(tot.peakRssBytes)}`,
  );
  if (r.phases && Object.keys(r.phases).length)
    out.push(
      `phases: ${Object.entries(r.phases)
        .map(([k, v]) => `${k} ${seconds(v)}`)
        .join(', ')}`,
    );
  if (r.budget)
    out.push(
      `budget: ${formatBytes(r.budget.bytes)} (${fmt(r.budget.bpw)} bpw): ${r.budget.fits ? 'fits' : `OVER by ${formatBytes(r.budget.overBytes)}`}`,
    );
  if (r.calibration) {
    const c = r.calibration;
    out.push(
      `calibration: ${c.source.sequences} ${c.source.kind} sequences (${c.source.path ? c.source.path : `seed ${c.source.seed}`}), ${c.source.tokens} tokens, ` +
        `${c.hessians} Hessians, one layer at a time${c.sequential === false ? ' on the original model' : c.sequential ? " on the quantized layers' outputs (sequential)" : ''}${r.phases?.calibration !== undefined ? ` in ${seconds(r.phases.calibration)}` : ` in ${seconds(c.seconds)}`}; out SQNR dB = output error on these inputs, 10 log10 tr(W H W^T) / tr(dW H dW^T)`,
    );
  }
  if (r.importance?.source === 'imatrix') {
    const i = r.importance;
    out.push(
      `calibration: imatrix ${i.path} (${i.format}, ${i.entries} entries) weights ${i.tensors} tensors; out SQNR dB is its diagonal estimate ` +
        '10 log10 sum_j d_j |W_:j|^2 / sum_j d_j |dW_:j|^2 (d = mean x^2 per input: the diagonal of X^T X only, not the full-Hessian figure)',
    );
  }
  if (r.evaluation) {
    const e = r.evaluation;
    const src = e.source.kind === 'tokens' || e.source.kind === 'text' ? e.source.path : `seed ${e.source.seed}`;
    out.push(
      `evaluation on held-out ${e.source.kind} (${src}): ${evaluationBasis(e)}, ${seconds(e.seconds)}` +
        (e.logitsCache ? `; original logits ${e.logitsCache === 'hit' ? 'from the cache' : 'cached'}` : ''),
    );
    const rows = evaluationRows(e);
    const width = maxOf(
      rows.map((x) => x.label.length),
      0,
    );
    let group = '';
    for (const row of rows) {
      if (row.group !== group) {
        group = row.group;
        out.push(`  ${EVALUATION_GROUP_TITLES[row.group]}:`);
      }
      out.push(`    ${row.label.padEnd(width)} : ${row.value}`);
    }
  }
  if (r.allocation) {
    const a = r.allocation;
    const kl = a.metric !== 'weight';
    out.push(
      `allocation (metric ${a.metric}): ${Object.entries(a.counts)
        .sort((x, y) => y[1] - x[1])
        .map(([f, n]) => `${n} ${f}`)
        .join(
          ', ',
        )}; predicted ${kl ? 'KL' : 'error'} ${num(a.predictedError, 4)}${kl && r.evaluation ? `, measured KL ${num(r.evaluation.klMean, 4)} (ratio ${num(r.evaluation.klMean / a.predictedError, 3)})` : ''}`,
    );
  }
  const outs = r.outputs ?? (r.output ? [r.output] : []);
  if (!outs.length) out.push('output: none (the recipe has no output statement; metrics only)');
  for (const o of outs) {
    out.push(
      `output ${o.kind}: ${o.path}${o.kind === 'gguf' ? ` (architecture ${o.architecture}, tokenizer: ${o.tokenizer})` : ''}`,
    );
    for (const w of o.warnings ?? []) out.push(`  warning: ${w}`);
    for (const n of o.notes ?? []) out.push(`  note: ${n}`);
  }
  return out.join('\n');
}
