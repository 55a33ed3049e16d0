// From an analysed recipe to the backend's job: what the runner cannot execute yet is
// refused up front, each problem placed on the statement that asks for it (no silent
// fallback), and the plan's tensors become the job's tensor list.
import * as path from 'path';
import { FORMAT_BY_NAME, diag, type Diagnostic, type PlanJson, type TensorPlanJson } from '../../../core/src/index';
import type { LoadedRecipe } from '../load';
import type { JobConfig, RunJob } from './native';

/** Methods the runner executes. */
export const RUN_METHODS = new Set(['rtn']);

/** One diagnostic per statement the backend cannot execute yet. */
export function unsupportedFeatures(loaded: LoadedRecipe, plan: PlanJson): Diagnostic[] {
  const { recipe } = loaded.analysis;
  const out: Diagnostic[] = [];
  const code = 'run/unsupported';

  // Per rule property: which tensors it gives an unexecutable format or method.
  const byRule = new Map<string, { ri: number; prop: 'format' | 'method'; value: string; tensors: string[] }>();
  for (const t of plan.tensors) {
    if (t.action !== 'quantize') continue;
    const f = FORMAT_BY_NAME.get(t.format ?? '');
    if (f?.family === 'ggml') note(byRule, t, 'format', t.format!);
    if (t.method && !RUN_METHODS.has(t.method)) note(byRule, t, 'method', t.method);
  }
  for (const { ri, prop, value, tensors } of byRule.values()) {
    const rule = recipe.rules[ri];
    const setting = rule?.settings[prop];
    const span = setting?.stmt ?? rule?.stmt ?? { start: 0, end: 0 };
    const which = `${tensors.length} tensor${tensors.length === 1 ? '' : 's'}, e.g. ${tensors[0]}`;
    out.push(diag(code, 'error', span, prop === 'format'
      ? `format ${value} (${rule?.label ?? 'rule'}: ${which}) is a llama.cpp block format, which bitsmith run does not execute yet; use an int, float or microscaled format (e.g. int4, nf4, mxfp4)`
      : `method ${value} (${rule?.label ?? 'rule'}: ${which}) is not executed by bitsmith run yet; only rtn is`));
  }
  if (recipe.calibration) {
    out.push(diag(code, 'error', recipe.calibration.stmt, `calibration is not used by bitsmith run yet (no data-aware method runs yet); remove it to run`));
  }
  for (const o of recipe.outputs) {
    if (o.kind !== 'fake') out.push(diag(code, 'error', o.stmt, `output ${o.kind} is not written by bitsmith run yet; only output fake "file.safetensors" is`));
  }
  for (const e of recipe.exports) out.push(diag(code, 'error', e.stmt, `export ${e.kind} is not implemented yet`));
  if (recipe.allocate) out.push(diag(code, 'error', recipe.allocate.stmt, 'allocate (automatic mixed precision) is not executed by bitsmith run yet'));
  if (recipe.evaluate) out.push(diag(code, 'error', recipe.evaluate.stmt, 'evaluate (perplexity, KL divergence) is not executed by bitsmith run yet'));
  return out.sort((a, b) => a.start - b.start);
}

function note(map: Map<string, { ri: number; prop: 'format' | 'method'; value: string; tensors: string[] }>, t: TensorPlanJson, prop: 'format' | 'method', value: string) {
  const ri = t.decidedBy[prop] ?? -1;
  const key = `${ri}:${prop}:${value}`;
  const e = map.get(key);
  if (e) e.tensors.push(t.name);
  else map.set(key, { ri, prop, value, tensors: [t.name] });
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

export function buildJob(loaded: LoadedRecipe, plan: PlanJson, opts: { threads: number; output?: string; version: string }): RunJob {
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
  return job;
}
