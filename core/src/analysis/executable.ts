// What `bitsmith run` does not execute yet, per statement. The runner refuses these (as
// errors) and the language server marks them (as warnings) from this one list, so the
// editor never promises a run the backend would not do, and nothing falls back silently.

import type { Plan } from '../plan';
import { diag, type Diagnostic, type Severity } from './diagnostic';
import type { Recipe } from './recipe';

/** Methods the runner executes. */
export const RUN_METHODS: ReadonlySet<string> = new Set(['rtn', 'gptq', 'hqq', 'awq']);
/** Calibration sources the runner reads. */
export const RUN_CALIBRATION: ReadonlySet<string> = new Set(['generated', 'tokens', 'text', 'imatrix']);
/** Outputs the runner writes. */
export const RUN_OUTPUTS: ReadonlySet<string> = new Set(['fake', 'compressed_tensors', 'gguf']);
/** Translations `bitsmith run` and `bitsmith export` write. */
export const RUN_EXPORTS: ReadonlySet<string> = new Set(['llm_compressor', 'llama_quantize']);

/** Formats GPTQ runs for (the uniform integer grids); others run with rtn when measured for
 * `allocate`, and are refused by `run`. */
export function gptqRunsFor(format: string): boolean {
  return /^int\d$/.test(format);
}

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
    out.push(diag(code, severity, span, `${prop} ${value} (${rule?.label ?? 'rule'}: ${which}) is not executed by bitsmith run yet; only ${[...RUN_METHODS].join(', ')} are`));
  }
  // Every calibration source runs: generated, tokens and text through the forward pass
  // (Hessians, per-tensor output error), imatrix as llama.cpp's diagonal (analysis/imatrix.ts).
  if (recipe.calibration && !RUN_CALIBRATION.has(recipe.calibration.kind)) {
    out.push(diag(code, severity, recipe.calibration.stmt, `calibration ${recipe.calibration.kind} is not read by bitsmith run yet`));
  }
  for (const o of recipe.outputs) {
    if (!RUN_OUTPUTS.has(o.kind)) out.push(diag(code, severity, o.stmt, `output ${o.kind} is not written by bitsmith run yet; only output fake "file.safetensors", output gguf "file.gguf" and output compressed_tensors "folder" are`));
  }
  const ct = recipe.outputs.find((o) => o.kind === 'compressed_tensors');
  const gptq = plan?.tensors.find((t) => t.config && t.method.name === 'gptq');
  if (ct && gptq) {
    out.push(diag(code, severity, ct.stmt, `output compressed_tensors does not store GPTQ's codes yet (${gptq.tensor.name} uses gptq); use output fake, or rtn for this output`));
  }
  // One weights output (fake or compressed_tensors) per run, plus a GGUF beside a fake one.
  const written = recipe.outputs.filter((o) => RUN_OUTPUTS.has(o.kind) && o.kind !== 'gguf');
  const gguf = recipe.outputs.find((o) => o.kind === 'gguf');
  if (written.length > 1) {
    out.push(diag(code, severity, written[1].stmt, `bitsmith run writes one output per run: output ${written[0].kind} and output ${written[1].kind} need two recipes`));
  } else if (gguf && written[0]?.kind === 'compressed_tensors') {
    out.push(diag(code, severity, gguf.stmt, 'bitsmith run writes a GGUF beside output fake, not beside output compressed_tensors: use two recipes'));
  }
  for (const e of recipe.exports) if (!RUN_EXPORTS.has(e.kind)) out.push(diag(code, severity, e.stmt, `export ${e.kind} is not implemented yet`));
  return out.sort((a, b) => a.start - b.start);
}
