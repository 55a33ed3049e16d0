// `export llm_compressor "recipe.yaml"`: the plan as an llm-compressor recipe. One stage;
// one modifier per method (rtn -> QuantizationModifier, gptq -> GPTQModifier, awq ->
// AWQModifier); config groups per distinct weight configuration whose `re:` targets
// select exactly the modules the plan gives that configuration. llm-compressor matches
// `re:` targets with Python's re.match (anchored at the start only) against module names
// such as `model.layers.0.mlp.down_proj`, so every target is the full name (or the name
// with its layer number as [0-9]+ when every layer is chosen) followed by `$`.
// What llm-compressor cannot express is left out (its modules are listed in `ignore`, so
// they stay unquantized there), with a YAML comment and an issue per rule; the language
// server shows the issues as warnings on the rules.

import type { ModelHeader } from '../models/types';
import type { Plan, TensorPlan } from '../plan';
import type { PropName, Recipe } from '../analysis/recipe';
import { weightArgs } from './compressedTensors';
import { exactSelectors } from './selectors';
import { translationMarkLine } from './provenance';

export interface ExportIssue {
  /** Index into recipe.rules of the rule that asked for it (undefined: the export statement). */
  rule?: number;
  prop?: PropName;
  message: string;
  tensors: string[];
}

export interface Translation {
  text: string;
  issues: ExportIssue[];
}

const MODIFIER: Record<string, string> = { rtn: 'QuantizationModifier', gptq: 'GPTQModifier', awq: 'AWQModifier' };
const LLMC_INT = new Set(['int2', 'int3', 'int4', 'int5', 'int6', 'int7', 'int8']);

/** Why llm-compressor cannot express this tensor's configuration, and which property is to blame. */
export function llmCompressorProblem(t: TensorPlan): { prop: PropName; message: string } | undefined {
  const c = t.config;
  if (!c) return undefined;
  const f = c.format.name;
  if (!LLMC_INT.has(f) && f !== 'fp8_e4m3' && f !== 'nvfp4') {
    return { prop: 'format', message: `llm-compressor has no ${f} weights (it has int2..int8, fp8_e4m3 and nvfp4)` };
  }
  if (!MODIFIER[t.method.name])
    return { prop: 'method', message: `llm-compressor has no ${t.method.name} method (rtn, gptq and awq translate)` };
  if (c.outliers) return { prop: 'outliers', message: 'llm-compressor cannot keep outliers' };
  if (c.lowrank) return { prop: 'lowrank', message: 'llm-compressor has no low-rank correction' };
  if (t.rotate !== 'none')
    return { prop: 'rotate', message: 'rotate hadamard does not translate to a quantization modifier' };
  if (!c.symmetric && c.zero !== 'int')
    return {
      prop: 'zero',
      message: "llm-compressor zero points are integers: add 'zero int' for an exact translation",
    };
  if (LLMC_INT.has(f) || f === 'fp8_e4m3') {
    if (c.scale !== 'f16' && c.scale !== 'bf16')
      return { prop: 'scale', message: `llm-compressor keeps scales in the model's dtype, not ${c.scale}` };
    if (!c.symmetric && c.groupKind === 'tensor')
      return { prop: 'group', message: 'asymmetric per-tensor grids do not translate' };
  }
  return undefined;
}

/** A YAML double-quoted scalar (JSON string syntax is valid YAML). */
const q = (s: string) => JSON.stringify(s);

function yamlValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return q(v);
  return String(v);
}

export function llmCompressorRecipe(recipe: Recipe, plan: Plan, model: ModelHeader, source: string): Translation {
  const issues = new Map<string, ExportIssue>();
  const note = (t: TensorPlan, prop: PropName, message: string) => {
    const rule = t.decidedBy[prop] ?? t.decidedBy.format;
    const key = `${rule}:${message}`;
    const e = issues.get(key);
    if (e) e.tensors.push(t.tensor.name);
    else issues.set(key, { rule, prop, message, tensors: [t.tensor.name] });
  };
  const moduleOf = (n: string) => n.replace(/\.weight$/, '');
  const allModules = [...new Set(plan.tensors.map((t) => t.tensor.name.replace(/\.(weight|bias)$/, '')))];
  // Per modifier, per configuration: the modules.
  const modifiers = new Map<
    string,
    { groups: Map<string, { weights: Record<string, unknown>; modules: string[] }>; options: Record<string, unknown> }
  >();
  const ignored: string[] = [];
  for (const t of plan.tensors) {
    const isLinear = t.tensor.name.endsWith('.weight') && t.tensor.shape.length === 2;
    if (t.action !== 'quantize') {
      if (isLinear) ignored.push(moduleOf(t.tensor.name));
      continue;
    }
    const problem =
      llmCompressorProblem(t) ??
      (isLinear
        ? undefined
        : { prop: 'format' as PropName, message: 'llm-compressor quantizes module weights (<module>.weight, 2-D)' });
    if (problem) {
      note(t, problem.prop, problem.message);
      if (isLinear) ignored.push(moduleOf(t.tensor.name));
      continue;
    }
    const modName = MODIFIER[t.method.name];
    let m = modifiers.get(modName);
    if (!m) {
      const o = t.method.options;
      const options: Record<string, unknown> = {};
      if (t.method.name === 'gptq') {
        if (o.block !== undefined) options.block_size = o.block;
        if (o.damp !== undefined) options.dampening_frac = o.damp;
      }
      modifiers.set(modName, (m = { groups: new Map(), options }));
    }
    const { format: _f, ...args } = weightArgs(t);
    const weights: Record<string, unknown> = { ...args };
    if (t.config!.format.name === 'nvfp4') {
      Object.assign(weights, { num_bits: 4, type: 'float', symmetric: true, strategy: 'tensor_group', group_size: 16 });
    }
    // Bitsmith's act_order keeps static groups (each group's scale fitted before the pass, in
    // the original column order): llm-compressor's `weight` ordering (`static` in its newer
    // releases), not `group`, which reorders the groups and needs g_idx at inference. Only on
    // the group strategy: compressed-tensors rejects actorder with channel or tensor scales.
    if (t.method.name === 'gptq' && t.method.options.act_order === true && t.config!.groupKind === 'size')
      weights.actorder = 'weight';
    const key = JSON.stringify(weights);
    let g = m.groups.get(key);
    if (!g) m.groups.set(key, (g = { weights, modules: [] }));
    g.modules.push(moduleOf(t.tensor.name));
  }

  if (model.format === 'gguf') {
    issues.set('gguf', {
      message:
        'the model is a GGUF file: llm-compressor works on Hugging Face checkpoints, and these targets use GGUF tensor names',
      tensors: [model.path],
    });
  }
  const out: string[] = [];
  out.push(translationMarkLine(source));
  out.push('# An llm-compressor recipe.');
  out.push(`# model: ${model.path}`);
  out.push('# Every target selects exactly the modules the Bitsmith plan gives that configuration');
  out.push("# (re: targets are matched with Python's re.match against module names).");
  const issueList = [...issues.values()];
  for (const i of issueList) {
    const label = i.rule !== undefined ? (recipe.rules[i.rule]?.label ?? 'rule') : 'recipe';
    out.push(
      `# NOT TRANSLATED (${label}): ${i.message}; ${i.tensors.length} tensor${i.tensors.length === 1 ? '' : 's'} left unquantized here, e.g. ${i.tensors[0]}`,
    );
  }
  out.push('quant_stage:');
  out.push('  quant_modifiers:');
  if (modifiers.size === 0) out.push('    {}  # nothing in this recipe translates (see above)');
  let gi = 0;
  for (const [name, m] of modifiers) {
    out.push(`    ${name}:`);
    for (const [k, v] of Object.entries(m.options)) out.push(`      ${k}: ${yamlValue(v)}`);
    out.push(`      ignore: [${ignored.map(q).join(', ')}]`);
    out.push('      config_groups:');
    for (const g of m.groups.values()) {
      out.push(`        group_${gi++}:`);
      out.push('          targets:');
      for (const b of exactSelectors(g.modules, allModules)) out.push(`            - ${q(`re:${b}$`)}`);
      out.push('          weights:');
      for (const [k, v] of Object.entries(g.weights)) out.push(`            ${k}: ${yamlValue(v)}`);
    }
  }
  if (recipe.calibration) {
    out.push(
      `# calibration (${recipe.calibration.kind}${recipe.calibration.path ? ` ${recipe.calibration.path.value}` : ''}): pass your dataset to llm-compressor's oneshot(dataset=...)`,
    );
  }
  return { text: out.join('\n') + '\n', issues: issueList };
}
