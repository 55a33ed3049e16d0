// llama.cpp's Q4_K_M type selection (`llama-quantize model.gguf Q4_K_M`), tensor by tensor,
// as src/llama-quant.cpp decides it (llama_tensor_get_type, Feb 2025):
//   - the default type is q4_k;
//   - the output head (or, when the embeddings are tied and no `output` exists, the token
//     embedding) is q6_k, or q8_0 when its rows are not whole q4_k super-blocks;
//   - attn_v of block i is q6_k when use_more_bits(i, n) holds, i counting the attn_v
//     tensors and n their number; 70B models (80 blocks) get q5_k for the others;
//   - ffn_down likewise, counting the ffn_down tensors;
//   - a fused attn_qkv is q5_k;
//   - a type whose block does not divide the row falls back: q4_k -> q5_0, q5_k -> q5_1,
//     q6_k -> q8_0, and to F16 when even that block does not divide it;
//   - 1-D tensors and `*_norm.weight` are not quantized.
// use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 (integer division): the
// first and last eighth of the blocks and every third one between.
// Mixture-of-experts rules (n_expert == 8) and Falcon's are left out: those models are not
// ones Bitsmith writes as GGUF.

import { FORMAT_BY_NAME } from '../language/formats';
import type { ModelHeader } from '../models/types';
import { rowLength, tiedEmbeddings, type WeightRole } from './roles';

export const useMoreBits = (i: number, n: number): boolean =>
  i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

export interface MixChoice {
  role: WeightRole;
  /** A ggml type name, or 'keep' (llama.cpp writes F16; kept here in the source dtype). */
  type: string;
  reason: string;
}

const FALLBACK: Record<string, string> = { q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0' };
const blockOf = (type: string): number => FORMAT_BY_NAME.get(type)?.block?.weights ?? 1;

/** The Q4_K_M type of every weight tensor (in `roles` order). */
export function q4kmTypes(model: ModelHeader, roles: readonly WeightRole[]): MixChoice[] {
  const tied = tiedEmbeddings(model, roles);
  const rank = (role: string) => {
    const list = roles.filter((r) => r.role === role).sort((a, b) => (a.layer ?? 0) - (b.layer ?? 0));
    return { index: new Map(list.map((r, i) => [r, i])), n: list.length };
  };
  const attnV = rank('attn_v');
  const ffnDown = rank('ffn_down');
  const blocks = new Set(roles.map((r) => r.layer).filter((l) => l !== undefined)).size;
  const is70B = blocks === 80 && model.architecture === 'llama';

  return roles.map((r): MixChoice => {
    const name = r.gguf ?? r.tensor.name;
    if (!name.endsWith('weight') || /_norm\.weight$|norm\.weight$|ffn_gate_inp\.weight$/.test(name)) {
      return { role: r, type: 'keep', reason: 'llama.cpp does not quantize it' };
    }
    const nx = rowLength(r.tensor);
    let type = 'q4_k';
    let reason = '';
    if (r.role === 'head' || (tied && r.role === 'embedding')) {
      if (nx % blockOf('q4_k') !== 0) {
        type = 'q8_0';
        reason = `${r.role === 'head' ? 'output head' : 'token embedding (also the output head)'}: q8_0, its rows of ${nx} are not whole 256-weight super-blocks`;
      } else {
        type = 'q6_k';
        reason = `${r.role === 'head' ? 'output head' : 'token embedding, also the output head (tied)'}: q6_k`;
      }
    } else if (r.role === 'attn_v') {
      const i = attnV.index.get(r)!;
      if (useMoreBits(i, attnV.n)) {
        type = 'q6_k';
        reason = `attn_v where use_more_bits(i, ${attnV.n}) holds: q6_k`;
      } else if (is70B) {
        type = 'q5_k';
        reason = 'attn_v of a 70B model (8 heads share it): q5_k';
      }
    } else if (r.role === 'ffn_down') {
      const i = ffnDown.index.get(r)!;
      if (useMoreBits(i, ffnDown.n)) {
        type = 'q6_k';
        reason = `ffn_down where use_more_bits(i, ${ffnDown.n}) holds: q6_k`;
      }
    } else if (r.role === 'attn_qkv') {
      type = 'q5_k';
      reason = 'fused attn_qkv: q5_k';
    }
    if (nx % blockOf(type) !== 0) {
      const fallback = FALLBACK[type];
      const why = `rows of ${nx} are not whole ${blockOf(type)}-weight blocks`;
      if (fallback && nx % blockOf(fallback) === 0) {
        reason = `${reason ? `${reason}, but ` : ''}${why}: llama.cpp falls back to ${fallback}`;
        type = fallback;
      } else {
        reason = `${reason ? `${reason}, but ` : ''}${why}, nor 32-weight ones: llama.cpp writes F16, kept here`;
        type = 'keep';
      }
    }
    return { role: r, type, reason };
  });
}
