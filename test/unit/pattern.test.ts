import { strict as assert } from 'node:assert';
import { compilePattern } from '../../core/src/analysis/pattern';

const m = (pattern: string, name: string) => compilePattern(pattern).test(name);

describe('tensor patterns', () => {
  it('matches whole names and names without .weight/.bias', () => {
    assert.ok(m('model.embed_tokens', 'model.embed_tokens.weight'));
    assert.ok(m('model.embed_tokens.weight', 'model.embed_tokens.weight'));
    assert.ok(m('lm_head', 'lm_head.bias'));
    assert.ok(!m('model.embed', 'model.embed_tokens.weight'));
  });

  it('keeps * within one segment and lets ** cross segments', () => {
    assert.ok(m('model.layers.*.mlp.down_proj', 'model.layers.12.mlp.down_proj.weight'));
    assert.ok(!m('model.layers.*.down_proj', 'model.layers.12.mlp.down_proj.weight'));
    assert.ok(m('model.layers.**.down_proj', 'model.layers.12.mlp.down_proj.weight'));
    assert.ok(m('model.**', 'model.norm.weight'));
  });

  it('matches a dot-aligned tail, so *.mlp.down_proj selects every layer', () => {
    assert.ok(m('*.mlp.down_proj', 'model.layers.3.mlp.down_proj.weight'));
    assert.ok(m('mlp.down_proj', 'model.layers.3.mlp.down_proj.weight'));
    assert.ok(!m('p.down_proj', 'model.layers.3.mlp.down_proj.weight'), 'tails start at a dot');
    assert.ok(m('layers.1.mlp.*', 'model.layers.1.mlp.up_proj.weight'));
    assert.ok(!m('layers.1.mlp.*', 'model.layers.11.mlp.up_proj.weight'));
  });

  it('supports character classes, alternatives and numeric ranges', () => {
    assert.ok(m('*.self_attn.[qkv]_proj', 'model.layers.0.self_attn.k_proj.weight'));
    assert.ok(!m('*.self_attn.[qkv]_proj', 'model.layers.0.self_attn.o_proj.weight'));
    assert.ok(m('{lm_head,model.embed_tokens}', 'lm_head.weight'));
    assert.ok(m('{lm_head,model.embed_tokens}', 'model.embed_tokens.weight'));
    const range = 'model.layers.{2..12}.mlp.*';
    assert.ok(m(range, 'model.layers.2.mlp.up_proj.weight'));
    assert.ok(m(range, 'model.layers.10.mlp.up_proj.weight'));
    assert.ok(m(range, 'model.layers.12.mlp.up_proj.weight'));
    assert.ok(!m(range, 'model.layers.13.mlp.up_proj.weight'));
    assert.ok(!m(range, 'model.layers.1.mlp.up_proj.weight'));
    assert.ok(m('blk.{0..3}.ffn_down', 'blk.3.ffn_down.weight'));
  });

  it('treats re: as a full regular expression anchored at both ends', () => {
    assert.ok(m('re:.*\\.(q|k)_proj', 'model.layers.0.self_attn.q_proj.weight'));
    assert.ok(!m('re:q_proj', 'model.layers.0.self_attn.q_proj.weight'));
    assert.ok(m('re:model\\.layers\\.\\d+\\.mlp\\..*', 'model.layers.7.mlp.gate_proj.weight'));
  });

  it('reports invalid patterns instead of matching them literally', () => {
    assert.match(compilePattern('re:(unclosed').error!, /Invalid regular expression/);
    assert.match(compilePattern('model.[qk').error!, /Unclosed '\['/);
    assert.match(compilePattern('model.{a,b').error!, /Unclosed '\{'/);
    assert.match(compilePattern('model.layers.{5..2}').error!, /Empty range/);
    assert.match(compilePattern('').error!, /Empty/);
    assert.equal(compilePattern('re:(unclosed').test('anything'), false);
  });
});
