// Reads a llama2.c checkpoint (.bin, legacy "version 0" export): 7 little-endian int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then float32
// arrays back to back. A negative vocab_size means the classifier is not shared with the
// token embedding and is stored at the end, after the freq_cis tables.
//
// Tensors are presented under Hugging Face Llama names, one per layer slice, so recipes
// written against HF models apply unchanged. The freq_cis tables are not weights: skipped.

import * as path from 'path';
import { DTYPE_BITS, ModelReadError, TensorInfo } from './types';
import { readExact, safeProduct, withModelFile } from './safetensors';

const HEADER_BYTES = 7 * 4;
/** The forward pass's layer limit (native/src/forward/llama.cc); real checkpoints have at most ~100. */
export const MAX_LLAMA2C_LAYERS = 4096;
/** llama2.c's newer export formats start with this magic ("ak42" as a little-endian u32). */
const AK42_MAGIC = 0x616b3432;

export interface Llama2cConfig {
  dim: number;
  hidden_dim: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
  seq_len: number;
  shared_classifier: boolean;
  /** q/k rows use llama2.c's interleaved rotary pairs (2i, 2i+1), not HF's half split. */
  rope_interleaved: true;
}

export interface Llama2cHeader {
  config: Llama2cConfig;
  tensors: TensorInfo[];
}

export function readLlama2cHeader(file: string): Llama2cHeader {
  const abs = path.resolve(file);
  return withModelFile(abs, (f) => {
    const bad = (msg: string): ModelReadError => new ModelReadError('model/bad-header', `${abs}: ${msg}`, abs);
    const head = readExact(f, 0, HEADER_BYTES, 'the 28-byte llama2.c header');
    if (head.readUInt32LE(0) === AK42_MAGIC) {
      throw bad('llama2.c "ak42" export (version 1/2) is not supported; export with the legacy version 0 format');
    }
    const fields = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
    const v: Record<(typeof fields)[number], number> = {
      dim: 0,
      hidden_dim: 0,
      n_layers: 0,
      n_heads: 0,
      n_kv_heads: 0,
      vocab_size: 0,
      seq_len: 0,
    };
    fields.forEach((name, i) => {
      v[name] = head.readInt32LE(i * 4);
    });

    const shared = v.vocab_size > 0;
    const vocab = Math.abs(v.vocab_size);
    for (const name of fields) {
      const value = name === 'vocab_size' ? vocab : v[name];
      if (value <= 0) throw bad(`header field ${name} = ${v[name]} must be positive (not a llama2.c checkpoint?)`);
    }
    const { dim, hidden_dim: hidden, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, seq_len: seqLen } = v;
    if (dim % heads !== 0) throw bad(`dim ${dim} is not divisible by n_heads ${heads}`);
    if (heads % kvHeads !== 0) throw bad(`n_heads ${heads} is not divisible by n_kv_heads ${kvHeads}`);
    const kvDim = (dim * kvHeads) / heads;
    const headSize = dim / heads;
    const freqRows = Math.floor(headSize / 2); // C integer division, as in run.c

    if (layers > MAX_LLAMA2C_LAYERS) {
      throw bad(`header field n_layers = ${layers} is more than ${MAX_LLAMA2C_LAYERS} (not a llama2.c checkpoint?)`);
    }

    // Two passes over one layout: the first only adds up the sizes, so a header describing
    // more than the file holds is refused before a single tensor is listed.
    const layout = (emit: boolean): { tensors: TensorInfo[]; end: number } => {
      const tensors: TensorInfo[] = [];
      let pos = HEADER_BYTES;
      // Adds one array of `count` stacked slices of `shape` (one TensorInfo per named slice).
      const add = (names: (i: number) => string | undefined, count: number, shape: number[]): void => {
        const elements = safeProduct(shape);
        const bytes = elements === undefined ? undefined : elements * 4;
        const total = bytes === undefined ? undefined : safeProduct([bytes, count]);
        if (
          elements === undefined ||
          bytes === undefined ||
          total === undefined ||
          pos + total > Number.MAX_SAFE_INTEGER
        ) {
          throw bad(`header sizes overflow (dim ${dim}, hidden_dim ${hidden}, n_layers ${layers}, vocab ${vocab})`);
        }
        if (emit) {
          for (let i = 0; i < count; i++) {
            const name = names(i);
            if (name !== undefined) {
              tensors.push({
                name,
                shape: [...shape],
                dtype: 'F32',
                bitsPerElement: DTYPE_BITS.F32,
                elements,
                bytes,
                file: abs,
                offset: pos + i * bytes,
              });
            }
          }
        }
        pos += total;
      };
      const layer = (suffix: string) => (l: number) => `model.layers.${l}.${suffix}`;

      add(() => 'model.embed_tokens.weight', 1, [vocab, dim]);
      add(layer('input_layernorm.weight'), layers, [dim]);
      add(layer('self_attn.q_proj.weight'), layers, [dim, dim]);
      add(layer('self_attn.k_proj.weight'), layers, [kvDim, dim]);
      add(layer('self_attn.v_proj.weight'), layers, [kvDim, dim]);
      add(layer('self_attn.o_proj.weight'), layers, [dim, dim]);
      add(layer('post_attention_layernorm.weight'), layers, [dim]);
      add(layer('mlp.gate_proj.weight'), layers, [hidden, dim]); // w1
      add(layer('mlp.down_proj.weight'), layers, [dim, hidden]); // w2
      add(layer('mlp.up_proj.weight'), layers, [hidden, dim]); // w3
      add(() => 'model.norm.weight', 1, [dim]);
      add(() => undefined, 2, [seqLen, freqRows]); // freq_cis_real, freq_cis_imag
      if (!shared) add(() => 'lm_head.weight', 1, [vocab, dim]);
      return { tensors, end: pos };
    };

    const needed = layout(false).end;
    if (f.size < needed) {
      throw new ModelReadError(
        'model/truncated',
        `${abs}: llama2.c header (dim ${dim}, n_layers ${layers}, vocab ${vocab}) needs ${needed} bytes but the file has ${f.size}`,
        abs,
      );
    }
    const { tensors } = layout(true);
    // Present tensors layer by layer (HF order) rather than in file order.
    tensors.sort((a, b) => layerIndex(a.name) - layerIndex(b.name));
    return {
      config: {
        dim,
        hidden_dim: hidden,
        n_layers: layers,
        n_heads: heads,
        n_kv_heads: kvHeads,
        vocab_size: vocab,
        seq_len: seqLen,
        shared_classifier: shared,
        rope_interleaved: true,
      },
      tensors,
    };
  });
}

/** Sort key: embeddings first, then layers in order, then the final norm and head. */
function layerIndex(name: string): number {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  if (m) return Number(m[1]);
  return name === 'model.embed_tokens.weight' ? -1 : Number.MAX_SAFE_INTEGER;
}
