// Whether the built-in forward pass (native/src/forward/config.cc, readConfig) can run a
// model, decided from its header before any run: the same rules, in the same order, with
// the same codes and messages as the native config reader, which throws them when a run
// starts. test/native/forward-support.test.ts runs both on the same configs and asserts
// they agree; change both together. Pure: reads header.config and header.tensors only.
//
// The recipe statements that run the forward pass get the error (forwardProblems):
// calibration generated / tokens / text (the Hessians gptq and awq need, the output error
// of metric output), evaluate, and allocate with metric kld.

import * as path from 'path';
import type { ModelFormat, ModelHeader } from '../models/types';
import type { Recipe } from './recipe';
import { diag, type Diagnostic } from './diagnostic';
import type { Span } from '../syntax/ast';

export type RopeType = 'default' | 'linear' | 'dynamic' | 'yarn' | 'llama3';

/** The rotary embedding as the forward pass computes it (native/src/forward/rope.h). */
export interface RopeSpec {
  type: RopeType;
  theta: number;
  factor: number;
  /** dynamic: the length past which the base grows. */
  maxPositions: number;
  /** yarn, llama3: the pretraining context. */
  originalMaxPositions: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  betaFast: number;
  betaSlow: number;
  truncate: boolean;
  /** yarn: cos and sin are multiplied by it. */
  attentionFactor: number;
}

/** What the forward pass reads from a model's config (native LlamaConfig). */
export interface ForwardArchitecture {
  architecture: string;
  format: ModelFormat;
  source: string;
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  /** 0: unknown. */
  maxPositions: number;
  normEps: number;
  bosToken: number;
  rope: RopeSpec;
  qkvBias: boolean;
  qkNorm: boolean;
  tied: boolean;
  /** 0: no sliding window. */
  slidingWindow: number;
  /** The layers the sliding window applies to. */
  windowLayers: number[];
}

export type ForwardSupport =
  { ok: true; arch: ForwardArchitecture } | { ok: false; code: ForwardErrorCode; message: string; tensor?: string };

export type ForwardErrorCode =
  | 'forward/unsupported-format'
  | 'forward/no-config'
  | 'forward/bad-config'
  | 'forward/unsupported-architecture'
  | 'forward/missing-tensor'
  | 'forward/shape-mismatch';

/** Thrown inside, returned as { ok: false }: the first rule a model breaks. */
class Refusal {
  constructor(
    readonly code: ForwardErrorCode,
    readonly message: string,
    readonly tensor?: string,
  ) {}
}

export const FORWARD_FAMILIES: readonly string[] = ['llama', 'mistral', 'qwen2', 'qwen3'];
export const ROPE_TYPES: readonly RopeType[] = ['default', 'linear', 'dynamic', 'yarn', 'llama3'];

// Per header object: the language server re-analyses on every edit with the same cached header.
const cache = new WeakMap<ModelHeader, ForwardSupport>();

export function forwardSupport(header: ModelHeader): ForwardSupport {
  let s = cache.get(header);
  if (s) return s;
  try {
    const arch = readArchitecture(header);
    checkTensors(header, arch);
    s = { ok: true, arch };
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    s = { ok: false, code: e.code, message: e.message, tensor: e.tensor };
  }
  cache.set(header, s);
  return s;
}

function readArchitecture(h: ModelHeader): ForwardArchitecture {
  if (h.format === 'llama2c') return llama2cArchitecture(h);
  if (h.format === 'gguf')
    throw new Refusal(
      'forward/unsupported-format',
      `${h.path}: the forward pass reads Hugging Face folders (config.json + safetensors) and llama2.c .bin checkpoints; GGUF is not supported yet`,
    );
  const dir = h.format === 'hf-folder' ? h.path : path.dirname(h.path);
  const file = path.join(dir, 'config.json');
  if (!h.files.includes(file))
    throw new Refusal(
      'forward/no-config',
      `${h.path}: the forward pass needs the model's config.json (looked for ${file})`,
    );
  return configFromJson(h.config, file, h.format);
}

function llama2cArchitecture(h: ModelHeader): ForwardArchitecture {
  const n = (k: string): number => (typeof h.config[k] === 'number' ? (h.config[k] as number) : 0);
  const dim = n('dim'),
    heads = n('n_heads');
  const headDim = heads > 0 ? Math.trunc(dim / heads) : 0;
  if (headDim % 2 !== 0)
    throw new Refusal('forward/bad-config', `${h.path}: llama2.c head size ${headDim} is odd: no rotary pairs`);
  return {
    architecture: 'llama',
    format: h.format,
    source: h.path,
    dim,
    hidden: n('hidden_dim'),
    layers: n('n_layers'),
    heads,
    kvHeads: n('n_kv_heads'),
    headDim,
    vocab: Math.abs(n('vocab_size')),
    maxPositions: n('seq_len'),
    normEps: 1e-5,
    bosToken: 1,
    rope: defaultRope(),
    qkvBias: false,
    qkNorm: false,
    tied: !h.tensors.some((t) => t.name === 'lm_head.weight'),
    slidingWindow: 0,
    windowLayers: [],
  };
}

function defaultRope(): RopeSpec {
  return {
    type: 'default',
    theta: 10000,
    factor: 1,
    maxPositions: 0,
    originalMaxPositions: 0,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    betaFast: 32,
    betaSlow: 1,
    truncate: true,
    attentionFactor: 1,
  };
}

// ---- config.json: the twin of native configFromJson ------------------------------------

type Json = Record<string, unknown>;

const isSet = (v: unknown): boolean => v !== undefined && v !== null;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function configError(file: string, what: string): never {
  throw new Refusal('forward/bad-config', `${file}: ${what}`);
}

function unsupported(file: string, what: string): never {
  throw new Refusal('forward/unsupported-architecture', `${file}: ${what}`);
}

function intMember(
  obj: Json,
  file: string,
  prefix: string,
  key: string,
  def: number,
  required: boolean,
  lo = 1,
  hi = 2 ** 24,
): number {
  const v = obj[key];
  const name = prefix + key;
  if (!isSet(v)) {
    if (required) configError(file, `"${name}" is missing`);
    return def;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    configError(file, `"${name}" must be an integer from ${lo} to ${hi}`);
  return v;
}

type Range = 'any' | 'non-negative' | 'positive' | 'at-least-one' | 'unit-interval';

const RANGE_TEXT: Record<Range, string> = {
  any: 'a number',
  'non-negative': 'a number of at least 0',
  positive: 'a positive number',
  'at-least-one': 'a number of at least 1',
  'unit-interval': 'a number from 0 to 1',
};

function numMember(
  obj: Json,
  file: string,
  prefix: string,
  key: string,
  def: number,
  required: boolean,
  range: Range,
): number {
  const v = obj[key];
  const name = prefix + key;
  if (!isSet(v)) {
    if (required) configError(file, `"${name}" is missing`);
    return def;
  }
  const x = typeof v === 'number' ? v : NaN;
  let ok = Number.isFinite(x);
  if (range === 'non-negative') ok &&= x >= 0;
  else if (range === 'positive') ok &&= x > 0;
  else if (range === 'at-least-one') ok &&= x >= 1;
  else if (range === 'unit-interval') ok &&= x >= 0 && x <= 1;
  if (!ok) configError(file, `"${name}" must be ${RANGE_TEXT[range]}`);
  return x;
}

function boolMember(obj: Json, file: string, prefix: string, key: string, def: boolean): boolean {
  const v = obj[key];
  if (!isSet(v)) return def;
  if (typeof v !== 'boolean') configError(file, `"${prefix}${key}" must be true or false`);
  return v;
}

/** YaRN's magnitude correction: 0.1 m ln(s) + 1 above s = 1. */
const yarnMscale = (scale: number, m: number): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);

interface Shape {
  architecture: string;
  headDim: number;
  maxPositions: number;
}

function ropeFromJson(cfg: Json, file: string, c: Shape): RopeSpec {
  const r = defaultRope();
  const rs = cfg.rope_scaling,
    rp = cfg.rope_parameters;
  let sc: Json | undefined;
  let label = 'rope_scaling';
  if (isSet(rs) && !(isObject(rs) && Object.keys(rs).length === 0)) {
    if (!isObject(rs)) configError(file, '"rope_scaling" must be an object or null');
    sc = rs;
  } else if (isSet(rp)) {
    if (!isObject(rp)) configError(file, '"rope_parameters" must be an object or null');
    sc = rp;
    label = 'rope_parameters';
  }
  const arch = c.architecture;
  if (sc && Object.values(sc).some(isObject))
    unsupported(file, `${arch} with ${label} per layer type: not supported by the forward pass`);
  const pre = `${label}.`;
  r.theta =
    sc && isSet(sc.rope_theta)
      ? numMember(sc, file, pre, 'rope_theta', 0, true, 'positive')
      : numMember(cfg, file, '', 'rope_theta', 10000, false, 'positive');
  const partial = isSet(cfg.partial_rotary_factor)
    ? numMember(cfg, file, '', 'partial_rotary_factor', 1, true, 'any')
    : sc
      ? numMember(sc, file, pre, 'partial_rotary_factor', 1, false, 'any')
      : 1;
  if (partial !== 1) unsupported(file, `${arch} with partial_rotary_factor: the forward pass rotates whole heads only`);
  let type = 'default';
  if (sc) {
    let key = 'rope_type';
    let t = sc.rope_type;
    if (!isSet(t)) {
      t = sc.type;
      key = 'type';
    }
    if (isSet(t)) {
      if (typeof t !== 'string') configError(file, `"${pre}${key}" must be a string`);
      type = t;
    }
  }
  const original = (s: Json): number => {
    if (isSet(cfg.original_max_position_embeddings))
      return intMember(cfg, file, '', 'original_max_position_embeddings', 0, true, 1, 2 ** 30);
    if (isSet(s.original_max_position_embeddings))
      return intMember(s, file, pre, 'original_max_position_embeddings', 0, true, 1, 2 ** 30);
    if (c.maxPositions > 0) return c.maxPositions;
    return configError(
      file,
      `${label} of type "${type}" needs "original_max_position_embeddings" or "max_position_embeddings"`,
    );
  };
  if (type === 'default') return r;
  // Every scaled type comes from a dictionary: sc is set here.
  const s = sc!;
  if (type === 'linear') {
    r.type = 'linear';
    r.factor = numMember(s, file, pre, 'factor', 1, true, 'at-least-one');
  } else if (type === 'dynamic') {
    r.type = 'dynamic';
    r.factor = numMember(s, file, pre, 'factor', 1, true, 'at-least-one');
    if (c.maxPositions <= 0) configError(file, `${label} of type "dynamic" needs "max_position_embeddings"`);
    if (c.headDim <= 2) configError(file, `${label} of type "dynamic" needs a head_dim above 2`);
    r.maxPositions = c.maxPositions;
  } else if (type === 'yarn') {
    r.type = 'yarn';
    r.factor = numMember(s, file, pre, 'factor', 1, true, 'at-least-one');
    r.originalMaxPositions = original(s);
    const fast = numMember(s, file, pre, 'beta_fast', 0, false, 'non-negative');
    const slow = numMember(s, file, pre, 'beta_slow', 0, false, 'non-negative');
    r.betaFast = fast !== 0 ? fast : 32; // transformers: `or 32`, `or 1`
    r.betaSlow = slow !== 0 ? slow : 1;
    r.truncate = boolMember(s, file, pre, 'truncate', true);
    const mscale = numMember(s, file, pre, 'mscale', 0, false, 'any');
    const mscaleAll = numMember(s, file, pre, 'mscale_all_dim', 0, false, 'any');
    if (isSet(s.attention_factor)) r.attentionFactor = numMember(s, file, pre, 'attention_factor', 1, true, 'positive');
    else if (mscale !== 0 && mscaleAll !== 0)
      r.attentionFactor = yarnMscale(r.factor, mscale) / yarnMscale(r.factor, mscaleAll);
    else r.attentionFactor = yarnMscale(r.factor, 1);
  } else if (type === 'llama3') {
    r.type = 'llama3';
    r.factor = numMember(s, file, pre, 'factor', 1, true, 'at-least-one');
    r.lowFreqFactor = numMember(s, file, pre, 'low_freq_factor', 1, true, 'positive');
    r.highFreqFactor = numMember(s, file, pre, 'high_freq_factor', 4, true, 'positive');
    if (!(r.highFreqFactor > r.lowFreqFactor))
      configError(file, `"${pre}high_freq_factor" must be greater than "${pre}low_freq_factor"`);
    r.originalMaxPositions = original(s);
  } else {
    unsupported(
      file,
      `${arch} with ${label} of type "${type}": the forward pass runs rope types default, linear, dynamic, yarn and llama3`,
    );
  }
  return r;
}

function configFromJson(cfg: Json, file: string, format: ModelFormat): ForwardArchitecture {
  const mt = cfg.model_type;
  const archList = Array.isArray(cfg.architectures)
    ? cfg.architectures.filter((x): x is string => typeof x === 'string').join(', ')
    : '';
  const arch = typeof mt === 'string' ? mt : '';
  let moe = '';
  for (const k of ['num_local_experts', 'num_experts', 'n_routed_experts']) {
    const v = cfg[k];
    if (!moe && typeof v === 'number' && v > 0) moe = k;
  }
  if (!FORWARD_FAMILIES.includes(arch))
    unsupported(
      file,
      `model_type "${arch || '(none)'}"${archList ? ` (${archList})` : ''}${moe ? ', a mixture-of-experts model' : ''}: the forward pass runs Llama-family models only (llama, mistral, qwen2, qwen3, and llama2.c checkpoints)`,
    );
  if (moe) unsupported(file, `${arch} with "${moe}": mixture-of-experts models are not supported by the forward pass`);
  const act = cfg.hidden_act;
  if (isSet(act)) {
    if (typeof act !== 'string') configError(file, '"hidden_act" must be a string');
    if (act !== 'silu')
      unsupported(file, `${arch} with hidden_act "${act}": the forward pass runs silu (SwiGLU) MLPs only`);
  }
  const dim = intMember(cfg, file, '', 'hidden_size', 0, true);
  const hidden = intMember(cfg, file, '', 'intermediate_size', 0, true);
  const layers = intMember(cfg, file, '', 'num_hidden_layers', 0, true, 1, 4096);
  const heads = intMember(cfg, file, '', 'num_attention_heads', 0, true, 1, 4096);
  const kvHeads = intMember(cfg, file, '', 'num_key_value_heads', heads, false, 1, 4096);
  const vocab = intMember(cfg, file, '', 'vocab_size', 0, true, 1, 2 ** 24);
  let headDim = intMember(cfg, file, '', 'head_dim', 0, false, 1, 4096);
  if (headDim === 0) {
    if (dim % heads !== 0)
      configError(file, 'num_attention_heads does not divide hidden_size and there is no head_dim');
    headDim = dim / heads;
  }
  if (heads % kvHeads !== 0) configError(file, 'num_key_value_heads does not divide num_attention_heads');
  if (headDim % 2 !== 0) configError(file, 'head_dim must be even for the rotary embedding');
  const maxPositions = intMember(cfg, file, '', 'max_position_embeddings', 0, false, 1, 2 ** 30);
  const normEps = numMember(cfg, file, '', 'rms_norm_eps', 1e-6, false, 'unit-interval');
  const bosToken = intMember(cfg, file, '', 'bos_token_id', 1, false, 0, vocab - 1);
  // Biases as transformers builds the modules (see the native twin).
  if ((arch === 'llama' || arch === 'qwen3') && boolMember(cfg, file, '', 'attention_bias', false))
    unsupported(file, `${arch} with attention_bias: the o_proj bias is not supported by the forward pass`);
  if (arch === 'llama' && boolMember(cfg, file, '', 'mlp_bias', false))
    unsupported(file, 'llama with mlp_bias: MLP biases are not supported by the forward pass');
  const rope = ropeFromJson(cfg, file, { architecture: arch, headDim, maxPositions });
  let slidingWindow = 0;
  let windowed: boolean[] | undefined;
  if (arch === 'mistral') {
    slidingWindow = intMember(cfg, file, '', 'sliding_window', 0, false, 1, 2 ** 30);
  } else if ((arch === 'qwen2' || arch === 'qwen3') && boolMember(cfg, file, '', 'use_sliding_window', false)) {
    slidingWindow = intMember(cfg, file, '', 'sliding_window', 0, false, 1, 2 ** 30);
    if (slidingWindow > 0) {
      const lt = cfg.layer_types;
      if (isSet(lt)) {
        if (!Array.isArray(lt) || lt.length !== layers)
          configError(file, `"layer_types" must list the attention type of each of the ${layers} layers`);
        windowed = lt.map((e) => {
          if (e !== 'full_attention' && e !== 'sliding_attention')
            configError(file, '"layer_types" entries must be "full_attention" or "sliding_attention"');
          return e === 'sliding_attention';
        });
      } else {
        const from = intMember(cfg, file, '', 'max_window_layers', 28, false, 0, 4096);
        windowed = Array.from({ length: layers }, (_, l) => l >= from);
      }
    }
  }
  const windowLayers: number[] = [];
  if (slidingWindow > 0) for (let l = 0; l < layers; l++) if (!windowed || windowed[l]) windowLayers.push(l);
  return {
    architecture: arch,
    format,
    source: file,
    dim,
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    vocab,
    maxPositions,
    normEps,
    bosToken,
    rope,
    qkvBias: arch === 'qwen2',
    qkNorm: arch === 'qwen3',
    tied: boolMember(cfg, file, '', 'tie_word_embeddings', false),
    slidingWindow,
    windowLayers,
  };
}

// ---- the tensors the pass reads ---------------------------------------------------------

/** Every tensor the forward pass reads, with the shape the config implies, in reading order. */
export function forwardTensors(c: ForwardArchitecture): [string, number[]][] {
  const D = c.dim,
    qd = c.heads * c.headDim,
    kvd = c.kvHeads * c.headDim,
    F = c.hidden,
    V = c.vocab;
  const t: [string, number[]][] = [
    ['model.embed_tokens.weight', [V, D]],
    ['model.norm.weight', [D]],
  ];
  if (!c.tied) t.push(['lm_head.weight', [V, D]]);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    t.push(
      [p + 'input_layernorm.weight', [D]],
      [p + 'post_attention_layernorm.weight', [D]],
      [p + 'self_attn.q_proj.weight', [qd, D]],
      [p + 'self_attn.k_proj.weight', [kvd, D]],
      [p + 'self_attn.v_proj.weight', [kvd, D]],
    );
    if (c.qkvBias)
      t.push(
        [p + 'self_attn.q_proj.bias', [qd]],
        [p + 'self_attn.k_proj.bias', [kvd]],
        [p + 'self_attn.v_proj.bias', [kvd]],
      );
    if (c.qkNorm) t.push([p + 'self_attn.q_norm.weight', [c.headDim]], [p + 'self_attn.k_norm.weight', [c.headDim]]);
    t.push(
      [p + 'self_attn.o_proj.weight', [D, qd]],
      [p + 'mlp.gate_proj.weight', [F, D]],
      [p + 'mlp.up_proj.weight', [F, D]],
      [p + 'mlp.down_proj.weight', [D, F]],
    );
  }
  return t;
}

const shapeText = (s: number[]): string => `[${s.join(', ')}]`;

function checkTensors(h: ModelHeader, c: ForwardArchitecture): void {
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  for (const [name, shape] of forwardTensors(c)) {
    const t = byName.get(name);
    if (!t)
      throw new Refusal(
        'forward/missing-tensor',
        `${h.path}: the ${c.architecture} forward pass needs tensor "${name}", which the model lacks`,
        name,
      );
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new Refusal(
        'forward/shape-mismatch',
        `${t.file}: tensor "${name}" has shape ${shapeText(t.shape)} but the config implies ${shapeText(shape)}`,
        name,
      );
  }
}

// ---- for the editor ---------------------------------------------------------------------

/** One line for hovers, e.g. "llama, rope llama3 (factor 32 over 8192 positions, theta 500000), tied embeddings". */
export function describeForward(a: ForwardArchitecture): string {
  const r = a.rope;
  const rope =
    r.type === 'default'
      ? `rope theta ${r.theta}`
      : r.type === 'linear'
        ? `rope linear (factor ${r.factor}, theta ${r.theta})`
        : r.type === 'dynamic'
          ? `rope dynamic (factor ${r.factor} past ${r.maxPositions} positions, theta ${r.theta})`
          : r.type === 'yarn'
            ? `rope yarn (factor ${r.factor} over ${r.originalMaxPositions} positions, attention factor ${+r.attentionFactor.toFixed(4)}, theta ${r.theta})`
            : `rope llama3 (factor ${r.factor} over ${r.originalMaxPositions} positions, theta ${r.theta})`;
  const parts = [
    `${a.architecture}${a.format === 'llama2c' ? ' (llama2.c)' : ''}`,
    `${a.layers} layers`,
    `${a.heads} heads${a.kvHeads !== a.heads ? ` (${a.kvHeads} kv)` : ''} of ${a.headDim}`,
    rope,
  ];
  if (a.qkvBias) parts.push('q/k/v biases');
  if (a.qkNorm) parts.push('q/k norms');
  if (a.slidingWindow > 0)
    parts.push(
      `sliding window ${a.slidingWindow}${a.windowLayers.length < a.layers ? ` on ${a.windowLayers.length} of ${a.layers} layers` : ''}`,
    );
  parts.push(a.tied ? 'tied embeddings' : 'separate lm_head');
  return parts.join(', ');
}

/** The statements of a recipe that run the forward pass, each with what it runs it for. */
export function forwardStatements(recipe: Recipe): { span: Span; what: string }[] {
  const out: { span: Span; what: string }[] = [];
  const cal = recipe.calibration;
  if (cal && (cal.kind === 'generated' || cal.kind === 'tokens' || cal.kind === 'text'))
    out.push({ span: cal.stmt, what: `calibration ${cal.kind}` });
  // The keyword, not the whole block.
  if (recipe.evaluate) out.push({ span: recipe.evaluate.stmt.keyword, what: 'evaluate' });
  const alloc = recipe.allocate;
  if (alloc?.metric === 'kld') {
    const metric = alloc.stmt.block?.statements.find((s) => s.keyword.name === 'metric');
    out.push({ span: metric ?? alloc.stmt, what: 'allocate metric kld' });
  }
  return out;
}

/** An error on each statement that runs the forward pass when it cannot run this model; the
 *  calibration's names the rules whose methods need its activations (gptq, awq). */
export function forwardProblems(recipe: Recipe, model: ModelHeader): Diagnostic[] {
  const statements = forwardStatements(recipe);
  if (statements.length === 0) return [];
  const s = forwardSupport(model);
  if (s.ok) return [];
  const users: { span: Span; message: string }[] = [];
  for (const rule of recipe.rules) {
    const m = rule.settings.method;
    if (m && (m.value.name === 'gptq' || m.value.name === 'awq'))
      users.push({ span: m.stmt, message: `method ${m.value.name} needs the activations of this forward pass` });
  }
  if (recipe.allocate?.metric === 'output')
    users.push({ span: recipe.allocate.stmt.keyword, message: 'allocate metric output needs them too' });
  return statements.map((st) =>
    diag(
      s.code,
      'error',
      st.span,
      `${st.what} runs the built-in forward pass, which cannot run this model: ${s.message}`,
      {
        ...(st.span === recipe.calibration?.stmt && users.length ? { related: users } : {}),
      },
    ),
  );
}
