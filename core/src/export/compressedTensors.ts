// compressed-tensors (vLLM, Hugging Face transformers): what `output compressed_tensors`
// can store, and the `quantization_config` of its config.json. The tensors themselves are
// written by the native runner (native/src/run/compressed_tensors.h describes them).
//   format   pack-quantized (int4 / int8 weights packed into int32), float-quantized (fp8),
//            nvfp4-pack-quantized (e2m1 pairs in uint8, e4m3 scales per 16, a global scale)
//   groups   one config group per distinct configuration, its targets `re:` expressions
//            that select exactly the modules given that configuration (compressed-tensors
//            applies re.match, anchored at the start; each expression ends with $)
//   ignore   the model's linear modules (2-D `.weight` tensors) that stay unquantized
//   actorder gptq with act_order: "weight" (alias "static") on the group strategy: groups in
//            the original column order, their scales fitted before the permuted pass, which
//            is exactly Bitsmith's static groups; no weight_g_idx is stored (llm-compressor
//            omits it for "weight": the mapping is the identity). "group" (groups formed
//            in the permuted order, with weight_g_idx) is not what Bitsmith runs.
//            compressed-tensors rejects actorder on the channel strategy, where one scale
//            per row makes the order irrelevant: null there.

import type { Plan, TensorPlan } from '../plan';
import type { PropName } from '../analysis/recipe';
import { exactSelectors } from './selectors';

const CT_FORMATS = new Set(['int4', 'int8', 'fp8_e4m3', 'nvfp4']);

/** Why compressed-tensors output cannot store this quantized tensor (undefined: it can). */
export function compressedTensorsProblem(t: TensorPlan): string | undefined {
  return compressedTensorsIssue(t)?.message;
}

/** The problem and the property whose setting causes it. */
export function compressedTensorsIssue(t: TensorPlan): { prop: PropName; message: string } | undefined {
  const r = (prop: PropName, message: string) => ({ prop, message });
  const c = t.config;
  if (!c) return undefined;
  const f = c.format;
  if (!CT_FORMATS.has(f.name)) {
    return r('format', `compressed-tensors output stores int4, int8, fp8_e4m3 and nvfp4; ${f.name} is not one of them`);
  }
  const extras = [c.outliers ? 'outliers' : '', c.lowrank ? 'lowrank' : '', t.rotate !== 'none' ? 'rotate' : ''].filter(
    Boolean,
  ) as PropName[];
  if (extras.length) return r(extras[0], `compressed-tensors output cannot store ${extras.join(', ')}`);
  if (!t.tensor.name.endsWith('.weight') || t.tensor.shape.length !== 2) {
    return r('format', 'compressed-tensors output stores quantized 2-D module weights (<module>.weight)');
  }
  if (f.name === 'nvfp4') return undefined; // fixed: e4m3 scales per 16, symmetric (checkFit reports a row that is not whole blocks)
  if (!['f16', 'bf16', 'f32'].includes(c.scale))
    return r('scale', `compressed-tensors output stores f16, bf16 or f32 scales, not ${c.scale}`);
  if (!c.symmetric && c.zero !== 'int')
    return r(
      t.decidedBy.zero !== undefined ? 'zero' : 'symmetric',
      "compressed-tensors stores integer zero points: add 'zero int' (or 'symmetric true')",
    );
  if (!c.symmetric && c.groupKind === 'tensor')
    return r('group', 'compressed-tensors packs zero points per group or channel, not per tensor');
  return undefined;
}

const moduleOf = (name: string) => name.replace(/\.weight$/, '');

export interface CtGroup {
  key: string;
  format: 'pack-quantized' | 'float-quantized' | 'nvfp4-pack-quantized';
  weights: {
    num_bits: number;
    type: 'int' | 'float';
    symmetric: boolean;
    strategy: 'group' | 'channel' | 'tensor' | 'tensor_group';
    group_size: number | null;
    block_structure: null;
    dynamic: false;
    actorder: 'weight' | null;
    observer: string;
  };
  modules: string[];
}

/** The weights' quantization args of one quantized tensor, as compressed-tensors / llm-compressor spell them. */
export function weightArgs(t: TensorPlan): CtGroup['weights'] & { format: CtGroup['format'] } {
  const c = t.config!;
  const isFloat = c.format.family !== 'int';
  if (c.format.name === 'nvfp4') {
    // e4m3 scales per 16 weights under one f32 global scale: compressed-tensors' tensor_group.
    return {
      format: 'nvfp4-pack-quantized',
      num_bits: 4,
      type: 'float',
      symmetric: true,
      strategy: 'tensor_group',
      group_size: 16,
      block_structure: null,
      dynamic: false,
      actorder: null,
      observer: t.clip === 'mse' ? 'mse' : 'minmax',
    };
  }
  const staticGroups = t.method.name === 'gptq' && t.method.options.act_order === true && c.groupKind === 'size';
  return {
    format: isFloat ? 'float-quantized' : 'pack-quantized',
    num_bits: c.format.bits,
    type: isFloat ? 'float' : 'int',
    symmetric: c.symmetric,
    strategy: c.groupKind === 'size' ? 'group' : c.groupKind,
    group_size: c.groupKind === 'size' ? c.group : null,
    block_structure: null,
    dynamic: false,
    actorder: staticGroups ? 'weight' : null,
    observer: t.clip === 'mse' ? 'mse' : 'minmax',
  };
}

/** Config groups, in the order of the first tensor of each configuration. */
export function compressedTensorsGroups(plan: Plan): CtGroup[] {
  const groups = new Map<string, CtGroup>();
  for (const t of plan.tensors) {
    if (t.action !== 'quantize' || compressedTensorsProblem(t)) continue;
    const { format, ...weights } = weightArgs(t);
    const key = JSON.stringify({ format, ...weights });
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, format, weights, modules: [] }));
    g.modules.push(moduleOf(t.tensor.name));
  }
  return [...groups.values()];
}

/** Linear modules (2-D `.weight` tensors) the plan keeps. */
export function keptModules(plan: Plan): string[] {
  return plan.tensors
    .filter((t) => t.action === 'keep' && t.tensor.name.endsWith('.weight') && t.tensor.shape.length === 2)
    .map((t) => moduleOf(t.tensor.name));
}

/** All module names of the model (tensor names without `.weight` / `.bias`). */
export function moduleNames(plan: Plan): string[] {
  return [...new Set(plan.tensors.map((t) => t.tensor.name.replace(/\.(weight|bias)$/, '')))];
}

/** config.json's `quantization_config` for the plan. */
export function compressedTensorsConfig(plan: Plan): Record<string, unknown> {
  const groups = compressedTensorsGroups(plan);
  const all = moduleNames(plan);
  const formats = [...new Set(groups.map((g) => g.format))];
  const config_groups: Record<string, unknown> = {};
  groups.forEach((g, i) => {
    config_groups[`group_${i}`] = {
      targets: exactSelectors(g.modules, all).map((b) => `re:${b}$`),
      weights: g.weights,
      input_activations: null,
      output_activations: null,
      format: g.format,
    };
  });
  return {
    quant_method: 'compressed-tensors',
    format: formats.length === 1 ? formats[0] : formats.length === 0 ? 'dense' : 'mixed-precision',
    quantization_status: 'compressed',
    config_groups,
    ignore: keptModules(plan),
    kv_cache_scheme: null,
  };
}
