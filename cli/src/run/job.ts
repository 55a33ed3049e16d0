// From an analysed recipe to the backend's job: what the runner cannot execute yet is
// refused up front, each problem placed on the statement that asks for it (no silent
// fallback), and the plan's tensors become the job's tensor list.
import * as path from 'path';
import { buildGgufSpec, notExecutable, type Diagnostic, type GgufSpec, type Plan, type PlanJson, type TensorPlanJson } from '../../../core/src/index';
import type { LoadedRecipe } from '../load';
import type { JobConfig, RunJob } from './native';

/** One error per statement the backend cannot execute yet (core's list, shared with the editor). */
export function unsupportedFeatures(loaded: LoadedRecipe, plan: Plan): Diagnostic[] {
  return notExecutable(loaded.analysis.recipe, plan, 'error');
}

export function jobConfig(t: TensorPlanJson): JobConfig {
  return {
    format: t.format!,
    method: t.method ?? 'rtn',
    group: t.group!,
    groupKind: (t.groupKind ?? 'size') as JobConfig['groupKind'],
    symmetric: t.symmetric ?? true,
    scale: t.scale ?? 'f16',
    zero: t.zero ?? 'f16',
    clip: t.clip === 'mse' ? 'mse' : 'none',
    outliers: t.outliers ?? 0,
    lowrank: t.lowrank ?? 0,
    rotate: t.rotate === 'hadamard' ? 'hadamard' : 'none',
  };
}

/** The output a recipe asks for (absolute path), if any. */
export function fakeOutput(loaded: LoadedRecipe): string | undefined {
  const o = loaded.analysis.recipe.outputs.find((d) => d.kind === 'fake');
  return o ? path.resolve(path.dirname(loaded.path), o.path.value) : undefined;
}

/** The output gguf path a recipe asks for (absolute), if any. */
export function ggufOutput(loaded: LoadedRecipe): string | undefined {
  const o = loaded.analysis.recipe.outputs.find((d) => d.kind === 'gguf');
  return o ? path.resolve(path.dirname(loaded.path), o.path.value) : undefined;
}

/** Names, rotary permutations and metadata of the GGUF output (throws GgufSpecError). */
export function ggufSpecFor(loaded: LoadedRecipe, plan: PlanJson, version: string): GgufSpec {
  const model = loaded.analysis.model!;
  const formats: Record<string, string | undefined> = {};
  for (const t of plan.tensors) formats[t.name] = t.action === 'quantize' ? t.format : undefined;
  const name = loaded.analysis.recipe.name ?? path.basename(loaded.path, '.quant');
  return buildGgufSpec({ model, formats, name, version, recipeText: loaded.text });
}

export function buildJob(loaded: LoadedRecipe, plan: PlanJson, opts: { threads: number; output?: string; version: string; gguf?: { path: string; spec: GgufSpec } }): RunJob {
  const job: RunJob = {
    model: loaded.analysis.modelPath ?? plan.model.path,
    tensors: plan.tensors.map((t) => (t.action === 'quantize'
      ? { name: t.name, shape: t.shape, action: 'quantize' as const, config: jobConfig(t) }
      : { name: t.name, shape: t.shape, action: 'keep' as const })),
    threads: opts.threads,
  };
  if (opts.output) {
    job.output = {
      kind: 'fake',
      path: opts.output,
      metadata: {
        'bitsmith.recipe': loaded.analysis.recipe.name ?? path.basename(loaded.path),
        'bitsmith.recipe_file': loaded.path,
      },
    };
  }
  if (opts.gguf) job.gguf = { path: opts.gguf.path, spec: JSON.stringify({ metadata: opts.gguf.spec.metadata, tensors: opts.gguf.spec.tensors, copySourceMetadata: opts.gguf.spec.copySourceMetadata === true }) };
  return job;
}
