// A model header built in memory with Llama shapes, for analysis tests that must not
// depend on a file (the header readers have their own tests on real files).
import type { ModelHeader, TensorInfo } from '../../core/src/models/types';

export function tensor(name: string, shape: number[], dtype = 'F32'): TensorInfo {
  const elements = shape.reduce((a, b) => a * b, 1);
  const bits = dtype === 'F32' ? 32 : 16;
  return {
    name,
    shape,
    dtype,
    bitsPerElement: bits,
    elements,
    bytes: (elements * bits) / 8,
    file: '/synthetic',
    offset: 0,
  };
}

interface LlamaShape {
  layers?: number;
  dim?: number;
  hidden?: number;
  kvDim?: number;
  vocab?: number;
}

/** The config.json that matches llamaHeader's tensors (8 heads; stories260K's by default). */
export function llamaConfig(opts: LlamaShape = {}): Record<string, unknown> {
  const { layers = 5, dim = 64, hidden = 172, kvDim = 32, vocab = 512 } = opts;
  const heads = 8;
  return {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: dim,
    intermediate_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvDim / (dim / heads),
    vocab_size: vocab,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    hidden_act: 'silu',
  };
}

/** stories260K's shapes: dim 64, hidden 172, 5 layers, 8 heads / 4 kv heads, vocab 512.
 * `config`: with the matching config.json (as a Hugging Face folder has; the forward pass
 * needs it), else none. */
export function llamaHeader(opts: LlamaShape & { dtype?: string; config?: boolean } = {}): ModelHeader {
  const { layers = 5, dim = 64, hidden = 172, kvDim = 32, vocab = 512, dtype = 'F32' } = opts;
  const tensors: TensorInfo[] = [tensor('model.embed_tokens.weight', [vocab, dim], dtype)];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      tensor(`${p}.input_layernorm.weight`, [dim], dtype),
      tensor(`${p}.self_attn.q_proj.weight`, [dim, dim], dtype),
      tensor(`${p}.self_attn.k_proj.weight`, [kvDim, dim], dtype),
      tensor(`${p}.self_attn.v_proj.weight`, [kvDim, dim], dtype),
      tensor(`${p}.self_attn.o_proj.weight`, [dim, dim], dtype),
      tensor(`${p}.post_attention_layernorm.weight`, [dim], dtype),
      tensor(`${p}.mlp.gate_proj.weight`, [hidden, dim], dtype),
      tensor(`${p}.mlp.down_proj.weight`, [dim, hidden], dtype),
      tensor(`${p}.mlp.up_proj.weight`, [hidden, dim], dtype),
    );
  }
  tensors.push(tensor('model.norm.weight', [dim], dtype));
  return {
    path: '/synthetic',
    format: 'safetensors',
    architecture: 'llama',
    tensors,
    parameters: tensors.reduce((a, t) => a + t.elements, 0),
    bytes: tensors.reduce((a, t) => a + t.bytes, 0),
    dtype,
    config: opts.config ? llamaConfig(opts) : {},
    files: opts.config ? ['/synthetic/config.json'] : [],
  };
}
