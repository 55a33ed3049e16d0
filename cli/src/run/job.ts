// From an analysed recipe to the backend's job: what the runner cannot execute yet is
// refused up front, each problem placed on the statement that asks for it (no silent
// fallback), and the plan's tensors become the job's tensor list.
import * as fs from 'fs';
import * as path from 'path';
import {
  buildGgufSpec,
  ggufName,
  compressedTensorsConfig,
  ggufNativeSpec,
  hasInputActivations,
  logitsCacheDir,
  isRegularFile,
  notExecutable,
  readRegularFile,
  type Diagnostic,
  type GgufSpec,
  type Plan,
  type PlanJson,
  type TensorPlanJson,
} from '../../../core/src/index';
import type { LoadedRecipe } from '../load';
import type { JobConfig, RunJob } from './native';
import { maxPositionsOf, perplexityWindows, textWindows } from './textCalibration';

/** One error per statement the backend cannot execute yet (core's list, shared with the editor). */
export function unsupportedFeatures(loaded: LoadedRecipe, plan: Plan): Diagnostic[] {
  return notExecutable(loaded.analysis.recipe, plan, 'error');
}

export function jobConfig(t: TensorPlanJson): JobConfig {
  // gptq/awq need a layer's input activations: weights without them run as rtn (the
  // analysis hints it on the rule; the report names the method asked for).
  const method =
    (t.method === 'gptq' || t.method === 'awq') && !hasInputActivations(t.name) ? 'rtn' : (t.method ?? 'rtn');
  return {
    format: t.format!,
    method,
    group: t.group!,
    groupKind: (t.groupKind ?? 'size') as JobConfig['groupKind'],
    symmetric: t.symmetric ?? true,
    scale: t.scale ?? 'f16',
    zero: t.zero ?? 'f16',
    clip: t.clip === 'mse' ? 'mse' : 'none',
    outliers: t.outliers ?? 0,
    lowrank: t.lowrank ?? 0,
    rotate: t.rotate === 'hadamard' ? 'hadamard' : 'none',
    ...(method === 'gptq' ? gptqOptions(t.methodOptions ?? {}) : {}),
    ...(t.method === 'hqq' ? { hqq: hqqOptions(t.methodOptions ?? {}) } : {}),
    ...(method === 'awq' && typeof t.methodOptions?.grid === 'number' ? { grid: t.methodOptions.grid } : {}),
  };
}

function hqqOptions(o: Record<string, number | boolean>): NonNullable<JobConfig['hqq']> {
  const r: NonNullable<JobConfig['hqq']> = {};
  if (typeof o.iters === 'number') r.iters = o.iters;
  if (typeof o.lp_norm === 'number') r.lpNorm = o.lp_norm;
  if (typeof o.beta === 'number') r.beta = o.beta;
  if (typeof o.kappa === 'number') r.kappa = o.kappa;
  return r;
}

function gptqOptions(o: Record<string, number | boolean>): Pick<JobConfig, 'damp' | 'block' | 'actOrder'> {
  const r: Pick<JobConfig, 'damp' | 'block' | 'actOrder'> = {};
  if (typeof o.damp === 'number') r.damp = o.damp;
  if (typeof o.block === 'number') r.block = o.block;
  if (typeof o.act_order === 'boolean') r.actOrder = o.act_order;
  return r;
}

/** The output a recipe asks for (absolute path), if any. */
export function fakeOutput(loaded: LoadedRecipe): string | undefined {
  const o = loaded.analysis.recipe.outputs.find((d) => d.kind === 'fake');
  return o ? path.resolve(path.dirname(loaded.path), o.path.value) : undefined;
}

/** The output `run` writes (fake or compressed_tensors; a recipe with both is refused by notExecutable). */
export function runOutput(loaded: LoadedRecipe): { kind: 'fake' | 'compressed_tensors'; path: string } | undefined {
  const o = loaded.analysis.recipe.outputs.find((d) => d.kind === 'fake' || d.kind === 'compressed_tensors');
  return o
    ? { kind: o.kind as 'fake' | 'compressed_tensors', path: path.resolve(path.dirname(loaded.path), o.path.value) }
    : undefined;
}

/** Files of a Hugging Face folder carried into a compressed-tensors folder unchanged (tokenizer,
 *  generation config, ...). Links are followed (a Hugging Face cache snapshot is links into its
 *  blobs); what they lead to must be a regular file. */
export function filesToCopy(modelPath: string): { from: string; name: string }[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(modelPath);
  } catch {
    return [];
  }
  if (!st.isDirectory()) return [];
  return fs
    .readdirSync(modelPath, { withFileTypes: true })
    .filter(
      (e) =>
        (e.isFile() || (e.isSymbolicLink() && isRegularFile(path.join(modelPath, e.name)))) &&
        !e.name.startsWith('.') &&
        e.name !== 'config.json' &&
        !/\.(safetensors|gguf|bin|pt|pth|ckpt)$/i.test(e.name) &&
        e.name !== 'model.safetensors.index.json',
    )
    .map((e) => ({ from: path.join(modelPath, e.name), name: e.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** config.json of a compressed-tensors folder: the model's own (when it has one) with quantization_config. */
export function compressedTensorsConfigJson(loaded: LoadedRecipe): string {
  const modelPath = loaded.analysis.modelPath!;
  const plan = loaded.analysis.plan!;
  let base: Record<string, unknown> = {};
  const dir = fs.existsSync(modelPath) && fs.statSync(modelPath).isDirectory() ? modelPath : path.dirname(modelPath);
  const file = path.join(dir, 'config.json');
  if (fs.existsSync(file)) {
    try {
      base = JSON.parse(readRegularFile(file, 64 * 1024 * 1024, 'config.json').toString('utf8')) as Record<
        string,
        unknown
      >;
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  return JSON.stringify({ ...base, quantization_config: compressedTensorsConfig(plan) }, null, 2) + '\n';
}

/** The output gguf path a recipe asks for (absolute), if any. */
export function ggufOutput(loaded: LoadedRecipe): string | undefined {
  const o = loaded.analysis.recipe.outputs.find((d) => d.kind === 'gguf');
  return o ? path.resolve(path.dirname(loaded.path), o.path.value) : undefined;
}

/** The imatrix output a recipe asks for (absolute path), if any. */
export function imatrixOutput(loaded: LoadedRecipe): string | undefined {
  const o = loaded.analysis.recipe.outputs.find((d) => d.kind === 'imatrix');
  return o ? path.resolve(path.dirname(loaded.path), o.path.value) : undefined;
}

/** The legacy layout for .dat (what llama-quantize of early 2025 reads), GGUF otherwise. */
export function imatrixFormat(file: string): 'gguf' | 'dat' {
  return /\.dat$/i.test(file) ? 'dat' : 'gguf';
}

/** Names, rotary permutations and metadata of the GGUF output (throws GgufSpecError). */
export function ggufSpecFor(loaded: LoadedRecipe, plan: PlanJson, version: string): GgufSpec {
  const model = loaded.analysis.model!;
  const formats: Record<string, string | undefined> = {};
  for (const t of plan.tensors) formats[t.name] = t.action === 'quantize' ? t.format : undefined;
  const name = loaded.analysis.recipe.name ?? path.basename(loaded.path, '.quant');
  return buildGgufSpec({
    model,
    formats,
    name,
    version,
    recipeText: loaded.text,
    tokenizer: loaded.analysis.ggufTokenizer,
  });
}

export function buildJob(
  loaded: LoadedRecipe,
  plan: PlanJson,
  opts: {
    threads: number;
    output?: string;
    outputKind?: 'fake' | 'compressed_tensors';
    /** What may be at the output when it is renamed there (the write-time check's Bitsmith output, or null: nothing). */
    outputReplaces?: string | null;
    version: string;
    gguf?: { path: string; spec: GgufSpec; replaces?: string | null };
    imatrix?: { path: string; replaces?: string | null };
  },
): RunJob {
  const job: RunJob = {
    model: loaded.analysis.modelPath ?? plan.model.path,
    // bytesOut: the runner checks each tensor's bytes against the plan before any rename.
    tensors: plan.tensors.map((t) =>
      t.action === 'quantize'
        ? { name: t.name, shape: t.shape, action: 'quantize' as const, config: jobConfig(t), bytesOut: t.bytesOut }
        : { name: t.name, shape: t.shape, action: 'keep' as const, bytesOut: t.bytesOut },
    ),
    threads: opts.threads,
  };
  const { recipe } = loaded.analysis;
  const cal = recipe.calibration;
  if (cal && (cal.kind === 'generated' || cal.kind === 'tokens')) {
    job.calibration = { kind: cal.kind, samples: cal.samples, length: cal.length, seed: cal.seed ?? 0 };
    if (cal.path) job.calibration.path = path.resolve(path.dirname(loaded.path), cal.path.value);
  } else if (cal?.kind === 'text' && cal.path) {
    // Tokenized here (the tokenizer is a JS library); the runner re-checks the ids.
    const file = path.resolve(path.dirname(loaded.path), cal.path.value);
    const modelPath = loaded.analysis.modelPath ?? plan.model.path;
    const maxPositions = loaded.analysis.model ? maxPositionsOf(loaded.analysis.model.config) : undefined;
    const w = textWindows(file, modelPath, { samples: cal.samples, length: cal.length, maxPositions });
    job.calibration = { kind: 'text', path: file, sequences: w.sequences };
  }
  if (cal?.kind === 'imatrix' && cal.path) job.imatrix = imatrixJob(loaded, plan);
  if (cal && cal.kind !== 'imatrix') job.sequential = cal.sequential ?? true;
  if (recipe.evaluate) {
    // Held out from the calibration: generated with another seed than calibration's.
    const seed = (cal?.kind === 'generated' ? (cal.seed ?? 0) : 0) + 1;
    const p = recipe.evaluate.perplexity;
    if (p?.text) {
      // Tokenized here, windowed as llama-perplexity does (the runner scores from scoreFrom).
      const file = path.resolve(path.dirname(loaded.path), p.text.value);
      const modelPath = loaded.analysis.modelPath ?? plan.model.path;
      const maxPositions = loaded.analysis.model ? maxPositionsOf(loaded.analysis.model.config) : undefined;
      const w = perplexityWindows(file, modelPath, { samples: p.samples, length: p.length, maxPositions });
      job.evaluate = { kind: 'text', path: file, sequences: w.sequences, scoreFrom: w.scoreFrom };
    } else
      job.evaluate = p?.tokens
        ? {
            kind: 'tokens',
            path: path.resolve(path.dirname(loaded.path), p.tokens.value),
            samples: p.samples,
            length: p.length,
          }
        : { kind: 'generated', samples: p?.samples, length: p?.length, seed };
    job.logitsCache = logitsCacheDir(loaded.path);
  }
  if (opts.output) {
    const ct = opts.outputKind === 'compressed_tensors';
    job.output = {
      kind: opts.outputKind ?? 'fake',
      path: opts.output,
      ...(opts.outputReplaces !== undefined ? { replaces: opts.outputReplaces } : {}),
      ...(ct
        ? {
            config: compressedTensorsConfigJson(loaded),
            copy: filesToCopy(loaded.analysis.modelPath ?? plan.model.path),
          }
        : {}),
      metadata: {
        'bitsmith.recipe': loaded.analysis.recipe.name ?? path.basename(loaded.path),
        'bitsmith.recipe_file': loaded.path,
      },
    };
  }
  if (opts.imatrix && job.calibration) {
    // Every linear weight of the layers (llama-imatrix's entries), in llama.cpp's names.
    const model = loaded.analysis.model!;
    const tensors: Record<string, string> = {};
    for (const t of plan.tensors) {
      if (!hasInputActivations(t.name) || !/^model\.layers\.\d+\./.test(t.name)) continue;
      const name = ggufName(t.name, model);
      if (name) tensors[t.name] = name;
    }
    const c = job.calibration;
    job.imatrixOutput = {
      path: opts.imatrix.path,
      format: imatrixFormat(opts.imatrix.path),
      ...(opts.imatrix.replaces !== undefined ? { replaces: opts.imatrix.replaces } : {}),
      tensors,
      dataset: c.path ?? `${c.kind} (seed ${c.seed ?? 0})`,
      chunkSize: c.sequences?.[0]?.length ?? c.length ?? 0,
      version: opts.version,
    };
  }
  if (opts.gguf)
    job.gguf = {
      path: opts.gguf.path,
      ...(opts.gguf.replaces !== undefined ? { replaces: opts.gguf.replaces } : {}),
      ...ggufNativeSpec(opts.gguf.spec),
    };
  return job;
}

/** calibration imatrix: the file and the entry of every quantized tensor that has one (the
 *  analysis matched them: core/src/analysis/imatrix.ts). */
function imatrixJob(loaded: LoadedRecipe, plan: PlanJson): NonNullable<RunJob['imatrix']> {
  const im = loaded.analysis.imatrix;
  const cal = loaded.analysis.recipe.calibration!;
  const file = path.resolve(path.dirname(loaded.path), cal.path!.value);
  if (!im) throw new Error(`${file}: the imatrix could not be read (see the diagnostics on the calibration line)`);
  const tensors: Record<string, string> = {};
  for (const t of plan.tensors) {
    const e = t.action === 'quantize' ? im.match.entryOf.get(t.name) : undefined;
    if (e) tensors[t.name] = e.name;
  }
  return { path: file, tensors };
}
