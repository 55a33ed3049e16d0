// Small random Hugging Face models of the families output gguf writes (llama, mistral,
// qwen2, qwen3), for the llama.cpp check scripts (outside npm test): config.json and an F32
// model.safetensors, deterministic for a seed. Any vocabulary size (a real tokenizer's).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { centered as rng } from './rng.js';

/**
 * Writes DIR/config.json and DIR/model.safetensors. `c`: {modelType, dim, hidden, layers,
 * heads, kvHeads, vocab, headDim?, tied?, ropeTheta?, ropeScaling?, maxPositions?, extra?,
 * sharp?}. `sharp` scales q/k and the output projection up: attention then depends on
 * position (so on the rotary frequencies) and the next-token distribution is peaked, so a
 * perplexity tells computations apart. Returns the config written.
 */
export function writeTinyModel(dir, c, seed = 1) {
  fs.mkdirSync(dir, { recursive: true });
  const r = rng(seed);
  const hd = c.headDim ?? c.dim / c.heads;
  const qd = c.heads * hd;
  const kvd = c.kvHeads * hd;
  const tensors = [];
  const add = (name, shape, scale, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + (r() + r() + r()) * scale;
    tensors.push({ name, shape, data });
  };
  add('model.embed_tokens.weight', [c.vocab, c.dim], 1);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'input_layernorm.weight', [c.dim], 0.2, 1);
    const qk = c.sharp ? 4 : 1;
    add(p + 'self_attn.q_proj.weight', [qd, c.dim], qk / Math.sqrt(c.dim));
    add(p + 'self_attn.k_proj.weight', [kvd, c.dim], qk / Math.sqrt(c.dim));
    add(p + 'self_attn.v_proj.weight', [kvd, c.dim], 1 / Math.sqrt(c.dim));
    if (c.modelType === 'qwen2') {
      add(p + 'self_attn.q_proj.bias', [qd], 0.3);
      add(p + 'self_attn.k_proj.bias', [kvd], 0.3);
      add(p + 'self_attn.v_proj.bias', [kvd], 0.3);
    }
    if (c.modelType === 'qwen3') {
      add(p + 'self_attn.q_norm.weight', [hd], 0.2, 1);
      add(p + 'self_attn.k_norm.weight', [hd], 0.2, 1);
    }
    add(p + 'self_attn.o_proj.weight', [c.dim, qd], 1 / Math.sqrt(qd));
    add(p + 'post_attention_layernorm.weight', [c.dim], 0.2, 1);
    add(p + 'mlp.gate_proj.weight', [c.hidden, c.dim], 1 / Math.sqrt(c.dim));
    add(p + 'mlp.up_proj.weight', [c.hidden, c.dim], 1 / Math.sqrt(c.dim));
    add(p + 'mlp.down_proj.weight', [c.dim, c.hidden], 1 / Math.sqrt(c.hidden));
  }
  add('model.norm.weight', [c.dim], 0.2, 1);
  if (!c.tied) add('lm_head.weight', [c.vocab, c.dim], (c.sharp ? 8 : 1) / Math.sqrt(c.dim));

  const header = {};
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = fs.openSync(path.join(dir, 'model.safetensors'), 'w');
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  for (const t of tensors) fs.writeSync(fd, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  fs.closeSync(fd);

  const arch = {
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    qwen3: 'Qwen3ForCausalLM',
  }[c.modelType];
  const config = {
    architectures: [arch],
    model_type: c.modelType,
    hidden_size: c.dim,
    intermediate_size: c.hidden,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    vocab_size: c.vocab,
    max_position_embeddings: c.maxPositions ?? 2048,
    rms_norm_eps: 1e-5,
    rope_theta: c.ropeTheta ?? 10000,
    tie_word_embeddings: !!c.tied,
    hidden_act: 'silu',
    ...(c.headDim !== undefined ? { head_dim: c.headDim } : {}),
    ...(c.ropeScaling ? { rope_scaling: c.ropeScaling } : {}),
    ...(c.extra ?? {}),
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return config;
}
