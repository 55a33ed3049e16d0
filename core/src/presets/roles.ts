// What each weight tensor of a model is, for the presets: the token embedding, the output
// head, or one of a transformer block's projections, with its block number. Llama-family
// models (Hugging Face, llama2.c, GGUF) are read through llama.cpp's tensor names (the
// table `output gguf` uses); other models by the common Hugging Face spellings.

import { isWeightTensor } from '../analysis/resolve';
import { ggufName } from '../export/llamaQuantize';
import type { ModelHeader, TensorInfo } from '../models/types';

export type Role =
  | 'embedding'
  | 'head'
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_qkv'
  | 'attn_output'
  | 'ffn_gate'
  | 'ffn_up'
  | 'ffn_down'
  | 'other';

export interface WeightRole {
  tensor: TensorInfo;
  role: Role;
  /** The transformer block (`layers.N`, `blk.N`, `h.N`), when the name has one. */
  layer?: number;
  /** llama.cpp's name, for Llama-family models and GGUF sources. */
  gguf?: string;
}

const GGUF_ROLES: [RegExp, Role][] = [
  [/^token_embd\.weight$/, 'embedding'],
  [/^output\.weight$/, 'head'],
  [/\.attn_q\.weight$/, 'attn_q'],
  [/\.attn_k\.weight$/, 'attn_k'],
  [/\.attn_v\.weight$/, 'attn_v'],
  [/\.attn_qkv\.weight$/, 'attn_qkv'],
  [/\.attn_output\.weight$/, 'attn_output'],
  [/\.ffn_gate\.weight$/, 'ffn_gate'],
  [/\.ffn_up\.weight$/, 'ffn_up'],
  [/\.ffn_down\.weight$/, 'ffn_down'],
];

// Other architectures' spellings (GPT-2, GPT-NeoX, Phi, Falcon, OPT, BLOOM ...).
const HF_ROLES: [RegExp, Role][] = [
  [
    /(^|\.)(embed_tokens|tok_embeddings|word_embeddings|wte|wpe|embed_in|embed_positions|position_embeddings)\.weight$/,
    'embedding',
  ],
  [/(^|\.)(lm_head|embed_out)\.weight$/, 'head'],
  [/\.(q_proj|query)\.weight$/, 'attn_q'],
  [/\.(k_proj|key)\.weight$/, 'attn_k'],
  [/\.(v_proj|value)\.weight$/, 'attn_v'],
  [/\.(qkv_proj|query_key_value|c_attn|Wqkv)\.weight$/, 'attn_qkv'],
  [/\.(o_proj|out_proj|dense|attn\.c_proj)\.weight$/, 'attn_output'],
  [/\.(gate_proj|w1)\.weight$/, 'ffn_gate'],
  [/\.(up_proj|w3|fc1|c_fc|dense_h_to_4h)\.weight$/, 'ffn_up'],
  [/\.(down_proj|w2|fc2|mlp\.c_proj|dense_4h_to_h)\.weight$/, 'ffn_down'],
];

const LAYER = /(?:^|\.)(?:layers|blk|h|block|blocks|layer)\.(\d+)\./;

/** Every weight tensor (floating point, 2-D and up) of the model with its role. */
export function weightRoles(model: ModelHeader): WeightRole[] {
  const out: WeightRole[] = [];
  for (const t of model.tensors) {
    if (!isWeightTensor(t)) continue;
    const gguf = ggufName(t.name, model);
    const table = gguf ? GGUF_ROLES : HF_ROLES;
    const key = gguf ?? t.name;
    const role = table.find(([re]) => re.test(key))?.[1] ?? 'other';
    const m = LAYER.exec(key);
    out.push({ tensor: t, role, layer: m ? Number(m[1]) : undefined, gguf });
  }
  return out;
}

/** Whether the embedding matrix is also the classifier (no separate head is written). */
export function tiedEmbeddings(model: ModelHeader, roles: readonly WeightRole[]): boolean {
  const head = roles.some((r) => r.role === 'head');
  if (!head) return true;
  if (model.format === 'gguf') return false;
  if (model.format === 'llama2c') return model.config.shared_classifier === true;
  return model.config.tie_word_embeddings === true;
}

/** The input dimension: PyTorch's last (llama.cpp's ne[0]), the length of a row. */
export const rowLength = (t: TensorInfo): number => t.shape[t.shape.length - 1];
