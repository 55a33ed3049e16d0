// What `bitsmith run` does not execute yet, per statement. The runner refuses these (as
// errors) and the language server marks them (as warnings) from this one list, so the
// editor never promises a run the backend would not do, and nothing falls back silently.

import type { Plan } from '../plan';
import { diag, type Diagnostic, type Severity } from './diagnostic';
import type { Recipe } from './recipe';

/** Methods the runner executes. */
export const RUN_METHODS: ReadonlySet<string> = new Set(['rtn']);
/** Outputs the runner writes. */
export const RUN_OUTPUTS: ReadonlySet<string> = new Set(['fake', 'gguf']);

export function notExecutable(recipe: Recipe, plan: Plan | undefined, severity: Severity): Diagnostic[] {
  const code = 'run/unsupported';
  const out: Diagnostic[] = [];
  // Per rule: the tensors it gives a method the runner lacks (every format runs).
  const byRule = new Map<string, { ri: number; prop: 'format' | 'method'; value: string; tensors: string[] }>();
  const note = (ri: number | undefined, prop: 'format' | 'method', value: string, tensor: string) => {
    const key = `${ri ?? -1}:${prop}:${value}`;
    const e = byRule.get(key);
    if (e) e.tensors.push(tensor);
    else byRule.set(key, { ri: ri ?? -1, prop, value, tensors: [tensor] });
  };
  for (const t of plan?.tensors ?? []) {
    if (!t.config) continue;
    if (!RUN_METHODS.has(t.method.name)) note(t.decidedBy.method, 'method', t.method.name, t.tensor.name);
  }
  for (const { ri, prop, value, tensors } of byRule.values()) {
    const rule = recipe.rules[ri];
    const span = rule?.settings[prop]?.stmt ?? rule?.stmt ?? { start: 0, end: 0 };
    const which = `${tensors.length} tensor${tensors.length === 1 ? '' : 's'}, e.g. ${tensors[0]}`;
    out.push(diag(code, severity, span, `${prop} ${value} (${rule?.label ?? 'rule'}: ${which}) is not executed by bitsmith run yet; only rtn is`));
  }
  if (recipe.calibration) {
    out.push(diag(code, severity, recipe.calibration.stmt, 'calibration is not used by bitsmith run yet (no data-aware method runs yet); remove it to run'));
  }
  for (const o of recipe.outputs) {
    if (!RUN_OUTPUTS.has(o.kind)) out.push(diag(code, severity, o.stmt, `output ${o.kind} is not written by bitsmith run yet; only output fake "file.safetensors" and output gguf "file.gguf" are`));
  }
  for (const e of recipe.exports) out.push(diag(code, severity, e.stmt, `export ${e.kind} is not implemented yet`));
  if (recipe.allocate) out.push(diag(code, severity, recipe.allocate.stmt, 'allocate (automatic mixed precision) is not executed by bitsmith run yet'));
  if (recipe.evaluate) out.push(diag(code, severity, recipe.evaluate.stmt, 'evaluate (perplexity, KL divergence) is not executed by bitsmith run yet'));
  return out.sort((a, b) => a.start - b.start);
}
