// The model families the forward pass runs, as they ship: each config.json here has the
// exact key set (and key order) of a real checkpoint's config.json, with small dimensions
// and values chosen so every feature shows in a dozen positions (a llama3 rope whose
// smoothing band covers a rotary pair, a sliding window shorter than the sequence).
// Beside each config, the TinyConfig saying what those keys mean, which drives the f64
// reference (tinyLlama.ts): the tests check that the native forward pass reads the real
// keys as transformers does.
//
//   llama-3.2-1b      rope_scaling llama3, head_dim, tied embeddings
//   llama-3.1-8b      rope_scaling llama3 (keys in 3.1's order), separate lm_head
//   llama-2           no rope_theta (10000), rope_scaling null, multi-head attention
//   qwen2.5-0.5b      q/k/v biases, use_sliding_window false (sliding_window ignored)
//   qwen3-0.6b        q/k norms, head_dim != hidden_size / heads, rope_scaling null
//   mistral-7b-v0.1   sliding_window on every layer
import type { TinyConfig } from './tinyLlama';

export interface FamilyModel {
  /** config.json as written (the real key set). */
  config: Record<string, unknown>;
  /** What it means, for the reference. */
  tiny: TinyConfig;
}

export type FamilyName =
  'llama-3.2-1b' | 'llama-3.1-8b' | 'llama-2' | 'qwen2.5-0.5b' | 'qwen3-0.6b' | 'mistral-7b-v0.1';

export const FAMILY_NAMES: readonly FamilyName[] = [
  'llama-3.2-1b',
  'llama-3.1-8b',
  'llama-2',
  'qwen2.5-0.5b',
  'qwen3-0.6b',
  'mistral-7b-v0.1',
];

export function family(name: FamilyName): FamilyModel {
  switch (name) {
    case 'llama-3.2-1b': {
      // meta-llama/Llama-3.2-1B: 2048 / 16 layers / 32 heads (8 kv) of 64, factor 32 over 8192.
      const tiny: TinyConfig = {
        modelType: 'llama',
        dim: 32,
        hidden: 48,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        headDim: 8,
        vocab: 64,
        eps: 1e-5,
        ropeTheta: 500000,
        tied: true,
        maxPositions: 8192,
        rope: { type: 'llama3', factor: 32, low: 1, high: 4, original: 256 },
      };
      return {
        tiny,
        config: {
          architectures: ['LlamaForCausalLM'],
          attention_bias: false,
          attention_dropout: 0.0,
          bos_token_id: 1,
          eos_token_id: 2,
          head_dim: 8,
          hidden_act: 'silu',
          hidden_size: 32,
          initializer_range: 0.02,
          intermediate_size: 48,
          max_position_embeddings: 8192,
          mlp_bias: false,
          model_type: 'llama',
          num_attention_heads: 4,
          num_hidden_layers: 2,
          num_key_value_heads: 2,
          pretraining_tp: 1,
          rms_norm_eps: 1e-5,
          rope_scaling: {
            factor: 32.0,
            high_freq_factor: 4.0,
            low_freq_factor: 1.0,
            original_max_position_embeddings: 256,
            rope_type: 'llama3',
          },
          rope_theta: 500000.0,
          tie_word_embeddings: true,
          torch_dtype: 'bfloat16',
          transformers_version: '4.45.0.dev0',
          use_cache: true,
          vocab_size: 64,
        },
      };
    }
    case 'llama-3.1-8b': {
      // meta-llama/Llama-3.1-8B: factor 8 over 8192, untied.
      const tiny: TinyConfig = {
        modelType: 'llama',
        dim: 32,
        hidden: 56,
        layers: 2,
        heads: 4,
        kvHeads: 1,
        vocab: 72,
        eps: 1e-5,
        ropeTheta: 500000,
        maxPositions: 2048,
        rope: { type: 'llama3', factor: 8, low: 1, high: 4, original: 256 },
      };
      return {
        tiny,
        config: {
          architectures: ['LlamaForCausalLM'],
          attention_bias: false,
          attention_dropout: 0.0,
          bos_token_id: 1,
          eos_token_id: 2,
          hidden_act: 'silu',
          hidden_size: 32,
          initializer_range: 0.02,
          intermediate_size: 56,
          max_position_embeddings: 2048,
          mlp_bias: false,
          model_type: 'llama',
          num_attention_heads: 4,
          num_hidden_layers: 2,
          num_key_value_heads: 1,
          pretraining_tp: 1,
          rms_norm_eps: 1e-5,
          rope_scaling: {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 256,
            rope_type: 'llama3',
          },
          rope_theta: 500000.0,
          tie_word_embeddings: false,
          torch_dtype: 'bfloat16',
          transformers_version: '4.43.0.dev0',
          use_cache: true,
          vocab_size: 72,
        },
      };
    }
    case 'llama-2': {
      // meta-llama/Llama-2-7b-hf: no rope_theta, rope_scaling null, heads = kv heads.
      const tiny: TinyConfig = {
        modelType: 'llama',
        dim: 32,
        hidden: 40,
        layers: 2,
        heads: 4,
        kvHeads: 4,
        vocab: 50,
        eps: 1e-5,
        maxPositions: 4096,
      };
      return {
        tiny,
        config: {
          architectures: ['LlamaForCausalLM'],
          bos_token_id: 1,
          eos_token_id: 2,
          hidden_act: 'silu',
          hidden_size: 32,
          initializer_range: 0.02,
          intermediate_size: 40,
          max_position_embeddings: 4096,
          model_type: 'llama',
          num_attention_heads: 4,
          num_hidden_layers: 2,
          num_key_value_heads: 4,
          pretraining_tp: 1,
          rms_norm_eps: 1e-5,
          rope_scaling: null,
          tie_word_embeddings: false,
          torch_dtype: 'float16',
          transformers_version: '4.31.0.dev0',
          use_cache: true,
          vocab_size: 50,
        },
      };
    }
    case 'qwen2.5-0.5b': {
      // Qwen/Qwen2.5-0.5B: biases, tied, sliding_window 32768 that use_sliding_window turns off
      // (here 3: it would change the result if it were applied).
      const tiny: TinyConfig = {
        modelType: 'qwen2',
        dim: 28,
        hidden: 40,
        layers: 2,
        heads: 2,
        kvHeads: 1,
        vocab: 60,
        eps: 1e-6,
        ropeTheta: 1000000,
        tied: true,
        bias: true,
        maxPositions: 32768,
      };
      return {
        tiny,
        config: {
          architectures: ['Qwen2ForCausalLM'],
          attention_dropout: 0.0,
          bos_token_id: 1,
          eos_token_id: 1,
          hidden_act: 'silu',
          hidden_size: 28,
          initializer_range: 0.02,
          intermediate_size: 40,
          max_position_embeddings: 32768,
          max_window_layers: 0,
          model_type: 'qwen2',
          num_attention_heads: 2,
          num_hidden_layers: 2,
          num_key_value_heads: 1,
          rms_norm_eps: 1e-6,
          rope_theta: 1000000.0,
          sliding_window: 3,
          tie_word_embeddings: true,
          torch_dtype: 'bfloat16',
          transformers_version: '4.40.1',
          use_cache: true,
          use_mrope: false,
          use_sliding_window: false,
          vocab_size: 60,
        },
      };
    }
    case 'qwen3-0.6b': {
      // Qwen/Qwen3-0.6B: head_dim 128 with hidden 1024 / 16 heads (64): q/k norms, tied.
      const tiny: TinyConfig = {
        modelType: 'qwen3',
        dim: 32,
        hidden: 48,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        headDim: 16,
        vocab: 60,
        eps: 1e-6,
        ropeTheta: 1000000,
        tied: true,
        qkNorm: true,
        maxPositions: 40960,
      };
      return {
        tiny,
        config: {
          architectures: ['Qwen3ForCausalLM'],
          attention_bias: false,
          attention_dropout: 0.0,
          bos_token_id: 1,
          eos_token_id: 2,
          head_dim: 16,
          hidden_act: 'silu',
          hidden_size: 32,
          initializer_range: 0.02,
          intermediate_size: 48,
          max_position_embeddings: 40960,
          max_window_layers: 2,
          model_type: 'qwen3',
          num_attention_heads: 4,
          num_hidden_layers: 2,
          num_key_value_heads: 2,
          rms_norm_eps: 1e-6,
          rope_scaling: null,
          rope_theta: 1000000,
          sliding_window: null,
          tie_word_embeddings: true,
          torch_dtype: 'bfloat16',
          transformers_version: '4.51.0',
          use_cache: true,
          use_sliding_window: false,
          vocab_size: 60,
        },
      };
    }
    case 'mistral-7b-v0.1': {
      // mistralai/Mistral-7B-v0.1: sliding_window 4096 on every layer (here 4).
      const tiny: TinyConfig = {
        modelType: 'mistral',
        dim: 32,
        hidden: 48,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        vocab: 40,
        eps: 1e-5,
        ropeTheta: 10000,
        slidingWindow: 4,
        maxPositions: 32768,
      };
      return {
        tiny,
        config: {
          architectures: ['MistralForCausalLM'],
          bos_token_id: 1,
          eos_token_id: 2,
          hidden_act: 'silu',
          hidden_size: 32,
          initializer_range: 0.02,
          intermediate_size: 48,
          max_position_embeddings: 32768,
          model_type: 'mistral',
          num_attention_heads: 4,
          num_hidden_layers: 2,
          num_key_value_heads: 2,
          rms_norm_eps: 1e-5,
          rope_theta: 10000.0,
          sliding_window: 4,
          tie_word_embeddings: false,
          torch_dtype: 'bfloat16',
          transformers_version: '4.34.0.dev0',
          use_cache: true,
          vocab_size: 40,
        },
      };
    }
  }
}
