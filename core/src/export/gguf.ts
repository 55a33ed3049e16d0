// What `output gguf` writes besides the tensor data: llama.cpp's tensor names, the rotary
// permutation per q/k tensor, extra tensors (Llama 3's rope_freqs), and the metadata
// key/values llama.cpp's converter (convert_hf_to_gguf.py) writes for the llama family:
// general.*, the architecture's hyperparameters and rope scaling from config.json (or the
// llama2.c header), and the tokenizer (ggufTokenizer.ts). The native runner writes the file
// (native/src/io/gguf_writer.cc) from this spec; nothing here touches weights. What cannot
// be determined is named in `warnings`, which the analysis shows on the output line.
import type { ModelHeader } from '../models/types';
import { ggufTensorName } from '../models/ggufNames';
import type { GgufKvSpec } from './ggufEncode';

export { ggufTensorName };
export type { GgufKvSpec, GgufValueType } from './ggufEncode';
import { checkModelConfig, REQUIRED_HPARAMS } from '../models/modelConfig';
import { findTokenizer } from '../models/tokenizer';
import { ropeScalingGguf } from './ggufRope';
import {
  isFullTokenizer,
  loadGgufTokenizer,
  SPECIAL_TOKEN_KEY,
  type GgufTokenizer,
  type GgufTokenizerResult,
  type SpecialTokenKind,
} from './ggufTokenizer';
import * as path from 'path';

const num = (c: Record<string, unknown>, k: string): number | undefined =>
  typeof c[k] === 'number' ? (c[k] as number) : undefined;

export interface GgufTensorSpec {
  name?: string;
  /** > 0: rows are rotary heads in HF rotate-half order, written interleaved (llama.cpp `llama`). */
  permuteHeads?: number;
  /** Not written (a tied lm_head, rotary tables). */
  omit?: boolean;
  /** Kept F16/BF16 written as F32: llama.cpp computes with 1-D tensors and norms in F32 only (as its converter writes them). */
  f32?: boolean;
}
/** A tensor that is not in the model (rope_freqs.weight): 1-D F32, written before the model's. */
export interface GgufExtraTensor {
  name: string;
  values: number[];
}
export interface GgufSpec {
  architecture: string;
  /** In file order. Large arrays (tokens, types, scores, merges) hold string[], Int32Array or Float32Array values. */
  metadata: GgufKvSpec[];
  tensors: Record<string, GgufTensorSpec>;
  extraTensors: GgufExtraTensor[];
  /** Tokenizer source: 'tokenizer.json', 'source gguf' or 'none'. */
  tokenizer: string;
  /** A GGUF source: the writer copies its key/values (except those in `metadata`). */
  copySourceMetadata?: boolean;
  /** Keys that could not be determined (or that differ from the model), and why. */
  warnings: string[];
  /** Things worth saying that are not problems (no chat template, padded ids). */
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
  /** config.json states head_dim: written as key_length / value_length, as the converter does. */
  explicitHeadDim: boolean;
  bos?: number;
  eos?: number;
  /** Values taken from transformers' defaults because config.json has none, and the like. */
  warnings: string[];
}

/** The hyperparameters output gguf writes: only values checked against the tensors
 *  (models/modelConfig.ts); a config with any error is refused, naming the problem. */
function hparams(model: ModelHeader): Hparams {
  if (model.format === 'llama2c') {
    const h = checkModelConfig(model).hparams!;
    return { ...h, ctx: h.ctx!, arch: 'llama', permute: true, warnings: [] };
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
  const warnings: string[] = [];
  // transformers' config defaults for these families; the file states them, so say where they came from.
  const defaulted = (k: string, gguf: string, fallback: number) => {
    if (num(c, k) === undefined)
      warnings.push(
        `${arch}.${gguf}: config.json has no ${k}; written as ${fallback}, transformers' default for ${type}`,
      );
  };
  defaulted('rope_theta', 'rope.freq_base', 10000);
  defaulted('rms_norm_eps', 'attention.layer_norm_rms_epsilon', 1e-6);
  const window = num(c, 'sliding_window');
  if (window !== undefined && (arch === 'llama' || c.use_sliding_window === true))
    warnings.push(
      `config.json sliding_window ${window} is not written: llama.cpp's ${arch} architecture attends to the whole context, so past ${window} tokens it computes differently from the model`,
    );
  return {
    ...h,
    ctx: h.ctx,
    arch,
    permute: arch === 'llama',
    // config.json states head_dim: written as key_length / value_length, as the converter does.
    explicitHeadDim: num(c, 'head_dim') !== undefined,
    warnings,
  };
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

/** Loads the GGUF tokenizer of a folder (the language server passes a cached loader). */
export type GgufTokenizerLoader = (
  dir: string,
  config: Record<string, unknown>,
  vocabSize: number,
) => GgufTokenizerResult | undefined;

/** The tokenizer an `output gguf` of `model` would carry: undefined without a tokenizer.json
 *  (or for GGUF and llama2.c sources, whose vocabularies are copied or absent). */
export function ggufTokenizerOf(
  model: ModelHeader,
  load: GgufTokenizerLoader = loadGgufTokenizer,
): GgufTokenizerResult | undefined {
  if (model.format !== 'hf-folder' && model.format !== 'safetensors') return undefined;
  const files = findTokenizer(model.path);
  if (!files) return undefined;
  const vocab = num(model.config, 'vocab_size');
  if (vocab === undefined) return { ok: false, why: 'config.json has no vocab_size', files: [files.tokenizer] };
  return load(path.dirname(files.tokenizer), model.config, vocab);
}

const NO_TOKENIZER =
  'written without a tokenizer (the model has no tokenizer.json): llama.cpp refuses to load a GGUF without one, so put the tokenizer.json beside the model (scripts/llama-cpp-check.sh adds a placeholder vocabulary for the bundled model)';

/** What an `output gguf` of `model` cannot determine (warnings) and worth saying (notes),
 *  without building the file's spec: the analysis reports these on the output line. */
export function ggufFindings(
  model: ModelHeader,
  tokenizer: GgufTokenizerResult | undefined,
): { warnings: string[]; notes: string[] } {
  if (model.format === 'gguf') {
    const has = typeof model.config['tokenizer.ggml.model'] === 'string';
    return {
      warnings: has
        ? []
        : ['written without a tokenizer (the source GGUF has none): llama.cpp needs one to load the file'],
      notes: [],
    };
  }
  let h: Hparams;
  try {
    h = hparams(model);
  } catch {
    return { warnings: [], notes: [] }; // ggufModelProblem reports it
  }
  const warnings = [...h.warnings];
  const notes: string[] = [];
  const rope = ropeScalingGguf(h.arch, model.config, h.headDim, h.ropeBase);
  for (const w of rope.warnings) warnings.push(w);
  if (model.format === 'llama2c')
    warnings.push(NO_TOKENIZER.replace('has no tokenizer.json', 'is a llama2.c checkpoint'));
  else if (!tokenizer) warnings.push(NO_TOKENIZER);
  else if (!tokenizer.ok) warnings.push(`written without a tokenizer: ${tokenizer.why}`);
  else {
    for (const w of tokenizer.tokenizer.warnings) warnings.push(w);
    for (const n of tokenizer.tokenizer.infos) notes.push(n);
  }
  return { warnings, notes };
}

export interface GgufSpecInput {
  model: ModelHeader;
  /** Per tensor: the recipe format when quantized, else undefined (kept in its source dtype). */
  formats: Record<string, string | undefined>;
  name: string;
  version: string;
  recipeText: string;
  /** The tokenizer, when the caller has it already (the analysis); else read here. */
  tokenizer?: GgufTokenizerResult;
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

/** Python's round(): halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** general.size_label from a parameter count, as gguf-py's size_label writes it ("8.0B", "260K"). */
export function sizeLabel(params: number): string {
  const [scaled, suffix] =
    params > 1e12
      ? [params * 1e-12, 'T']
      : params > 1e9
        ? [params * 1e-9, 'B']
        : params > 1e6
          ? [params * 1e-6, 'M']
          : [params * 1e-3, 'K'];
  const digits = String(roundHalfEven(scaled)).replace(/^0+/, '').length;
  return `${scaled.toFixed(Math.max(2 - digits, 0))}${suffix}`;
}

/** A GGUF source: names and parameters are GGUF already; its key/values (tokenizer
 *  included) are carried over, with Bitsmith's file type and provenance. */
function specFromGguf(input: GgufSpecInput): GgufSpec {
  const { model } = input;
  const tensors: Record<string, GgufTensorSpec> = {};
  for (const t of model.tensors) tensors[t.name] = { name: t.name };
  const c = model.config;
  const hasTokenizer = typeof c['tokenizer.ggml.model'] === 'string';
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
    extraTensors: [],
    tokenizer: hasTokenizer ? 'source gguf' : 'none',
    copySourceMetadata: true,
    ...ggufFindings(model, undefined),
  };
}

export function buildGgufSpec(input: GgufSpecInput): GgufSpec {
  const { model } = input;
  if (model.format === 'gguf') return specFromGguf(input);
  const h = hparams(model);
  const tensors: Record<string, GgufTensorSpec> = {};
  const present = new Set(model.tensors.map((t) => t.name));
  let params = 0;
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
    // The converter writes 1-D tensors and norms as F32: llama.cpp's CPU ops take F32 there.
    if ((t.shape.length <= 1 || name.endsWith('_norm.weight')) && input.formats[t.name] === undefined) spec.f32 = true;
    tensors[t.name] = spec;
    params += t.elements;
  }
  const predominant = predominantType(model, input.formats, (n) => tensors[n]?.omit === true);
  const A = h.arch;
  const u32 = (key: string, value: number): GgufKvSpec => ({ key, type: 'u32', value });
  const f32 = (key: string, value: number): GgufKvSpec => ({ key, type: 'f32', value });
  const str = (key: string, value: string): GgufKvSpec => ({ key, type: 'string', value });
  const metadata: GgufKvSpec[] = [
    str('general.architecture', A),
    str('general.type', 'model'),
    str('general.name', input.name),
    str('general.size_label', sizeLabel(params)),
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
  const extraTensors: GgufExtraTensor[] = [];
  const rope = ropeScalingGguf(A, model.config, h.headDim, h.ropeBase);
  for (const kv of rope.metadata) metadata.push(kv);
  if (rope.freqFactors) extraTensors.push({ name: 'rope_freqs.weight', values: Array.from(rope.freqFactors) });

  let tokResult = input.tokenizer !== undefined ? input.tokenizer : ggufTokenizerOf(model);
  // An editor summary (no token arrays) is re-read in full.
  if (tokResult?.ok && !isFullTokenizer(tokResult.tokenizer)) tokResult = ggufTokenizerOf(model);
  if (tokResult?.ok && isFullTokenizer(tokResult.tokenizer)) {
    for (const kv of tokenizerMetadata(tokResult.tokenizer)) metadata.push(kv);
  } else if (model.format === 'llama2c') {
    // llama2.c checkpoints name their special ids by convention.
    if (h.bos !== undefined) metadata.push(u32('tokenizer.ggml.bos_token_id', h.bos));
    if (h.eos !== undefined) metadata.push(u32('tokenizer.ggml.eos_token_id', h.eos));
  }
  metadata.push(
    str('bitsmith.version', input.version),
    str('bitsmith.source', model.path),
    str('bitsmith.recipe', input.recipeText),
  );
  const findings = ggufFindings(model, tokResult);
  return {
    architecture: A,
    metadata,
    tensors,
    extraTensors,
    tokenizer: tokResult?.ok ? 'tokenizer.json' : 'none',
    warnings: findings.warnings,
    notes: findings.notes,
  };
}

/** tokenizer.ggml.* and the chat templates, in the converter's order. */
function tokenizerMetadata(t: GgufTokenizer): GgufKvSpec[] {
  const out: GgufKvSpec[] = [
    { key: 'tokenizer.ggml.model', type: 'string', value: t.model },
    { key: 'tokenizer.ggml.pre', type: 'string', value: t.pre },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: t.tokens },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'i32', value: t.types },
  ];
  if (t.scores) out.push({ key: 'tokenizer.ggml.scores', type: 'array', itemType: 'f32', value: t.scores });
  if (t.merges) out.push({ key: 'tokenizer.ggml.merges', type: 'array', itemType: 'string', value: t.merges });
  const order: SpecialTokenKind[] = ['bos', 'eos', 'eot', 'eom', 'unk', 'sep', 'pad', 'mask'];
  for (const k of order) {
    const id = t.special[k];
    if (id !== undefined) out.push({ key: SPECIAL_TOKEN_KEY[k], type: 'u32', value: id });
  }
  out.push(
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: t.addBos },
    { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: t.addEos },
  );
  if (t.addSpacePrefix !== undefined)
    out.push({ key: 'tokenizer.ggml.add_space_prefix', type: 'bool', value: t.addSpacePrefix });
  if (t.chatTemplate !== undefined) out.push({ key: 'tokenizer.chat_template', type: 'string', value: t.chatTemplate });
  for (const n of t.namedTemplates)
    out.push({ key: `tokenizer.chat_template.${n.name}`, type: 'string', value: n.template });
  if (t.namedTemplates.length)
    out.push({
      key: 'tokenizer.chat_templates',
      type: 'array',
      itemType: 'string',
      value: t.namedTemplates.map((n) => n.name),
    });
  return out;
}
