// A safetensors file with as many tensors as the largest mixture-of-experts checkpoints
// (each expert's matrices stored apart), for the tests that the readers, the analysis, the
// CLI and the language server handle such a model end to end. Tiny tensors, so the file
// is mostly header (about 13 MB for 130,000 tensors).
import * as fs from 'fs';
import * as path from 'path';

export const MANY_LAYERS = 60;
export const MANY_EXPERTS = 720;
/** 60 layers x (4 attention + 2 norms + 720 experts x 3) + 3 = 129,963 tensors. */
export const MANY_TENSORS = MANY_LAYERS * (6 + MANY_EXPERTS * 3) + 3;

/** Writes `dir`/model.safetensors (F16, every matrix [2, 32]) and returns its path. */
export function writeManyTensorModel(dir: string): string {
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  };
  add('model.embed_tokens.weight', [64, 32]);
  for (let l = 0; l < MANY_LAYERS; l++) {
    const p = `model.layers.${l}.`;
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`${p}self_attn.${n}.weight`, [2, 32]);
    add(`${p}input_layernorm.weight`, [32]);
    add(`${p}post_attention_layernorm.weight`, [32]);
    for (let e = 0; e < MANY_EXPERTS; e++)
      for (const n of ['gate_proj', 'up_proj', 'down_proj']) add(`${p}mlp.experts.${e}.${n}.weight`, [2, 32]);
  }
  add('model.norm.weight', [32]);
  add('lm_head.weight', [64, 32]);
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, 'model.safetensors');
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    fs.ftruncateSync(fd, 8 + json.length + offset); // zero weights, as a sparse tail
  } finally {
    fs.closeSync(fd);
  }
  return file;
}
