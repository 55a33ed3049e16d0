// Measuring for `allocate`: one native run per candidate format over the tensors still
// missing that format's figures (every other tensor kept, nothing written, no evaluation),
// with the recipe's calibration so every linear weight also gets tr(dW H dW^T). The
// figures go into the measurement table (core/src/allocate/measurements.ts), which is
// saved after every format, so a cancelled measurement keeps what it finished.
import {
  MEASUREMENTS_VERSION, gptqRunsFor, loadMeasurements, planToJson, resolvePlan, saveMeasurements,
  type Analysis, type MeasurementTable, type MissingMeasurement, type PlanJson,
} from '../../../core/src/index';
import type { LoadedRecipe } from '../load';
import { buildJob } from './job';
import type { NativeAddon, RunEvent, TensorEvent } from './native';

export interface MeasureProgress {
  format: string;
  formatIndex: number;
  formats: number;
  tensor?: string;
  done: number;
  total: number;
}

export interface MeasureHandle {
  cancel(): void;
}

/** Measures `missing` (from analysis.allocation) and saves them; resolves to the table. */
export async function measure(loaded: LoadedRecipe, native: NativeAddon, opts: { threads: number; version: string; onProgress?: (p: MeasureProgress) => void; onHandle?: (h: MeasureHandle) => void }): Promise<MeasurementTable> {
  const { analysis } = loaded;
  const state = analysis.allocation;
  if (!state?.context || !state.file) throw new Error('allocate: nothing to measure (no allocation, or the recipe is not saved)');
  const table: MeasurementTable = loadMeasurements(state.file, state.context) ?? { version: MEASUREMENTS_VERSION, context: state.context, entries: {} };
  const byFormat = new Map<string, MissingMeasurement[]>();
  for (const m of state.missing) {
    const list = byFormat.get(m.format);
    if (list) list.push(m);
    else byFormat.set(m.format, [m]);
  }
  const total = state.missing.length;
  let done = 0;
  let fi = 0;
  for (const [format, list] of byFormat) {
    const wanted = new Map(list.map((m) => [m.index, m]));
    const plan = planFor(analysis, loaded.text, wanted, format);
    const job = buildJob(loaded, plan, { threads: opts.threads, version: opts.version });
    delete job.evaluate;
    job.tensors = job.tensors.map((t, i) => (wanted.has(i) ? t : { name: t.name, shape: t.shape, action: 'keep' as const }));
    opts.onProgress?.({ format, formatIndex: fi, formats: byFormat.size, done, total });
    const events: TensorEvent[] = [];
    const handle = native.startRun(job, (e: RunEvent) => {
      if (e.type !== 'tensor' || e.action !== 'quantize') return;
      events.push(e);
      done++;
      opts.onProgress?.({ format, formatIndex: fi, formats: byFormat.size, tensor: e.name, done, total });
    });
    opts.onHandle?.(handle);
    await handle.done;
    for (const e of events) {
      const m = [...wanted.values()].find((w) => w.tensor === e.name);
      if (!m) continue;
      table.entries[m.key] = {
        tensor: e.name, format, method: e.method ?? 'rtn', bytes: e.bytesOut,
        relError: e.relError ?? 0, squaredError: e.squaredError ?? 0,
        ...(e.outputErrorSum !== undefined ? { outputErrorSum: e.outputErrorSum, outputError: e.outputError } : {}),
      };
    }
    saveMeasurements(state.file, table);
    fi++;
  }
  return table;
}

/** The plan with `format` on the wanted tensors. A method that does not run for the format
 * (gptq into ggml blocks) measures with rtn, recorded as such in the entry. */
function planFor(analysis: Analysis, text: string, wanted: Map<number, MissingMeasurement>, format: string): PlanJson {
  const plan = resolvePlan(analysis.recipe, analysis.model!, (ti) => (wanted.has(ti) ? format : undefined));
  const json = planToJson({ ...analysis, plan }, text)!;
  json.tensors = json.tensors.map((t, i) => (wanted.has(i) && t.method === 'gptq' && !gptqRunsFor(format) ? { ...t, method: 'rtn', methodOptions: {} } : t));
  return json;
}
