// Layer index and projection role from tensor names (webview/src/shared/tensorNames.ts).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { readModelHeader } from '../../core/src/models/load';
import { parseTensorName, roleLabel } from '../../webview/src/shared/tensorNames';

function check(
  name: string,
  layer: number | null,
  role: string,
  kind: 'weight' | 'bias' | 'other' = 'weight',
  expert: number | null = null,
) {
  assert.deepEqual(parseTensorName(name), { layer, expert, role, kind }, name);
}

describe('webview tensor names', () => {
  it('reads HF Llama / Mistral / Qwen names', () => {
    check('model.layers.0.self_attn.q_proj.weight', 0, 'q');
    check('model.layers.12.self_attn.k_proj.weight', 12, 'k');
    check('model.layers.3.self_attn.v_proj.weight', 3, 'v');
    check('model.layers.31.self_attn.o_proj.weight', 31, 'o');
    check('model.layers.7.mlp.gate_proj.weight', 7, 'gate');
    check('model.layers.7.mlp.up_proj.weight', 7, 'up');
    check('model.layers.7.mlp.down_proj.weight', 7, 'down');
    check('model.layers.7.input_layernorm.weight', 7, 'norm');
    check('model.layers.7.post_attention_layernorm.weight', 7, 'norm');
    check('model.embed_tokens.weight', null, 'embed');
    check('lm_head.weight', null, 'lm_head');
    check('model.norm.weight', null, 'norm');
    // Qwen2 biases and Qwen3 q/k norms
    check('model.layers.2.self_attn.q_proj.bias', 2, 'q', 'bias');
    check('model.layers.2.self_attn.q_norm.weight', 2, 'norm');
  });

  it('reads mixture-of-experts names (Mixtral, Qwen-MoE)', () => {
    check('model.layers.1.block_sparse_moe.experts.5.w1.weight', 1, 'gate', 'weight', 5);
    check('model.layers.1.block_sparse_moe.experts.5.w2.weight', 1, 'down', 'weight', 5);
    check('model.layers.1.block_sparse_moe.experts.5.w3.weight', 1, 'up', 'weight', 5);
    check('model.layers.1.block_sparse_moe.gate.weight', 1, 'router');
    check('model.layers.4.mlp.experts.17.down_proj.weight', 4, 'down', 'weight', 17);
    check('model.layers.4.mlp.gate.weight', 4, 'router');
    check('model.layers.4.mlp.shared_expert_gate.weight', 4, 'router');
  });

  it('reads GGUF names', () => {
    check('blk.0.attn_q.weight', 0, 'q');
    check('blk.0.attn_k.weight', 0, 'k');
    check('blk.0.attn_v.weight', 0, 'v');
    check('blk.0.attn_output.weight', 0, 'o');
    check('blk.9.attn_qkv.weight', 9, 'qkv');
    check('blk.10.ffn_gate.weight', 10, 'gate');
    check('blk.10.ffn_up.weight', 10, 'up');
    check('blk.10.ffn_down.weight', 10, 'down');
    check('blk.10.ffn_down_exps.weight', 10, 'down');
    check('blk.10.ffn_gate_inp.weight', 10, 'router');
    check('blk.10.attn_norm.weight', 10, 'norm');
    check('blk.10.ffn_norm.weight', 10, 'norm');
    check('blk.10.attn_q_norm.weight', 10, 'norm');
    check('token_embd.weight', null, 'embed');
    check('output.weight', null, 'lm_head');
    check('output_norm.weight', null, 'norm');
  });

  it('reads Meta / llama2.c, GPT-2, NeoX, Phi and BERT names', () => {
    check('layers.4.attention.wq.weight', 4, 'q');
    check('layers.4.attention.wo.weight', 4, 'o');
    check('layers.4.feed_forward.w1.weight', 4, 'gate');
    check('layers.4.feed_forward.w2.weight', 4, 'down');
    check('layers.4.feed_forward.w3.weight', 4, 'up');
    check('layers.4.attention_norm.weight', 4, 'norm');
    check('tok_embeddings.weight', null, 'embed');
    check('transformer.h.3.attn.c_attn.weight', 3, 'qkv');
    check('transformer.h.3.attn.c_proj.weight', 3, 'o');
    check('transformer.h.3.mlp.c_fc.weight', 3, 'up');
    check('transformer.h.3.mlp.c_proj.weight', 3, 'down');
    check('transformer.h.3.ln_1.weight', 3, 'norm');
    check('transformer.wte.weight', null, 'embed');
    check('transformer.ln_f.weight', null, 'norm');
    check('gpt_neox.layers.2.attention.query_key_value.weight', 2, 'qkv');
    check('gpt_neox.layers.2.attention.dense.weight', 2, 'o');
    check('gpt_neox.layers.2.mlp.dense_h_to_4h.weight', 2, 'up');
    check('gpt_neox.layers.2.mlp.dense_4h_to_h.weight', 2, 'down');
    check('model.layers.5.self_attn.qkv_proj.weight', 5, 'qkv');
    check('model.layers.5.mlp.gate_up_proj.weight', 5, 'gate_up');
    check('bert.encoder.layer.6.attention.self.query.weight', 6, 'q');
    check('bert.encoder.layer.6.attention.output.dense.weight', 6, 'o');
    check('bert.encoder.layer.6.intermediate.dense.weight', 6, 'up');
    check('bert.encoder.layer.6.output.dense.weight', 6, 'down');
    check('bert.encoder.layer.6.output.LayerNorm.weight', 6, 'norm');
  });

  it('leaves unknown names as other, without a layer when none is numbered', () => {
    check('model.rotary_emb.inv_freq', null, 'other', 'other');
    check('model.layers.3.some_adapter.scale', 3, 'other', 'other');
    check('layers_count', null, 'other', 'other');
  });

  it('places every tensor of the bundled stories260K (llama2.c layout as HF names)', () => {
    const header = readModelHeader(path.resolve(__dirname, '../../examples/stories260K'));
    const parsed = header.tensors.map((t) => ({ name: t.name, ...parseTensorName(t.name) }));
    const projections = parsed.filter((p) => ['q', 'k', 'v', 'o', 'gate', 'up', 'down'].includes(p.role));
    assert.equal(projections.length, 5 * 7);
    assert.deepEqual([...new Set(projections.map((p) => p.layer))].sort(), [0, 1, 2, 3, 4]);
    assert.equal(
      parsed.filter((p) => p.role === 'other').length,
      0,
      parsed
        .filter((p) => p.role === 'other')
        .map((p) => p.name)
        .join(),
    );
    assert.deepEqual(
      parsed
        .filter((p) => p.layer === null)
        .map((p) => p.role)
        .sort(),
      ['embed', 'norm'],
    );
  });

  it('labels roles for legends', () => {
    assert.equal(roleLabel('gate_up'), 'gate+up');
    assert.equal(roleLabel('q'), 'q');
  });
});
