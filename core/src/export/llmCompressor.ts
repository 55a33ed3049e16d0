// `export llm_compressor "recipe.yaml"`: the plan as an llm-compressor recipe that runs the
// algorithm Bitsmith ran, written for llm-compressor 0.11 to 0.13 (compressed-tensors 0.16
// to 0.18; their defaults and resolution rules are tabulated in test/unit/llmc-export.test.ts).
//
// Structure: one stage; AWQModifier (a transform since 0.11: it scales, the quantization
// modifier after it quantizes), one QuantizationModifier for the rtn and awq tensors, and
// one GPTQModifier per distinct (block, damp, act_order) of the gptq tensors, each in its own
// `*_modifiers` group (a YAML mapping holds one key per modifier class). Config groups hold
// one distinct weight configuration each; their `re:` targets (matched with Python's
// re.match, anchored at the start) are full module names ending in `$`, with `[0-9]+` for
// the layer number when every layer shares the configuration.
//
// Every option whose llm-compressor default differs from what Bitsmith ran is written out:
//   GPTQModifier  actorder: GPTQModifier's default (a sentinel, "static") turns a config
//                 group's actorder null into static ordering, so `actorder: null` is set
//                 on the modifier when Bitsmith ran without act_order and `static` with it
//                 (one value per modifier: mixed recipes get two modifiers); block_size and
//                 dampening_frac always.
//   AWQModifier   duo_scaling: false (its default true divides by mean |w|^(1-alpha);
//                 Bitsmith's s = mean|x|^alpha), n_grid: Bitsmith's grid (default 20 both),
//                 and mappings: only the sites Bitsmith scales (its default maps every
//                 q/k/v, o, gate/up and down site of every layer).
//   weights       every QuantizationArgs field: num_bits, type, symmetric, strategy,
//                 group_size, dynamic false, observer and its observer_kwargs.
//   observer      clip none: memoryless_minmax. clip mse: Bitsmith's shrink search
//                 (a = 1, 0.975, ..., 0.525: 20 steps of 1/40, squared error, no early stop) as
//                 memoryless_mse {maxshrink 0.5, grid 40, patience 20, norm 2}; with
//                 calibration on an rtn tensor Bitsmith weights that error by the input
//                 channels' importance, which is imatrix_mse {maxshrink 0.48, grid 40,
//                 patience 20, norm 2} (its loop runs one step past maxshrink * grid).
//   ignore        the model's linear modules the plan keeps.
// What llm-compressor cannot express is left out (its modules in `ignore`, so they stay in
// source precision there): a `# NOT TRANSLATED` comment and an issue per rule. What it runs
// differently but close (dynamic GPTQ groups, scale dtypes, AWQ's objective, fused nvfp4
// global scales) is translated with a `# NOT EXACT` comment and an issue of kind 'inexact'.
// The language server shows both as warnings on the rules.

import type { ModelHeader } from '../models/types';
import type { Plan, TensorPlan } from '../plan';
import type { PropName, Recipe } from '../analysis/recipe';
import { effectiveMethod } from '../analysis/methodFit';
import { weightArgs } from './compressedTensors';
import { escapeRegex, exactSelectors } from './selectors';
import { translationMarkLine } from '../io/provenance';

export interface ExportIssue {
  /** Index into recipe.rules of the rule that asked for it (undefined: the export statement). */
  rule?: number;
  prop?: PropName;
  message: string;
  tensors: string[];
  /** 'inexact': translated, but the tool runs it differently (the message says how); absent:
   *  not translated at all (the tensors stay in source precision in the translation). */
  kind?: 'inexact';
}

export interface Translation {
  text: string;
  issues: ExportIssue[];
}

/** How the model is named in a translation's header (a Hugging Face id and commit, or the path). */
export interface ModelName {
  label: string;
  /** A Hugging Face id and commit, for oneshot(model=..., revision=...). */
  hub?: { id: string; commit: string };
}

export const LLMC_VERSIONS = 'llm-compressor 0.11 to 0.13 (compressed-tensors 0.16 to 0.18)';

const LLMC_INT = new Set(['int2', 'int3', 'int4', 'int5', 'int6', 'int7', 'int8']);
const RUNS = new Set(['rtn', 'gptq', 'awq']);

/** Bitsmith's clip mse search as llm-compressor's observers (see the header). */
const MSE_KWARGS = { maxshrink: 0.5, grid: 40, patience: 20, norm: 2 };
const IMATRIX_MSE_KWARGS = { maxshrink: 0.48, grid: 40, patience: 20, norm: 2 };

/** A problem with one tensor's translation. */
export interface LlmcTensorIssue {
  prop: PropName;
  message: string;
  kind: 'untranslatable' | 'inexact';
}

/** Why llm-compressor cannot express this tensor's configuration at all (it is then left out). */
export function llmCompressorProblem(t: TensorPlan): { prop: PropName; message: string } | undefined {
  const c = t.config;
  if (!c) return undefined;
  const f = c.format.name;
  if (!LLMC_INT.has(f) && f !== 'fp8_e4m3' && f !== 'nvfp4') {
    return { prop: 'format', message: `llm-compressor has no ${f} weights (it has int2..int8, fp8_e4m3 and nvfp4)` };
  }
  const method = effectiveMethod(t);
  if (!RUNS.has(method))
    return { prop: 'method', message: `llm-compressor has no ${method} method (rtn, gptq and awq translate)` };
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
    if (!['f16', 'bf16', 'f32'].includes(c.scale))
      return { prop: 'scale', message: `llm-compressor stores int and fp8 scales as floats, not ${c.scale}` };
    if (!c.symmetric && c.groupKind === 'tensor')
      return { prop: 'group', message: 'asymmetric per-tensor grids do not translate' };
  }
  if (!t.tensor.name.endsWith('.weight') || t.tensor.shape.length !== 2)
    return { prop: 'format', message: 'llm-compressor quantizes module weights (<module>.weight, 2-D)' };
  return undefined;
}

const SCALE_OF_DTYPE: Record<string, string> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** An AWQ input site: the norm or layer whose output feeds `balance`, which share one scaling. */
interface AwqSite {
  kind: 'qkv' | 'o' | 'gateup' | 'down';
  /** The module 1/s is folded into (llm-compressor's smooth_layer). */
  smooth: string;
  balance: string[];
  layer: string;
}

const SITE_OF: [RegExp, AwqSite['kind']][] = [
  [/^(.*)\.self_attn\.[qkv]_proj\.weight$/, 'qkv'],
  [/^(.*)\.self_attn\.o_proj\.weight$/, 'o'],
  [/^(.*)\.mlp\.(?:gate|up)_proj\.weight$/, 'gateup'],
  [/^(.*)\.mlp\.down_proj\.weight$/, 'down'],
];

/** The site of a Llama-family projection (Hugging Face names), or undefined. */
function siteOf(name: string): { kind: AwqSite['kind']; layer: string } | undefined {
  for (const [re, kind] of SITE_OF) {
    const m = re.exec(name);
    if (m) return { kind, layer: m[1] };
  }
  return undefined;
}

function siteModules(kind: AwqSite['kind'], layer: string): AwqSite {
  switch (kind) {
    case 'qkv':
      return {
        kind,
        layer,
        smooth: `${layer}.input_layernorm`,
        balance: ['q', 'k', 'v'].map((p) => `${layer}.self_attn.${p}_proj`),
      };
    case 'o':
      return { kind, layer, smooth: `${layer}.self_attn.v_proj`, balance: [`${layer}.self_attn.o_proj`] };
    case 'gateup':
      return {
        kind,
        layer,
        smooth: `${layer}.post_attention_layernorm`,
        balance: [`${layer}.mlp.gate_proj`, `${layer}.mlp.up_proj`],
      };
    case 'down':
      return { kind, layer, smooth: `${layer}.mlp.up_proj`, balance: [`${layer}.mlp.down_proj`] };
  }
}

/** Per tensor, what keeps the translation from running exactly what Bitsmith ran. */
export interface LlmcAnalysis {
  issues: Map<TensorPlan, LlmcTensorIssue[]>;
  /** The AWQ sites the translation maps (those Bitsmith scales through a fold). */
  awqSites: AwqSite[];
}

/**
 * Analyses a plan for llm-compressor: what does not translate, what translates inexactly,
 * and which AWQ sites are mapped. Shared by the exporter and the editor's warnings.
 */
export function llmCompressorAnalysis(recipe: Recipe, plan: Plan): LlmcAnalysis {
  const issues = new Map<TensorPlan, LlmcTensorIssue[]>();
  const add = (t: TensorPlan, i: LlmcTensorIssue) => {
    const l = issues.get(t);
    if (l) l.push(i);
    else issues.set(t, [i]);
  };
  const byName = new Map(plan.tensors.map((t) => [t.tensor.name, t]));
  const translated = (t: TensorPlan | undefined) => !!t && t.action === 'quantize' && !llmCompressorProblem(t);
  const isAwq = (t: TensorPlan | undefined) => translated(t) && effectiveMethod(t!) === 'awq';
  // Bitsmith writes codes (gguf, compressed_tensors): it then scales only where 1/s folds
  // into the operation before, as llm-compressor always does; with output fake only it
  // scales every awq site (run/awq_run.h).
  const codes = recipe.outputs.some((o) => o.kind === 'gguf' || o.kind === 'compressed_tensors');

  const sites = new Map<string, AwqSite>();
  const siteProblem = new Map<string, string>();
  for (const t of plan.tensors) {
    if (t.action !== 'quantize') continue;
    const problem = llmCompressorProblem(t);
    if (problem) {
      add(t, { ...problem, kind: 'untranslatable' });
      continue;
    }
    const c = t.config!;
    const method = effectiveMethod(t);
    const f = c.format.name;
    if (f !== 'nvfp4') {
      const want = SCALE_OF_DTYPE[t.tensor.dtype];
      if (want !== c.scale) {
        add(t, {
          prop: 'scale',
          kind: 'inexact',
          message: `llm-compressor keeps int and fp8 scales in the weight's dtype (${t.tensor.dtype} here); Bitsmith rounds them to ${c.scale}${want ? `: scale ${want} translates exactly` : ''}`,
        });
      }
    } else if (/\.(?:self_attn\.[qkv]_proj|mlp\.(?:gate|up)_proj)\.weight$/.test(t.tensor.name)) {
      add(t, {
        prop: 'format',
        kind: 'inexact',
        message:
          "llm-compressor gives q/k/v (and gate/up) one shared nvfp4 global scale, as vLLM requires; Bitsmith's is per tensor",
      });
    }
    if (method === 'gptq' && c.groupKind === 'size' && t.method.options.act_order !== true) {
      add(t, {
        prop: 'method',
        kind: 'inexact',
        message:
          "llm-compressor fits every group's scale on the original weights before the GPTQ pass; without act_order Bitsmith fits each group on the error-compensated weights when the pass reaches it: act_order (static groups, as llm-compressor) translates exactly",
      });
    }
    if (t.clip === 'mse' && method === 'rtn' && recipe.calibration && c.groupKind === 'tensor') {
      add(t, {
        prop: 'clip',
        kind: 'inexact',
        message:
          "llm-compressor's imatrix_mse observer weights the clip search by importance per group or channel, not per tensor (it falls back to the unweighted search)",
      });
    }
    if (method === 'awq') {
      add(t, {
        prop: 'method',
        kind: 'inexact',
        message:
          "llm-compressor's AWQ scores each alpha on the output of the whole attention or MLP block; Bitsmith on each linear layer's output (tr(dW H dW^T)), so the two may choose different alphas (the candidates, mean|x|^alpha for alpha = 0, 1/grid, ..., are the same)",
      });
      if (t.clip === 'mse')
        add(t, {
          prop: 'clip',
          kind: 'inexact',
          message:
            "llm-compressor's AWQ search uses min-max ranges and applies the mse observer only to the final weights; Bitsmith's search runs clip mse at every alpha",
        });
      const s = siteOf(t.tensor.name);
      if (!s) continue; // a weight without input activations runs rtn (effectiveMethod)
      const site = siteModules(s.kind, s.layer);
      const key = `${s.kind}:${s.layer}`;
      if (sites.has(key) || siteProblem.has(key)) continue;
      // Bitsmith's fold rule (run/awq_run.h): who must use awq, and what must hold.
      let why: string | undefined;
      const members = site.balance.map((m) => byName.get(`${m}.weight`));
      const smoothWeight = byName.get(`${site.smooth}.weight`);
      if (s.kind === 'qkv' || s.kind === 'gateup') {
        if (!members.every(isAwq))
          why = `${site.smooth} also feeds ${site.balance.filter((_, i) => !isAwq(members[i])).join(', ')}, which do not use awq`;
        else if (!smoothWeight || smoothWeight.action !== 'keep')
          why = `${site.smooth} is not kept in source precision`;
      } else if (s.kind === 'down') {
        if (!isAwq(smoothWeight))
          why = `its 1/s goes into ${site.smooth}'s rows, which needs ${site.smooth} to use awq`;
      } else {
        const v = smoothWeight;
        const vBias = byName.has(`${site.smooth}.bias`);
        if (!isAwq(v)) why = `its 1/s goes into ${site.smooth}'s rows, which needs ${site.smooth} to use awq`;
        else if (v!.rows !== members[0]?.cols)
          why = 'grouped-query attention: one v_proj row feeds several o_proj columns';
        else if (vBias) why = `${site.smooth} has a bias`;
      }
      if (why === undefined) sites.set(key, site);
      else siteProblem.set(key, why);
    }
  }
  // Awq tensors at a site that does not fold: RTN in llm-compressor, as in Bitsmith when it
  // writes codes; with output fake only Bitsmith scaled them.
  if (!codes) {
    for (const t of plan.tensors) {
      if (!isAwq(t)) continue;
      const s = siteOf(t.tensor.name);
      const why = s && siteProblem.get(`${s.kind}:${s.layer}`);
      if (why)
        add(t, {
          prop: 'method',
          kind: 'inexact',
          message: `llm-compressor folds AWQ's 1/s into the layer before, which is not possible here (${why}): RTN there; Bitsmith's output fake scales it anyway`,
        });
    }
  }
  return { issues, awqSites: [...sites.values()] };
}

/** A YAML double-quoted scalar (JSON string syntax is valid YAML). */
const q = (s: string) => JSON.stringify(s);

function yamlValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return q(v);
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${yamlValue(x)}`)
      .join(', ')}}`;
  return String(v);
}

interface Modifier {
  group: string;
  name: string;
  options: Record<string, unknown>;
  groups: Map<string, { weights: Record<string, unknown>; modules: string[] }>;
}

export function llmCompressorRecipe(
  recipe: Recipe,
  plan: Plan,
  model: ModelHeader,
  source: string,
  modelName: ModelName = { label: model.path },
): Translation {
  const analysis = llmCompressorAnalysis(recipe, plan);
  const issues = new Map<string, ExportIssue>();
  const note = (t: TensorPlan, prop: PropName, message: string, kind: 'untranslatable' | 'inexact') => {
    const rule = t.decidedBy[prop] ?? t.decidedBy.format;
    const key = `${kind}:${rule}:${message}`;
    const e = issues.get(key);
    if (e) e.tensors.push(t.tensor.name);
    else
      issues.set(key, {
        rule,
        prop,
        message,
        tensors: [t.tensor.name],
        ...(kind === 'inexact' ? { kind: 'inexact' as const } : {}),
      });
  };
  const moduleOf = (n: string) => n.replace(/\.weight$/, '');
  const allModules = [...new Set(plan.tensors.map((t) => t.tensor.name.replace(/\.(weight|bias)$/, '')))];

  const modifiers: Modifier[] = [];
  const quantModifier = (): Modifier => {
    let m = modifiers.find((x) => x.name === 'QuantizationModifier');
    if (!m) modifiers.push((m = { group: 'quant', name: 'QuantizationModifier', options: {}, groups: new Map() }));
    return m;
  };
  const gptqModifier = (options: Record<string, unknown>): Modifier => {
    const key = JSON.stringify(options);
    let m = modifiers.find((x) => x.name === 'GPTQModifier' && JSON.stringify(x.options) === key);
    if (!m) {
      const n = modifiers.filter((x) => x.name === 'GPTQModifier').length;
      modifiers.push((m = { group: n ? `gptq_${n}` : 'gptq', name: 'GPTQModifier', options, groups: new Map() }));
    }
    return m;
  };
  const ignored: string[] = [];
  const hasImportance = !!recipe.calibration;
  for (const t of plan.tensors) {
    const isLinear = t.tensor.name.endsWith('.weight') && t.tensor.shape.length === 2;
    if (t.action !== 'quantize') {
      if (isLinear) ignored.push(moduleOf(t.tensor.name));
      continue;
    }
    const list = analysis.issues.get(t) ?? [];
    for (const i of list) note(t, i.prop, i.message, i.kind);
    if (list.some((i) => i.kind === 'untranslatable')) {
      if (isLinear) ignored.push(moduleOf(t.tensor.name));
      continue;
    }
    const method = effectiveMethod(t);
    const m =
      method === 'gptq'
        ? gptqModifier({
            block_size: typeof t.method.options.block === 'number' ? t.method.options.block : 128,
            dampening_frac: typeof t.method.options.damp === 'number' ? t.method.options.damp : 0.01,
            actorder: t.method.options.act_order === true ? 'static' : null,
          })
        : quantModifier();
    const weights = llmcWeights(t, method === 'rtn' && hasImportance);
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
  out.push(`# An llm-compressor recipe, written for ${LLMC_VERSIONS}.`);
  out.push(`# model: ${modelName.label}`);
  if (modelName.hub)
    out.push(
      `#   oneshot(model=${q(modelName.hub.id)}, revision=${q(modelName.hub.commit)}, recipe="<this file>", dataset=...)`,
    );
  out.push('# Every target selects exactly the modules the Bitsmith plan gives that configuration');
  out.push("# (re: targets are matched with Python's re.match against module names). Every option whose");
  out.push('# llm-compressor default differs from what Bitsmith ran is written out.');
  const issueList = [...issues.values()];
  for (const i of issueList) {
    const label = i.rule !== undefined ? (recipe.rules[i.rule]?.label ?? 'rule') : 'recipe';
    const n = `${i.tensors.length} tensor${i.tensors.length === 1 ? '' : 's'}`;
    out.push(
      i.kind === 'inexact'
        ? `# NOT EXACT (${label}): ${i.message}; ${n}, e.g. ${i.tensors[0]}`
        : `# NOT TRANSLATED (${label}): ${i.message}; ${n} left unquantized here, e.g. ${i.tensors[0]}`,
    );
  }
  out.push('quant_stage:');
  if (modifiers.length === 0) {
    out.push('  quant_modifiers: {}  # nothing in this recipe translates (see above)');
  }
  if (analysis.awqSites.length && modifiers.some((m) => m.name === 'QuantizationModifier')) {
    const awq = plan.tensors.find((t) => t.action === 'quantize' && effectiveMethod(t) === 'awq');
    const grid = typeof awq?.method.options.grid === 'number' ? awq.method.options.grid : 20;
    out.push('  awq_modifiers:');
    out.push('    AWQModifier:');
    out.push('      duo_scaling: false');
    out.push(`      n_grid: ${grid}`);
    out.push('      mappings:');
    for (const mp of awqMappings(analysis.awqSites, plan)) {
      out.push(`        - smooth_layer: ${q(`re:${mp.smooth}$`)}`);
      out.push(`          balance_layers: [${mp.balance.map((b) => q(`re:${b}$`)).join(', ')}]`);
    }
  }
  let gi = 0;
  for (const m of modifiers) {
    out.push(`  ${m.group}_modifiers:`);
    out.push(`    ${m.name}:`);
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

/** The weights' QuantizationArgs, every field explicit (see the header for the observers). */
function llmcWeights(t: TensorPlan, importance: boolean): Record<string, unknown> {
  const a = weightArgs(t);
  const nvfp4 = t.config!.format.name === 'nvfp4';
  // nvfp4 has nothing to search (its scales are fixed by the block's absmax).
  const mse = t.clip === 'mse' && !nvfp4;
  const observer = !mse ? 'memoryless_minmax' : importance ? 'imatrix_mse' : 'memoryless_mse';
  return {
    num_bits: a.num_bits,
    type: a.type,
    symmetric: a.symmetric,
    strategy: a.strategy,
    group_size: a.group_size,
    dynamic: false,
    observer,
    ...(mse ? { observer_kwargs: importance ? IMATRIX_MSE_KWARGS : MSE_KWARGS } : {}),
  };
}

/** AWQ mappings: per site kind, one mapping over every layer (layer number as [0-9]+) when
 *  all of them are mapped, else one per layer. */
function awqMappings(sites: AwqSite[], plan: Plan): { smooth: string; balance: string[] }[] {
  const out: { smooth: string; balance: string[] }[] = [];
  const kinds: AwqSite['kind'][] = ['qkv', 'o', 'gateup', 'down'];
  for (const kind of kinds) {
    const chosen = sites.filter((s) => s.kind === kind);
    if (!chosen.length) continue;
    // Every layer that has this site (its first balance tensor exists).
    const all = new Set<string>();
    for (const t of plan.tensors) {
      const s = siteOf(t.tensor.name);
      if (s && s.kind === kind) all.add(s.layer);
    }
    const layerTemplate = /^(.*\.)([0-9]+)$/;
    const m0 = layerTemplate.exec(chosen[0].layer);
    const sameParent = m0 && chosen.every((s) => layerTemplate.exec(s.layer)?.[1] === m0[1]);
    if (chosen.length === all.size && chosen.length > 1 && sameParent) {
      const generic = (name: string) =>
        escapeRegex(`${m0[1]}`) + '[0-9]+' + escapeRegex(name.slice(chosen[0].layer.length));
      out.push({ smooth: generic(chosen[0].smooth), balance: chosen[0].balance.map(generic) });
    } else {
      for (const s of chosen) out.push({ smooth: escapeRegex(s.smooth), balance: s.balance.map(escapeRegex) });
    }
  }
  return out;
}
