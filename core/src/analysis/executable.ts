// What `bitsmith run` does not execute yet, per statement. The runner refuses these (as
// errors) and the language server marks them (as warnings) from this one list, so the
// editor never promises a run the backend would not do, and nothing falls back silently.

import type { Plan } from '../plan';
import { diag, type Diagnostic, type Severity } from './diagnostic';
import type { PropName, Recipe } from './recipe';
import type { TensorPlan } from '../plan';
import { isDecodableGgml } from './checks';
import { GGML_FORMATS_TEXT } from '../language/formats';

const GGML_DTYPE = /^(Q\d|IQ\d|TQ\d)/;

/** Methods the runner executes. */
export const RUN_METHODS: ReadonlySet<string> = new Set(['rtn', 'gptq', 'hqq', 'awq']);
/** Calibration sources the runner reads. */
export const RUN_CALIBRATION: ReadonlySet<string> = new Set(['generated', 'tokens', 'text', 'imatrix']);
/** Outputs the runner writes. */
export const RUN_OUTPUTS: ReadonlySet<string> = new Set(['fake', 'compressed_tensors', 'gguf', 'imatrix']);
/** Translations `bitsmith run` and `bitsmith export` write. */
export const RUN_EXPORTS: ReadonlySet<string> = new Set(['llm_compressor', 'llama_quantize']);

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
  // Per rule: what gptq does not combine with here (native/src/quant/gptq.h).
  const gptqLimits = new Map<string, { ri: number; prop: PropName; why: string; tensors: string[] }>();
  for (const t of plan?.tensors ?? []) {
    if (!t.config) continue;
    if (!RUN_METHODS.has(t.method.name)) note(t.decidedBy.method, 'method', t.method.name, t.tensor.name);
    if (t.method.name === 'gptq') {
      const why = gptqLimit(t);
      if (why) {
        const ri = t.decidedBy[why.prop] ?? t.decidedBy.method ?? -1;
        const key = `${ri}:${why.prop}:${why.why}`;
        const e = gptqLimits.get(key);
        if (e) e.tensors.push(t.tensor.name);
        else gptqLimits.set(key, { ri, prop: why.prop, why: why.why, tensors: [t.tensor.name] });
      }
    }
  }
  for (const { ri, prop, why, tensors } of gptqLimits.values()) {
    const rule = recipe.rules[ri];
    const span = rule?.settings[prop]?.stmt ?? rule?.settings.method?.stmt ?? rule?.stmt ?? { start: 0, end: 0 };
    const which = `${tensors.length} tensor${tensors.length === 1 ? '' : 's'}, e.g. ${tensors[0]}`;
    out.push(
      diag(
        code,
        severity,
        span,
        `method gptq ${why} (${rule?.label ?? 'rule'}: ${which}); use method rtn for these tensors`,
      ),
    );
  }
  for (const { ri, prop, value, tensors } of byRule.values()) {
    const rule = recipe.rules[ri];
    const span = rule?.settings[prop]?.stmt ?? rule?.stmt ?? { start: 0, end: 0 };
    const which = `${tensors.length} tensor${tensors.length === 1 ? '' : 's'}, e.g. ${tensors[0]}`;
    out.push(
      diag(
        code,
        severity,
        span,
        `${prop} ${value} (${rule?.label ?? 'rule'}: ${which}) is not executed by bitsmith run yet; only ${[...RUN_METHODS].join(', ')} are`,
      ),
    );
  }
  // Every calibration source runs: generated, tokens and text through the forward pass
  // (Hessians, per-tensor output error), imatrix as llama.cpp's diagonal (analysis/imatrix.ts).
  if (recipe.calibration && !RUN_CALIBRATION.has(recipe.calibration.kind)) {
    out.push(
      diag(
        code,
        severity,
        recipe.calibration.stmt,
        `calibration ${recipe.calibration.kind} is not read by bitsmith run yet`,
      ),
    );
  }
  for (const o of recipe.outputs) {
    if (!RUN_OUTPUTS.has(o.kind))
      out.push(
        diag(
          code,
          severity,
          o.stmt,
          `output ${o.kind} is not written by bitsmith run yet; only output fake "file.safetensors", output gguf "file.gguf", output compressed_tensors "folder" and output imatrix "file.gguf" are`,
        ),
      );
  }
  // One weights output (fake or compressed_tensors) per run, plus a GGUF beside a fake one.
  const written = recipe.outputs.filter((o) => RUN_OUTPUTS.has(o.kind) && o.kind !== 'gguf' && o.kind !== 'imatrix');
  const gguf = recipe.outputs.find((o) => o.kind === 'gguf');
  if (written.length > 1) {
    out.push(
      diag(
        code,
        severity,
        written[1].stmt,
        `bitsmith run writes one output per run: output ${written[0].kind} and output ${written[1].kind} need two recipes`,
      ),
    );
  } else if (gguf && written[0]?.kind === 'compressed_tensors') {
    out.push(
      diag(
        code,
        severity,
        gguf.stmt,
        'bitsmith run writes a GGUF beside output fake, not beside output compressed_tensors: use two recipes',
      ),
    );
  }
  // GGUF sources: the runner decodes the ggml block types it quantizes to (the ggml
  // formats); the others (Q8_K, Q8_1) it can only copy into a GGUF.
  const undecodable = (plan?.tensors ?? []).filter(
    (t) => GGML_DTYPE.test(t.tensor.dtype) && !isDecodableGgml(t.tensor.dtype),
  );
  const quantized = undecodable.find((t) => t.config);
  if (quantized) {
    const ri = quantized.decidedBy.format;
    const rule = ri !== undefined ? recipe.rules[ri] : undefined;
    out.push(
      diag(
        code,
        severity,
        rule?.settings.format?.stmt ?? rule?.stmt ?? { start: 0, end: 0 },
        `${quantized.tensor.name} is stored as ${quantized.tensor.dtype}, which bitsmith run cannot decode (it reads GGUF tensors in F32, F16, BF16 and ${GGML_FORMATS_TEXT}); keep it`,
      ),
    );
  }
  const keptUndecodable = undecodable.find((t) => !t.config);
  const safetensorsOut = recipe.outputs.find((o) => o.kind === 'fake' || o.kind === 'compressed_tensors');
  if (keptUndecodable && safetensorsOut) {
    out.push(
      diag(
        code,
        severity,
        safetensorsOut.stmt,
        `${keptUndecodable.tensor.name} is stored as ${keptUndecodable.tensor.dtype}, which bitsmith run cannot decode into output ${safetensorsOut.kind} (safetensors holds no ggml blocks); output gguf can copy it`,
      ),
    );
  }
  // output imatrix: the calibration's forward pass collects the statistics it writes.
  const imatrixOut = recipe.outputs.find((o) => o.kind === 'imatrix');
  const cal = recipe.calibration;
  if (imatrixOut && (!cal || cal.kind === 'imatrix'))
    out.push(
      diag(
        'output/needs-calibration',
        'error',
        imatrixOut.stmt,
        cal
          ? 'output imatrix writes the statistics of a forward pass: with calibration imatrix there is none (the file you read is already an imatrix)'
          : 'output imatrix needs calibration generated, tokens or text: the forward pass collects the per-column sums of squares it writes',
      ),
    );
  for (const e of recipe.exports)
    if (!RUN_EXPORTS.has(e.kind)) out.push(diag(code, severity, e.stmt, `export ${e.kind} is not implemented yet`));
  return out.sort((a, b) => a.start - b.start);
}

/** The ggml formats whose groups of 8 weights are one lattice point: gptq quantizes those 8
 *  columns jointly, in the original column order (native/src/quant/ggml/gptq.cc). */
export const GPTQ_JOINT_GGML: ReadonlySet<string> = new Set([
  'iq1_s',
  'iq1_m',
  'iq2_xxs',
  'iq2_xs',
  'iq2_s',
  'iq3_xxs',
  'iq3_s',
]);

/** Why gptq does not run on this tensor's configuration, and the property to blame. */
export function gptqLimit(t: TensorPlan): { prop: PropName; why: string } | undefined {
  const c = t.config;
  if (!c) return undefined;
  const f = c.format;
  if (f.family === 'sign')
    return {
      prop: 'format',
      why: `runs on the int, float (nf4, fp4, fp8), microscaled (mxfp4, mxfp8, nvfp4) and ggml formats, not ${f.name}${f.name === 'ternary' ? ' (ggml tq1_0 and tq2_0 hold ternary weights)' : ''}`,
    };
  if (f.family === 'ggml' && GPTQ_JOINT_GGML.has(f.name) && t.method.options.act_order === true)
    return {
      prop: 'method',
      why: `quantizes ${f.name}'s groups of 8 weights (one lattice point) as 8 columns at once, in the original column order: act_order does not combine with it`,
    };
  if (f.family === 'ggml') return undefined; // blocks along the row
  if (c.groupKind === 'tensor' && !f.fixedGroup)
    return { prop: 'group', why: 'needs groups along the input (a group size or channel), not group tensor' };
  if (c.outliers > 0) return { prop: 'outliers', why: 'does not combine with outliers yet' };
  if (c.lowrank > 0) return { prop: 'lowrank', why: 'does not combine with lowrank yet' };
  if (t.rotate !== 'none') return { prop: 'rotate', why: 'does not combine with rotate yet' };
  return undefined;
}
