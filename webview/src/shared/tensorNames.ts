// Reads the transformer block index and the role of a tensor (q/k/v/o, gate/up/down, norm,
// embedding, ...) from its name, for Hugging Face (Llama, Mistral, Mixtral, Qwen, Phi,
// GPT-2/NeoX/Falcon, BERT), Meta/llama2.c and GGUF naming. Pure: used by the report charts
// and by the host (CSV export), and unit-tested.

/** Linear projections inside a block: the series of the per-layer charts. */
export const PROJECTION_ROLES = ['q', 'k', 'v', 'o', 'qkv', 'gate', 'up', 'down', 'gate_up'] as const;
export type ProjectionRole = (typeof PROJECTION_ROLES)[number];
export type Role = ProjectionRole | 'router' | 'norm' | 'embed' | 'lm_head' | 'other';

export interface TensorNameInfo {
  /** Block index (`model.layers.7.…`, `blk.7.…`, `transformer.h.7.…`), null outside blocks. */
  layer: number | null;
  /** Expert index of a split mixture-of-experts weight (`….experts.3.…`), else null. */
  expert: number | null;
  role: Role;
  /** From the last segment: `.weight` / `.bias`; 'other' for names without either (buffers, scales). */
  kind: 'weight' | 'bias' | 'other';
}

const LAYER_RE = /(?:^|\.)(?:layers|layer|h|blk|blocks|block|decoder_layers|encoder_layers)\.(\d+)(?=\.|$)/;
const EXPERT_RE = /(?:^|\.)experts\.(\d+)(?=\.|$)/;

/** Leaf names whose role does not depend on where they sit. */
const LEAF_ROLES: Record<string, Role> = {
  q_proj: 'q',
  wq: 'q',
  query: 'q',
  attn_q: 'q',
  q: 'q',
  k_proj: 'k',
  wk: 'k',
  key: 'k',
  attn_k: 'k',
  k: 'k',
  v_proj: 'v',
  wv: 'v',
  value: 'v',
  attn_v: 'v',
  v: 'v',
  o_proj: 'o',
  wo: 'o',
  out_proj: 'o',
  attn_output: 'o',
  attn_out: 'o',
  qkv_proj: 'qkv',
  query_key_value: 'qkv',
  c_attn: 'qkv',
  attn_qkv: 'qkv',
  wqkv: 'qkv',
  qkv: 'qkv',
  gate_proj: 'gate',
  ffn_gate: 'gate',
  ffn_gate_exps: 'gate',
  ffn_gate_shexp: 'gate',
  up_proj: 'up',
  ffn_up: 'up',
  ffn_up_exps: 'up',
  ffn_up_shexp: 'up',
  c_fc: 'up',
  dense_h_to_4h: 'up',
  fc1: 'up',
  down_proj: 'down',
  ffn_down: 'down',
  ffn_down_exps: 'down',
  ffn_down_shexp: 'down',
  dense_4h_to_h: 'down',
  fc2: 'down',
  gate_up_proj: 'gate_up',
  ffn_gate_inp: 'router',
  router: 'router',
  shared_expert_gate: 'router',
  ffn_gate_inp_shexp: 'router',
  embed_tokens: 'embed',
  tok_embeddings: 'embed',
  token_embd: 'embed',
  wte: 'embed',
  wpe: 'embed',
  word_embeddings: 'embed',
  embed_in: 'embed',
  position_embeddings: 'embed',
  token_type_embeddings: 'embed',
  embed_positions: 'embed',
  position_embd: 'embed',
  token_types: 'embed',
  lm_head: 'lm_head',
  embed_out: 'lm_head',
};

/** Meta / llama2.c / Mixtral feed-forward names: w1 = gate, w3 = up, w2 = down. */
const FFN_W: Record<string, Role> = { w1: 'gate', w2: 'down', w3: 'up' };

const ATTN_CONTEXT = /(?:^|\.)(?:self_attn|attn|attention|self_attention|mixer)(?:\.|$)/;
const MLP_CONTEXT = /(?:^|\.)(?:mlp|ffn|feed_forward|block_sparse_moe|experts|shared_expert|moe)(?:\.|$)/;

export function parseTensorName(name: string): TensorNameInfo {
  const layerMatch = LAYER_RE.exec(name);
  const expertMatch = EXPERT_RE.exec(name);
  const layer = layerMatch ? Number(layerMatch[1]) : null;
  const expert = expertMatch ? Number(expertMatch[1]) : null;

  const segments = name.split('.');
  let kind: TensorNameInfo['kind'] = 'other';
  const last = segments[segments.length - 1];
  if (last === 'weight' || last === 'bias') {
    kind = last;
    segments.pop();
  }
  const leaf = (segments[segments.length - 1] ?? '').toLowerCase();
  const parent = segments.slice(0, -1).join('.').toLowerCase();
  return { layer, expert, kind, role: roleOf(leaf, parent, layer) };
}

function roleOf(leaf: string, parent: string, layer: number | null): Role {
  if (/norm/.test(leaf) || /^ln(_|\d|f$|$)/.test(leaf) || leaf === 'layernorm') return 'norm';
  if (/(?:^|\.)(?:layernorm|layer_norm|norm|ln_\w+)$/.test(parent)) return 'norm';
  const fixed = LEAF_ROLES[leaf];
  if (fixed) return fixed;
  if (FFN_W[leaf] && (MLP_CONTEXT.test(parent) || layer !== null)) return FFN_W[leaf];

  const inAttn = ATTN_CONTEXT.test(parent);
  const inMlp = MLP_CONTEXT.test(parent);
  // Mixtral's router: block_sparse_moe.gate; Qwen-MoE: mlp.gate.
  if (leaf === 'gate' && inMlp) return 'router';
  // GPT-2 / NeoX / Falcon / BERT output projections: `attn.c_proj` vs `mlp.c_proj`,
  // `attention.dense` vs `output.dense` (BERT's feed-forward output).
  if (leaf === 'c_proj' || leaf === 'proj' || leaf === 'dense' || leaf === 'out') {
    if (inAttn) return 'o';
    if (inMlp || /(?:^|\.)output$/.test(parent)) return 'down';
    if (/(?:^|\.)intermediate$/.test(parent)) return 'up';
  }
  if (layer === null) {
    if (leaf === 'output' || leaf === 'classifier' || leaf === 'head') return 'lm_head';
    if (leaf === 'embeddings' || leaf === 'embedding') return 'embed';
  }
  return 'other';
}

/** Short label of a role for legends and table cells. */
export function roleLabel(role: Role): string {
  switch (role) {
    case 'gate_up':
      return 'gate+up';
    case 'lm_head':
      return 'lm_head';
    case 'embed':
      return 'embedding';
    default:
      return role;
  }
}
