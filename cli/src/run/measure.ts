// Measuring for `allocate`: one native run per candidate format over the tensors still
// missing that format's figures (every other tensor kept, nothing written, no evaluation),
// with the recipe's calibration so every linear weight also gets tr(dW H dW^T). The
// figures go into the measurement table (core/src/allocate/measurements.ts), which is
// saved after every format, so a cancelled measurement keeps what it finished.
import {
  KLD_SEQUENCES,
  MEASUREMENTS_VERSION,
  loadMeasurements,
  logitsCacheDir,
  planToJson,
  resolvePlan,
  saveMeasurements,
  type Analysis,
  type MeasurementTable,
  type MissingMeasurement,
  type PlanJson,
} from '../../../core/src/index';
import type { LoadedRecipe } from '../load';
import { buildJob } from './job';
import type { NativeAddon, RunEvent, TensorEvent } from './native';

export interface MeasureProgress {
  /** error: one pass per format; kld: one pass per (tensor, format). */
  phase: 'error' | 'kld';
  format: string;
  formatIndex: number;
  formats: number;
  tensor?: string;
  done: number;
  total: number;
}

/** One line of progress for a terminal. */
export function measureText(p: MeasureProgress): string {
  return p.phase === 'error'
    ? `allocate: measuring ${p.format} (format ${p.formatIndex + 1}/${p.formats}), ${p.done}/${p.total}${p.tensor ? ` ${p.tensor}` : ''}`
    : `allocate: KL divergence ${p.formatIndex + 1}/${p.formats}: ${p.tensor} as ${p.format}`;
}

export interface MeasureHandle {
  cancel(): void;
}

/** Measures `missing` (from analysis.allocation) and saves them; resolves to the table. */
export async function measure(
  loaded: LoadedRecipe,
  native: NativeAddon,
  opts: {
    threads: number;
    version: string;
    onProgress?: (p: MeasureProgress) => void;
    onHandle?: (h: MeasureHandle) => void;
  },
): Promise<MeasurementTable> {
  const { analysis } = loaded;
  const state = analysis.allocation;
  if (!state?.context || !state.file)
    throw new Error('allocate: nothing to measure (no allocation, or the recipe is not saved)');
  const table: MeasurementTable = loadMeasurements(state.file, state.context) ?? {
    version: MEASUREMENTS_VERSION,
    context: state.context,
    entries: {},
  };
  const byFormat = new Map<string, MissingMeasurement[]>();
  for (const m of state.missing) {
    if (m.kind !== 'error') continue;
    const list = byFormat.get(m.format);
    if (list) list.push(m);
    else byFormat.set(m.format, [m]);
  }
  const klds = state.missing.filter((m) => m.kind === 'kld');
  const total = state.missing.length;
  let done = 0;
  let fi = 0;
  for (const [format, list] of byFormat) {
    const wanted = new Map(list.map((m) => [m.index, m]));
    const job = measureJob(loaded, wanted, format, opts);
    delete job.evaluate;
    opts.onProgress?.({ phase: 'error', format, formatIndex: fi, formats: byFormat.size, done, total });
    const events: TensorEvent[] = [];
    const handle = native.startRun(job, (e: RunEvent) => {
      if (e.type !== 'tensor' || e.action !== 'quantize') return;
      events.push(e);
      done++;
      opts.onProgress?.({
        phase: 'error',
        format,
        formatIndex: fi,
        formats: byFormat.size,
        tensor: e.name,
        done,
        total,
      });
    });
    opts.onHandle?.(handle);
    await handle.done;
    for (const e of events) {
      const m = list.find((w) => w.tensor === e.name);
      if (!m) continue;
      table.entries[m.key] = {
        tensor: e.name,
        format,
        method: e.method ?? 'rtn',
        bytes: e.bytesOut,
        relError: e.relError ?? 0,
        squaredError: e.squaredError ?? 0,
        ...(e.outputErrorSum !== undefined ? { outputErrorSum: e.outputErrorSum, outputError: e.outputError } : {}),
      };
    }
    saveMeasurements(state.file, table);
    fi++;
  }
  // KL divergence with one tensor quantized: the runner's evaluation of original vs this
  // fake-quantized model, on sequences generated with the calibration's seed.
  const seed = analysis.recipe.calibration?.seed ?? 0;
  for (const [k, m] of klds.entries()) {
    const entry = table.entries[m.key];
    if (!entry)
      throw new Error(`internal: ${m.tensor} as ${m.format} has no error measurement before its KL divergence`);
    // The calibration stays even for rtn: with it, rtn's searches (ggml blocks, clip mse,
    // outliers) are weighted by the Hessian diagonal, and the KL must be that of the
    // tensor `run` writes, not of an unweighted one.
    const job = measureJob(loaded, new Map([[m.index, m]]), m.format, opts);
    job.evaluate = { kind: 'generated', samples: KLD_SEQUENCES.samples, length: KLD_SEQUENCES.length, seed };
    // Every pass compares with the same original on the same sequences: its logits are
    // computed once and read from the cache by the other passes.
    job.logitsCache = logitsCacheDir(loaded.path);
    opts.onProgress?.({
      phase: 'kld',
      format: m.format,
      formatIndex: k,
      formats: klds.length,
      tensor: m.tensor,
      done,
      total,
    });
    let kl: number | undefined;
    const handle = native.startRun(job, (e: RunEvent) => {
      if (e.type === 'evaluation') kl = e.klMean;
    });
    opts.onHandle?.(handle);
    await handle.done;
    if (kl === undefined || !Number.isFinite(kl))
      throw new Error(`measuring the KL divergence of ${m.tensor} as ${m.format} gave no figure`);
    entry.kld = Math.max(0, kl);
    done++;
    // Saved every few, so an interrupted measurement keeps most of its work.
    if (k % 8 === 7 || k === klds.length - 1) saveMeasurements(state.file, table);
  }
  return table;
}

/** A job quantizing the wanted tensors as `format` and keeping every other one, writing nothing. */
function measureJob(
  loaded: LoadedRecipe,
  wanted: Map<number, MissingMeasurement>,
  format: string,
  opts: { threads: number; version: string },
) {
  const plan = planFor(loaded.analysis, loaded.text, wanted, format);
  const job = buildJob(loaded, plan, { threads: opts.threads, version: opts.version });
  job.tensors = job.tensors.map((t, i) =>
    wanted.has(i) ? t : { name: t.name, shape: t.shape, action: 'keep' as const },
  );
  return job;
}

/** The plan with `format` on the wanted tensors (candidates their method cannot run on are
 * excluded by the setup, so every method runs as the recipe says). */
function planFor(analysis: Analysis, text: string, wanted: Map<number, MissingMeasurement>, format: string): PlanJson {
  const plan = resolvePlan(analysis.recipe, analysis.model!, (ti) => (wanted.has(ti) ? format : undefined));
  return planToJson({ ...analysis, plan }, text)!;
}
