// What `output gguf` writes besides the tensor data: llama.cpp's tensor names, the rotary
// permutation per q/k tensor, and the metadata key/values (llama.cpp's key names for the
// llama family, from config.json or the llama2.c header). The native runner writes the
// file (native/src/io/gguf_writer.cc) from this spec; nothing here touches weights.
import * as fs from 'fs';
import * as path from 'path';
import type { ModelHeader } from '../models/types';
import { REQUIRED_HPARAMS, checkModelConfig } from '../models/modelConfig';
import { maxOf, pushAll } from '../arrays';
import { readRegularFile } from '../models/files';

/** tokenizer.json files are tens of MiB at most. */
export const MAX_TOKENIZER_JSON = 256 * 1024 * 1024;

export type GgufValueType =
  'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export interface GgufKvSpec {
  key: string;
  type: GgufValueType | 'array';
  itemType?: GgufValueType;
  value: unknown;
}
export interface GgufTensorSpec {
  name?: string;
  /** > 0: rows are rotary heads in HF rotate-half order, written interleaved (llama.cpp `llama`). */
  permuteHeads?: number;
  /** Not written (a tied lm_head, rotary tables). */
  omit?: boolean;
}
export interface GgufSpec {
  architecture: string;
  metadata: GgufKvSpec[];
  tensors: Record<string, GgufTensorSpec>;
  /** Tokenizer source: 'tokenizer.json', 'source gguf' or 'none'. */
  tokenizer: string;
  /** A GGUF source: the writer copies its key/values (except those in `metadata`). */
  copySourceMetadata?: boolean;
  /** Things the run should say (e.g. written without a tokenizer). */
  notes: string[];
}

/** ggml type ids by recipe format name / source dtype. */
export const GGML_TYPE_ID: Readonly<Record<string, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q5_0: 6,
  q5_1: 7,
  q8_0: 8,
  q2_k: 10,
  q3_k: 11,
  q4_k: 12,
  q5_k: 13,
  q6_k: 14,
  iq2_xxs: 16,
  iq2_xs: 17,
  iq3_xxs: 18,
  iq1_s: 19,
  iq4_nl: 20,
  iq3_s: 21,
  iq2_s: 22,
  iq4_xs: 23,
  iq1_m: 29,
  bf16: 30,
  tq1_0: 34,
  tq2_0: 35,
};

/** llama.cpp's llama_ftype for a model whose predominant tensor type is `type`
 *  (K-quants map to their _M variants, as llama.cpp's loader guesses them). */
export const LLAMA_FTYPE: Readonly<Record<string, number>> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q4_1: 3,
  q8_0: 7,
  q5_0: 8,
  q5_1: 9,
  q2_k: 10,
  q3_k: 12,
  q4_k: 15,
  q5_k: 17,
  q6_k: 18,
  iq2_xxs: 19,
  iq2_xs: 20,
  iq3_xxs: 23,
  iq1_s: 24,
  iq4_nl: 25,
  iq3_s: 26,
  iq2_s: 28,
  iq4_xs: 30,
  iq1_m: 31,
  bf16: 32,
  tq1_0: 36,
  tq2_0: 37,
};

export class GgufSpecError extends Error {}

const LAYER_MAP: Record<string, string> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  input_layernorm: 'attn_norm',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

/** The llama.cpp name of a Hugging Face Llama-family tensor, or undefined. */
export function ggufTensorName(hf: string): string | undefined {
  const m = /^(.*)\.(weight|bias)$/.exec(hf);
  if (!m) return undefined;
  const [, base, kind] = m;
  if (base === 'model.embed_tokens') return `token_embd.${kind}`;
  if (base === 'model.norm') return `output_norm.${kind}`;
  if (base === 'lm_head') return `output.${kind}`;
  const l = /^model\.layers\.(\d+)\.(.+)$/.exec(base);
  if (l && LAYER_MAP[l[2]]) return `blk.${l[1]}.${LAYER_MAP[l[2]]}.${kind}`;
  return undefined;
}

interface Hparams {
  arch: string;
  permute: boolean;
  ctx: number;
  embd: number;
  blocks: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  ropeBase: number;
  eps: number;
  vocab: number;
  headDim: number;
  tied: boolean;
  explicitHeadDim: boolean;
  bos?: number;
  eos?: number;
}

/** The hyperparameters output gguf writes: only values checked against the tensors
 *  (models/modelConfig.ts); a config with any error is refused, naming the problem. */
function hparams(model: ModelHeader): Hparams {
  if (model.format === 'llama2c') {
    const h = checkModelConfig(model).hparams!;
    return { ...h, ctx: h.ctx!, arch: 'llama', permute: true };
  }
  const c = model.config;
  const type = String(c.model_type ?? model.architecture ?? '');
  // llama.cpp's converter writes Mistral-architecture checkpoints as `llama` (permuted q/k);
  // Qwen2/Qwen3 have their own architectures and keep the rotate-half (NEOX) order.
  const arch = type === 'llama' || type === 'mistral' ? 'llama' : type === 'qwen2' || type === 'qwen3' ? type : '';
  if (!arch)
    throw new GgufSpecError(
      `output gguf writes Llama-family models (llama, mistral, qwen2, qwen3); this model's config.json model_type is "${type || 'missing'}"`,
    );
  const check = checkModelConfig(model);
  const error = check.problems.find((p) => p.severity === 'error');
  if (error) throw new GgufSpecError(error.message);
  const h = check.hparams;
  if (!h) {
    const missing = REQUIRED_HPARAMS.find((k) => typeof model.config[k] !== 'number') ?? 'hidden_size';
    throw new GgufSpecError(`output gguf needs "${missing}" in config.json`);
  }
  if (h.ctx === undefined) throw new GgufSpecError(`output gguf needs "max_position_embeddings" in ${check.source}`);
  return { ...h, ctx: h.ctx, arch, permute: arch === 'llama' };
}

/** Why this model cannot be written as a llama.cpp GGUF (undefined when it can): the
 *  language server reports it on the output line, the runner refuses with it. */
export function ggufModelProblem(model: ModelHeader): string | undefined {
  if (model.format === 'gguf') return undefined;
  try {
    const h = hparams(model);
    for (const t of model.tensors) {
      if (/\.rotary_emb\.inv_freq$/.test(t.name) || (t.name === 'lm_head.weight' && h.tied)) continue;
      if (!ggufTensorName(t.name)) return `tensor "${t.name}" has no llama.cpp name for architecture ${h.arch}`;
    }
    return undefined;
  } catch (e) {
    if (e instanceof GgufSpecError) return e.message;
    throw e;
  }
}

export interface GgufSpecInput {
  model: ModelHeader;
  /** Per tensor: the recipe format when quantized, else undefined (kept in its source dtype). */
  formats: Record<string, string | undefined>;
  name: string;
  version: string;
  recipeText: string;
}

/** The predominant type of the matrices, by weights (a recipe format or a source dtype). */
function predominantType(
  model: ModelHeader,
  formats: Record<string, string | undefined>,
  skip: (name: string) => boolean,
): string {
  const byType = new Map<string, number>();
  for (const t of model.tensors) {
    if (t.shape.length < 2 || skip(t.name)) continue;
    const type = formats[t.name] ?? t.dtype.toLowerCase();
    byType.set(type, (byType.get(type) ?? 0) + t.elements);
  }
  let best = 'f32';
  let most = -1;
  for (const [type, n] of byType)
    if (n > most) {
      most = n;
      best = type;
    }
  return best;
}

/** A GGUF source: names and parameters are GGUF already; its key/values (tokenizer
 *  included) are carried over, with Bitsmith's file type and provenance. */
function specFromGguf(input: GgufSpecInput): GgufSpec {
  const { model } = input;
  const tensors: Record<string, GgufTensorSpec> = {};
  for (const t of model.tensors) tensors[t.name] = { name: t.name };
  const c = model.config;
  const hasTokenizer = typeof c['tokenizer.ggml.model'] === 'string';
  const notes = hasTokenizer
    ? []
    : ['written without a tokenizer (the source GGUF has none): llama.cpp needs one to load the file'];
  return {
    architecture: model.architecture || String(c['general.architecture'] ?? ''),
    metadata: [
      { key: 'general.name', type: 'string', value: input.name },
      { key: 'general.alignment', type: 'u32', value: 32 },
      {
        key: 'general.file_type',
        type: 'u32',
        value: LLAMA_FTYPE[predominantType(model, input.formats, () => false)] ?? 0,
      },
      { key: 'general.quantization_version', type: 'u32', value: 2 },
      { key: 'bitsmith.version', type: 'string', value: input.version },
      { key: 'bitsmith.source', type: 'string', value: model.path },
      { key: 'bitsmith.recipe', type: 'string', value: input.recipeText },
    ],
    tensors,
    tokenizer: hasTokenizer ? 'source gguf' : 'none',
    copySourceMetadata: true,
    notes,
  };
}

export function buildGgufSpec(input: GgufSpecInput): GgufSpec {
  const { model } = input;
  if (model.format === 'gguf') return specFromGguf(input);
  const h = hparams(model);
  const tensors: Record<string, GgufTensorSpec> = {};
  const notes: string[] = [];
  const present = new Set(model.tensors.map((t) => t.name));
  const elementsByType = new Map<string, number>();
  for (const t of model.tensors) {
    if (/\.rotary_emb\.inv_freq$/.test(t.name)) {
      tensors[t.name] = { omit: true };
      continue;
    }
    if (t.name === 'lm_head.weight' && h.tied && present.has('model.embed_tokens.weight')) {
      tensors[t.name] = { omit: true };
      continue;
    }
    const name = ggufTensorName(t.name);
    if (!name) throw new GgufSpecError(`tensor "${t.name}" has no llama.cpp name for architecture ${h.arch}`);
    const spec: GgufTensorSpec = { name };
    if (h.permute && /\.self_attn\.[qk]_proj\.(weight|bias)$/.test(t.name)) {
      const heads = /q_proj/.test(t.name) ? h.heads : h.kvHeads;
      if (t.shape[0] % (2 * heads) !== 0)
        throw new GgufSpecError(
          `tensor "${t.name}" [${t.shape.join(', ')}]: ${t.shape[0]} rows are not ${heads} heads of rotary pairs`,
        );
      spec.permuteHeads = heads;
    }
    tensors[t.name] = spec;
    if (t.shape.length >= 2) {
      const type = input.formats[t.name] ?? t.dtype.toLowerCase();
      elementsByType.set(type, (elementsByType.get(type) ?? 0) + t.elements);
    }
  }
  let predominant = 'f32';
  let most = -1;
  for (const [type, n] of elementsByType)
    if (n > most) {
      most = n;
      predominant = type;
    }
  const A = h.arch;
  const u32 = (key: string, value: number): GgufKvSpec => ({ key, type: 'u32', value });
  const f32 = (key: string, value: number): GgufKvSpec => ({ key, type: 'f32', value });
  const str = (key: string, value: string): GgufKvSpec => ({ key, type: 'string', value });
  const metadata: GgufKvSpec[] = [
    str('general.architecture', A),
    str('general.name', input.name),
    u32('general.alignment', 32),
    u32('general.file_type', LLAMA_FTYPE[predominant] ?? 0),
    u32('general.quantization_version', 2),
    u32(`${A}.context_length`, h.ctx),
    u32(`${A}.embedding_length`, h.embd),
    u32(`${A}.block_count`, h.blocks),
    u32(`${A}.feed_forward_length`, h.ffn),
    u32(`${A}.attention.head_count`, h.heads),
    u32(`${A}.attention.head_count_kv`, h.kvHeads),
    f32(`${A}.rope.freq_base`, h.ropeBase),
    f32(`${A}.attention.layer_norm_rms_epsilon`, h.eps),
    u32(`${A}.vocab_size`, h.vocab),
    u32(`${A}.rope.dimension_count`, h.headDim),
  ];
  if (h.explicitHeadDim)
    metadata.push(u32(`${A}.attention.key_length`, h.headDim), u32(`${A}.attention.value_length`, h.headDim));
  metadata.push(
    str('bitsmith.version', input.version),
    str('bitsmith.source', model.path),
    str('bitsmith.recipe', input.recipeText),
  );
  const tok =
    model.format === 'hf-folder' ? tokenizerFromJson(path.join(model.path, 'tokenizer.json'), h, notes) : undefined;
  if (tok) pushAll(metadata, tok);
  else
    notes.push(
      'written without a tokenizer (the model has no tokenizer.json): llama.cpp refuses to load a GGUF without one, so put the tokenizer.json beside the model (scripts/llama-cpp-check.sh adds a placeholder vocabulary for the bundled model)',
    );
  return { architecture: A, metadata, tensors, tokenizer: tok ? 'tokenizer.json' : 'none', notes };
}

/** tokenizer.ggml.* from a Hugging Face tokenizer.json (BPE vocabularies: byte-level
 *  `gpt2` with merges, or SentencePiece-style `llama` with byte-fallback). */
function tokenizerFromJson(file: string, h: Hparams, notes: string[]): GgufKvSpec[] | undefined {
  let j: {
    model?: { type?: string; vocab?: Record<string, number>; merges?: (string | string[])[]; byte_fallback?: boolean };
    added_tokens?: { id: number; content: string; special?: boolean }[];
    pre_tokenizer?: unknown;
  };
  try {
    if (!fs.existsSync(file)) return undefined;
    j = JSON.parse(readRegularFile(file, MAX_TOKENIZER_JSON, 'tokenizer.json').toString('utf8'));
  } catch (e) {
    notes.push(`tokenizer.json could not be read (${(e as Error).message}); written without a tokenizer`);
    return undefined;
  }
  const m = j.model;
  if (!m || m.type !== 'BPE' || !m.vocab) {
    notes.push(
      `tokenizer.json model type ${m?.type ?? 'missing'} is not converted (BPE only); written without a tokenizer`,
    );
    return undefined;
  }
  const size = Math.max(h.vocab, maxOf(Object.values(m.vocab)) + 1, maxOf((j.added_tokens ?? []).map((t) => t.id)) + 1);
  const tokens: string[] = new Array(size).fill('');
  const types: number[] = new Array(size).fill(1); // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  for (const [t, i] of Object.entries(m.vocab)) tokens[i] = t;
  for (let i = 0; i < size; i++)
    if (tokens[i] === '') {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5;
    }
  const spm = m.byte_fallback === true;
  for (const a of j.added_tokens ?? []) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4;
  }
  if (spm) for (let i = 0; i < size; i++) if (/^<0x[0-9A-F]{2}>$/.test(tokens[i])) types[i] = 6;
  const find = (s: string) => {
    const i = tokens.indexOf(s);
    return i >= 0 ? i : undefined;
  };
  const out: GgufKvSpec[] = [
    { key: 'tokenizer.ggml.model', type: 'string', value: spm ? 'llama' : 'gpt2' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'i32', value: types },
  ];
  if (spm) {
    // SentencePiece BPE: llama.cpp ranks by score; merge order gives the rank.
    out.push({ key: 'tokenizer.ggml.scores', type: 'array', itemType: 'f32', value: tokens.map((_, i) => -i) });
    const unk = find('<unk>');
    if (unk !== undefined) out.push({ key: 'tokenizer.ggml.unknown_token_id', type: 'u32', value: unk });
  } else {
    out.push({ key: 'tokenizer.ggml.pre', type: 'string', value: 'default' });
    const merges = (m.merges ?? []).map((x) => (Array.isArray(x) ? x.join(' ') : x));
    out.push({ key: 'tokenizer.ggml.merges', type: 'array', itemType: 'string', value: merges });
  }
  if (h.bos !== undefined) out.push({ key: 'tokenizer.ggml.bos_token_id', type: 'u32', value: h.bos });
  if (h.eos !== undefined) out.push({ key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: h.eos });
  return out;
}
