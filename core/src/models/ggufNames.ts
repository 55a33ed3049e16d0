// llama.cpp's tensor names for the Hugging Face Llama family (what convert_hf_to_gguf.py
// maps them to): a fact about the model families, read by the imatrix check (its entries are
// named this way) and by output gguf.

const LAYER_MAP: Record<string, string> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  input_layernorm: 'attn_norm',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

/** The llama.cpp name of a Hugging Face Llama-family tensor, or undefined. */
export function ggufTensorName(hf: string): string | undefined {
  const m = /^(.*)\.(weight|bias)$/.exec(hf);
  if (!m) return undefined;
  const [, base, kind] = m;
  if (base === 'model.embed_tokens') return `token_embd.${kind}`;
  if (base === 'model.norm') return `output_norm.${kind}`;
  if (base === 'lm_head') return `output.${kind}`;
  const l = /^model\.layers\.(\d+)\.(.+)$/.exec(base);
  if (l && LAYER_MAP[l[2]]) return `blk.${l[1]}.${LAYER_MAP[l[2]]}.${kind}`;
  return undefined;
}
