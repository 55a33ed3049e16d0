// Model headers of real models' shapes, built in memory (no weights, no files): the
// tensor names, shapes and dtypes and the config.json keys their checkpoints ship with.
// For analysis tests that must hold on real sizes (presets, budgets) without a download.
import * as path from 'path';
import type { ModelHeader, TensorInfo } from '../../core/src/models/types';

const BITS: Record<string, number> = { F32: 32, F16: 16, BF16: 16, Q8_0: 8.5, Q4_K: 4.5, Q6_K: 6.5625 };

export function shapedTensor(name: string, shape: number[], dtype: string, file: string): TensorInfo {
  const elements = shape.reduce((a, b) => a * b, 1);
  const bits = BITS[dtype];
  return { name, shape, dtype, bitsPerElement: bits, elements, bytes: (elements * bits) / 8, file, offset: 0 };
}

function headerOf(
  p: string,
  format: ModelHeader['format'],
  tensors: TensorInfo[],
  config: Record<string, unknown>,
  files: string[],
): ModelHeader {
  const byDtype = new Map<string, number>();
  for (const t of tensors) byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0) + t.elements);
  return {
    path: p,
    format,
    architecture: String(config.model_type ?? config['general.architecture'] ?? 'llama'),
    tensors,
    parameters: tensors.reduce((a, t) => a + t.elements, 0),
    bytes: tensors.reduce((a, t) => a + t.bytes, 0),
    dtype: [...byDtype].sort((a, b) => b[1] - a[1])[0][0],
    config,
    files,
  };
}

export interface LlamaShape {
  modelType: 'llama' | 'qwen2' | 'qwen3' | 'mistral';
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim?: number;
  vocab: number;
  tied: boolean;
  maxPositions: number;
  dtype?: string;
}

/** A Hugging Face folder of a Llama-family model: its tensors and config.json. */
export function hfLlama(dir: string, s: LlamaShape): ModelHeader {
  const dtype = s.dtype ?? 'BF16';
  const file = path.join(dir, 'model.safetensors');
  const hd = s.headDim ?? s.dim / s.heads;
  const t = (name: string, shape: number[]) => shapedTensor(name, shape, dtype, file);
  const tensors: TensorInfo[] = [t('model.embed_tokens.weight', [s.vocab, s.dim])];
  const qwen2 = s.modelType === 'qwen2';
  const qwen3 = s.modelType === 'qwen3';
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      t(`${p}.input_layernorm.weight`, [s.dim]),
      t(`${p}.self_attn.q_proj.weight`, [s.heads * hd, s.dim]),
      t(`${p}.self_attn.k_proj.weight`, [s.kvHeads * hd, s.dim]),
      t(`${p}.self_attn.v_proj.weight`, [s.kvHeads * hd, s.dim]),
      t(`${p}.self_attn.o_proj.weight`, [s.dim, s.heads * hd]),
      t(`${p}.post_attention_layernorm.weight`, [s.dim]),
      t(`${p}.mlp.gate_proj.weight`, [s.hidden, s.dim]),
      t(`${p}.mlp.up_proj.weight`, [s.hidden, s.dim]),
      t(`${p}.mlp.down_proj.weight`, [s.dim, s.hidden]),
    );
    if (qwen2)
      tensors.push(
        t(`${p}.self_attn.q_proj.bias`, [s.heads * hd]),
        t(`${p}.self_attn.k_proj.bias`, [s.kvHeads * hd]),
        t(`${p}.self_attn.v_proj.bias`, [s.kvHeads * hd]),
      );
    if (qwen3) tensors.push(t(`${p}.self_attn.q_norm.weight`, [hd]), t(`${p}.self_attn.k_norm.weight`, [hd]));
  }
  tensors.push(t('model.norm.weight', [s.dim]));
  if (!s.tied) tensors.push(t('lm_head.weight', [s.vocab, s.dim]));
  const config: Record<string, unknown> = {
    architectures: [qwen2 ? 'Qwen2ForCausalLM' : qwen3 ? 'Qwen3ForCausalLM' : 'LlamaForCausalLM'],
    model_type: s.modelType,
    hidden_size: s.dim,
    intermediate_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    max_position_embeddings: s.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: qwen2 || qwen3 ? 1000000.0 : 500000.0,
    tie_word_embeddings: s.tied,
    hidden_act: 'silu',
    torch_dtype: 'bfloat16',
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (s.headDim) config.head_dim = s.headDim;
  if (qwen2) config.use_sliding_window = false;
  return headerOf(dir, 'hf-folder', tensors, config, [path.join(dir, 'config.json'), file]);
}

/** meta-llama/Llama-3.2-1B: 2048 / 8192, 16 layers, 32 heads (8 kv) of 64, vocab 128256, tied. */
export const llama32_1b = (dir = '/models/Llama-3.2-1B') =>
  hfLlama(dir, {
    modelType: 'llama',
    dim: 2048,
    hidden: 8192,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    headDim: 64,
    vocab: 128256,
    tied: true,
    maxPositions: 131072,
  });

/** meta-llama/Llama-3.1-8B: 4096 / 14336, 32 layers, 32 heads (8 kv), vocab 128256, separate lm_head. */
export const llama31_8b = (dir = '/models/Llama-3.1-8B') =>
  hfLlama(dir, {
    modelType: 'llama',
    dim: 4096,
    hidden: 14336,
    layers: 32,
    heads: 32,
    kvHeads: 8,
    vocab: 128256,
    tied: false,
    maxPositions: 131072,
  });

/** Qwen/Qwen2.5-0.5B: 896 / 4864 (896 is not a multiple of 256), 24 layers, 14 heads (2 kv), q/k/v biases, tied. */
export const qwen25_05b = (dir = '/models/Qwen2.5-0.5B') =>
  hfLlama(dir, {
    modelType: 'qwen2',
    dim: 896,
    hidden: 4864,
    layers: 24,
    heads: 14,
    kvHeads: 2,
    vocab: 151936,
    tied: true,
    maxPositions: 32768,
  });

/** A GGUF as convert_hf_to_gguf writes Llama-2-7B in f16: llama.cpp names, f32 norms, separate output. */
export function ggufLlama2_7b(file = '/models/llama-2-7b.f16.gguf'): ModelHeader {
  const dim = 4096,
    hidden = 11008,
    layers = 32,
    vocab = 32000;
  const t = (name: string, shape: number[], dtype = 'F16') => shapedTensor(name, shape, dtype, file);
  const tensors: TensorInfo[] = [t('token_embd.weight', [vocab, dim])];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}`;
    tensors.push(
      t(`${p}.attn_norm.weight`, [dim], 'F32'),
      t(`${p}.attn_q.weight`, [dim, dim]),
      t(`${p}.attn_k.weight`, [dim, dim]),
      t(`${p}.attn_v.weight`, [dim, dim]),
      t(`${p}.attn_output.weight`, [dim, dim]),
      t(`${p}.ffn_norm.weight`, [dim], 'F32'),
      t(`${p}.ffn_gate.weight`, [hidden, dim]),
      t(`${p}.ffn_up.weight`, [hidden, dim]),
      t(`${p}.ffn_down.weight`, [dim, hidden]),
    );
  }
  tensors.push(t('output_norm.weight', [dim], 'F32'), t('output.weight', [vocab, dim]));
  const config = {
    'general.architecture': 'llama',
    'llama.context_length': 4096,
    'llama.embedding_length': dim,
    'llama.block_count': layers,
    'llama.feed_forward_length': hidden,
    'llama.attention.head_count': 32,
    'llama.attention.head_count_kv': 32,
  };
  return headerOf(file, 'gguf', tensors, config, [file]);
}

/** openai-community/gpt2: not a Llama (no forward pass, no GGUF output); Conv1D weights [in, out]. */
export function gpt2(dir = '/models/gpt2'): ModelHeader {
  const file = path.join(dir, 'model.safetensors');
  const t = (name: string, shape: number[]) => shapedTensor(name, shape, 'F32', file);
  const dim = 768;
  const tensors: TensorInfo[] = [t('transformer.wte.weight', [50257, dim]), t('transformer.wpe.weight', [1024, dim])];
  for (let l = 0; l < 12; l++) {
    const p = `transformer.h.${l}`;
    tensors.push(
      t(`${p}.ln_1.weight`, [dim]),
      t(`${p}.ln_1.bias`, [dim]),
      t(`${p}.attn.c_attn.weight`, [dim, 3 * dim]),
      t(`${p}.attn.c_attn.bias`, [3 * dim]),
      t(`${p}.attn.c_proj.weight`, [dim, dim]),
      t(`${p}.attn.c_proj.bias`, [dim]),
      t(`${p}.ln_2.weight`, [dim]),
      t(`${p}.ln_2.bias`, [dim]),
      t(`${p}.mlp.c_fc.weight`, [dim, 4 * dim]),
      t(`${p}.mlp.c_fc.bias`, [4 * dim]),
      t(`${p}.mlp.c_proj.weight`, [4 * dim, dim]),
      t(`${p}.mlp.c_proj.bias`, [dim]),
    );
  }
  tensors.push(t('transformer.ln_f.weight', [dim]), t('transformer.ln_f.bias', [dim]));
  const config = { model_type: 'gpt2', n_embd: dim, n_layer: 12, n_head: 12, vocab_size: 50257, n_positions: 1024 };
  return headerOf(dir, 'hf-folder', tensors, config, [path.join(dir, 'config.json'), file]);
}
