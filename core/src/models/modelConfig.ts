// config.json checked against the tensors it describes. A config can lie (hidden_size 128
// for 64-wide tensors, num_hidden_layers 2 for a 5-layer model, rope_theta 0), and every
// consumer of it (the forward pass, output gguf's metadata) would then compute or write
// something wrong, or fail deep into a run. Here each value is checked for type and range
// and against the shapes; the analyzer reports the problems on the `model` line, and
// output gguf takes its hyperparameters only from `hparams`, which exists only when the
// config is consistent.

import * as path from 'path';
import type { ModelHeader, TensorInfo } from './types';

/** Architectures the forward pass and output gguf know (native/src/forward/llama.cc). */
export const LLAMA_FAMILY = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;

export interface ConfigProblem {
  severity: 'error' | 'warning';
  /** Names config.json and, when the problem is a mismatch, the tensor. */
  message: string;
  key: string;
  tensor?: string;
}

/** Llama-family hyperparameters, every one checked against the tensors. */
export interface LlamaHparams {
  /** max_position_embeddings (or the llama.c seq_len); undefined when the config has none. */
  ctx?: number;
  embd: number;
  blocks: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** head_dim is given and differs from hidden_size / num_attention_heads. */
  explicitHeadDim: boolean;
  ropeBase: number;
  eps: number;
  vocab: number;
  tied: boolean;
  bos?: number;
  eos?: number;
}

export interface ConfigCheck {
  problems: ConfigProblem[];
  /** Present for a Llama-family model whose config has no errors. */
  hparams?: LlamaHparams;
  /** The file the values come from (config.json, or the model file for llama2.c). */
  source: string;
}

/** The keys a Llama-family config must have (the forward pass and output gguf read them). */
export const REQUIRED_HPARAMS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'vocab_size',
] as const;

/** Limits as the native forward pass enforces them (native/src/forward/llama.cc). */
const LIMITS = {
  hidden_size: [1, 1 << 24],
  intermediate_size: [1, 1 << 24],
  num_hidden_layers: [1, 4096],
  num_attention_heads: [1, 4096],
  num_key_value_heads: [1, 4096],
  head_dim: [1, 4096],
  vocab_size: [1, 1 << 24],
  max_position_embeddings: [1, 2 ** 30],
} as const;

function configPath(model: ModelHeader): string {
  const read = model.files.find((f) => path.basename(f) === 'config.json');
  if (read) return read;
  return path.join(model.format === 'hf-folder' ? model.path : path.dirname(model.path), 'config.json');
}

/** Checks a model's config against its tensors (safetensors / HF folders with a config.json,
 * and llama2.c headers, whose values are the reader's and consistent by construction). */
export function checkModelConfig(model: ModelHeader): ConfigCheck {
  // Per header object: the language server re-analyses on every edit with the same header.
  let c = checked.get(model);
  if (!c) checked.set(model, (c = check(model)));
  return c;
}

const checked = new WeakMap<ModelHeader, ConfigCheck>();

function check(model: ModelHeader): ConfigCheck {
  if (model.format === 'llama2c') return llama2cHparams(model);
  const source = configPath(model);
  const problems: ConfigProblem[] = [];
  if (model.format === 'gguf' || Object.keys(model.config).length === 0) return { problems, source };

  const c = model.config;
  const type = typeof c.model_type === 'string' ? c.model_type : '';
  const llama = (LLAMA_FAMILY as readonly string[]).includes(type);
  // Mismatches are certain errors for the architectures whose layout we know; for others a
  // warning (their configs may count or name things differently).
  const mismatch: ConfigProblem['severity'] = llama ? 'error' : 'warning';
  const at = `${source}:`;
  const problem = (severity: ConfigProblem['severity'], key: string, message: string, tensor?: string) =>
    problems.push({ severity, key, message: `${at} ${message}`, tensor });

  // Types and ranges first: a value that is not a sane number is not compared with shapes.
  const ints: Partial<Record<keyof typeof LIMITS, number>> = {};
  for (const key of Object.keys(LIMITS) as (keyof typeof LIMITS)[]) {
    const v = c[key];
    if (v === undefined || v === null) continue;
    const [lo, hi] = LIMITS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      problem('error', key, `"${key}" is ${short(v)}; it must be an integer from ${lo} to ${hi}`);
    } else ints[key] = v;
  }
  const rope = numberIn(c, 'rope_theta', 1e-6, 1e30, problem);
  const eps = numberIn(c, 'rms_norm_eps', 0, 1, problem);
  // bos/eos go into output gguf's metadata (and bos starts generated sequences); pad_token_id
  // is often -1 in real configs and nothing here uses it.
  for (const key of ['bos_token_id', 'eos_token_id']) {
    const v = c[key];
    const ids = Array.isArray(v) ? v : [v];
    for (const id of ids) {
      if (id === undefined || id === null) continue;
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
        problem('error', key, `"${key}" is ${short(v)}; it must be a token id (a non-negative integer)`);
      else if (ints.vocab_size !== undefined && id >= ints.vocab_size)
        problem('error', key, `"${key}" is ${id}, outside the vocabulary (vocab_size ${ints.vocab_size})`);
    }
  }

  const byName = new Map<string, TensorInfo>();
  for (const t of model.tensors) byName.set(t.name, t);
  const shapeOf = (t: TensorInfo) => `[${t.shape.join(', ')}]`;

  // Layers: the distinct N of `model.layers.N.` must be 0..L-1 (L = num_hidden_layers, plus
  // the multi-token-prediction layers some configs count apart).
  const layers = layerIndices(model.tensors);
  const L = ints.num_hidden_layers;
  if (L !== undefined && layers.count > 0) {
    const extra = typeof c.num_nextn_predict_layers === 'number' ? c.num_nextn_predict_layers : 0;
    if (layers.count < L || layers.count > L + extra || layers.max + 1 !== layers.count) {
      const has =
        layers.max + 1 === layers.count
          ? `${layers.count} layer${layers.count === 1 ? '' : 's'} (${layers.prefix}0 to ${layers.prefix}${layers.max})`
          : `${layers.count} layers numbered up to ${layers.prefix}${layers.max} (some are missing)`;
      problem(
        mismatch,
        'num_hidden_layers',
        `"num_hidden_layers" is ${L}, but the model's tensors have ${has}`,
        `${layers.prefix}${layers.max}`,
      );
    }
  }

  // Widths against the embedding. A value found wrong here is not used again below: one
  // lie, one diagnostic (not one per tensor shape it would contradict).
  const embed = byName.get('model.embed_tokens.weight');
  let H = ints.hidden_size;
  const V = ints.vocab_size;
  if (embed && embed.shape.length === 2) {
    if (H !== undefined && embed.shape[1] !== H) {
      problem(
        mismatch,
        'hidden_size',
        `"hidden_size" is ${H}, but tensor "${embed.name}" has shape ${shapeOf(embed)} (width ${embed.shape[1]})`,
        embed.name,
      );
      H = undefined;
    }
    if (V !== undefined && embed.shape[0] !== V)
      problem(
        mismatch,
        'vocab_size',
        `"vocab_size" is ${V}, but tensor "${embed.name}" has ${embed.shape[0]} rows (shape ${shapeOf(embed)})`,
        embed.name,
      );
  }

  // Attention and MLP shapes of the first layer (the forward pass reads every layer with
  // the same shapes and names any that differ).
  const heads = ints.num_attention_heads;
  const kvHeads = ints.num_key_value_heads ?? heads;
  let headDim = ints.head_dim;
  if (heads !== undefined && kvHeads !== undefined && heads % kvHeads !== 0)
    problem(
      'error',
      'num_key_value_heads',
      `"num_key_value_heads" ${kvHeads} does not divide "num_attention_heads" ${heads}`,
    );
  // head_dim, when the config does not give it, is hidden_size / num_attention_heads (not
  // derived from a hidden_size already found wrong).
  if (headDim === undefined && heads !== undefined && H !== undefined) {
    if (H % heads === 0) headDim = H / heads;
    else if (llama)
      problem(
        'error',
        'num_attention_heads',
        `"num_attention_heads" ${heads} does not divide "hidden_size" ${H} and there is no "head_dim"`,
      );
  }
  const p = layers.prefix || 'model.layers.';
  /** One dimension the config implies: its value and how it was derived, for the message. */
  type Dim = { n: number; from: string } | undefined;
  const dim = (n: number | undefined, from: string): Dim => (n === undefined ? undefined : { n, from });
  const hd =
    ints.head_dim !== undefined ? `head_dim ${headDim}` : `head_dim ${headDim} (hidden_size / num_attention_heads)`;
  const qRows =
    heads !== undefined && headDim !== undefined
      ? dim(heads * headDim, `num_attention_heads ${heads} × ${hd}`)
      : undefined;
  const kvRows =
    kvHeads !== undefined && headDim !== undefined
      ? dim(kvHeads * headDim, `num_key_value_heads ${kvHeads} × ${hd}`)
      : undefined;
  const hidden = dim(H, 'hidden_size');
  const ffn = dim(ints.intermediate_size, 'intermediate_size');
  let reported = 0;
  const expect = (name: string, rows: Dim, cols: Dim) => {
    const t = byName.get(name);
    if (!t || t.shape.length !== 2 || reported >= 2) return;
    const bad = [
      rows && t.shape[0] !== rows.n ? `${rows.n} rows (${rows.from})` : '',
      cols && t.shape[1] !== cols.n ? `${cols.n} columns (${cols.from})` : '',
    ].filter(Boolean);
    if (bad.length === 0) return;
    reported++;
    problem(
      mismatch,
      (rows && t.shape[0] !== rows.n ? rows : cols)!.from.split(' ')[0],
      `tensor "${name}" has shape ${shapeOf(t)}, but the config implies ${bad.join(' and ')}`,
      name,
    );
  };
  expect(`${p}0.self_attn.q_proj.weight`, qRows, hidden);
  expect(`${p}0.self_attn.k_proj.weight`, kvRows, hidden);
  expect(`${p}0.self_attn.v_proj.weight`, kvRows, hidden);
  expect(`${p}0.self_attn.o_proj.weight`, hidden, qRows);
  expect(`${p}0.mlp.gate_proj.weight`, ffn, hidden);
  expect(`${p}0.mlp.up_proj.weight`, ffn, hidden);
  expect(`${p}0.mlp.down_proj.weight`, hidden, ffn);

  if (!llama || problems.some((q) => q.severity === 'error')) return { problems, source };
  // The Llama family needs these (the forward pass and output gguf read them).
  const missing = REQUIRED_HPARAMS.filter((k) => ints[k] === undefined);
  if (missing.length) {
    for (const k of missing) problem('error', k, `"${k}" is missing (a ${type} config needs it)`);
    return { problems, source };
  }
  const headSize = headDim ?? ints.hidden_size! / ints.num_attention_heads!;
  return {
    problems,
    source,
    hparams: {
      ctx: ints.max_position_embeddings,
      embd: ints.hidden_size!,
      blocks: ints.num_hidden_layers!,
      ffn: ints.intermediate_size!,
      heads: ints.num_attention_heads!,
      kvHeads: kvHeads!,
      headDim: headSize,
      explicitHeadDim: ints.head_dim !== undefined && ints.head_dim !== ints.hidden_size! / ints.num_attention_heads!,
      ropeBase: rope ?? 10000,
      eps: eps ?? 1e-6,
      vocab: ints.vocab_size!,
      tied: c.tie_word_embeddings === true,
      bos: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
      eos: typeof c.eos_token_id === 'number' ? c.eos_token_id : undefined,
    },
  };
}

/** llama2.c: the reader derived every tensor from the header, so the values agree. */
function llama2cHparams(model: ModelHeader): ConfigCheck {
  const c = model.config as Record<string, number | boolean>;
  const n = (k: string) => c[k] as number;
  return {
    problems: [],
    source: model.path,
    hparams: {
      ctx: n('seq_len'),
      embd: n('dim'),
      blocks: n('n_layers'),
      ffn: n('hidden_dim'),
      heads: n('n_heads'),
      kvHeads: n('n_kv_heads'),
      headDim: n('dim') / n('n_heads'),
      explicitHeadDim: false,
      ropeBase: 10000,
      eps: 1e-5,
      vocab: n('vocab_size'),
      tied: c.shared_classifier === true,
      bos: 1,
      eos: 2,
    },
  };
}

function numberIn(
  c: Record<string, unknown>,
  key: string,
  lo: number,
  hi: number,
  problem: (severity: 'error', key: string, message: string) => void,
): number | undefined {
  const v = c[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !(v >= lo && v <= hi)) {
    problem('error', key, `"${key}" is ${short(v)}; it must be a number from ${lo} to ${hi}`);
    return undefined;
  }
  return v;
}

/** The distinct layer numbers N of `<prefix>layers.N.` names, for the most common prefix. */
function layerIndices(tensors: TensorInfo[]): { prefix: string; count: number; max: number } {
  const perPrefix = new Map<string, Set<number>>();
  const re = /^(.*?layers\.)(\d+)\./;
  for (const t of tensors) {
    const m = re.exec(t.name);
    if (!m || m[2].length > 9) continue;
    let set = perPrefix.get(m[1]);
    if (!set) perPrefix.set(m[1], (set = new Set()));
    set.add(Number(m[2]));
  }
  // Llama-family names first; else the prefix with the most layers.
  let prefix = '';
  let best: Set<number> | undefined = perPrefix.get('model.layers.');
  if (best) prefix = 'model.layers.';
  else
    for (const [p, s] of perPrefix)
      if (!best || s.size > best.size) {
        best = s;
        prefix = p;
      }
  if (!best) return { prefix: '', count: 0, max: -1 };
  let max = -1;
  for (const l of best) if (l > max) max = l;
  return { prefix, count: best.size, max };
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
