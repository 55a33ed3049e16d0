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

/** stories260K's shapes: dim 64, hidden 172, 5 layers, 8 heads / 4 kv heads, vocab 512. */
export function llamaHeader(
  opts: { layers?: number; dim?: number; hidden?: number; kvDim?: number; vocab?: number; dtype?: string } = {},
): ModelHeader {
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
    config: {},
    files: [],
  };
}
