// core/src/analysis/forwardSupport.ts against the native config reader it mirrors
// (native/src/forward/config.cc, readConfig): the same models, supported and not, must get
// the same answer from both: the same architecture read (rope, window layers, biases,
// tied head) or the same error code, message and tensor. The editor's diagnostics are
// only as true as this agreement.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { forwardSupport } from '../../core/src/analysis/forwardSupport';
import { readModelHeader } from '../../core/src/models/load';
import { FAMILY_NAMES, family } from '../helpers/families';
import { ggufFile } from '../helpers/ggufFile';
import { tinyWeights, writeTinyModel, type TinyConfig, type Weights } from '../helpers/tinyLlama';
import type { ForwardApi } from './forward.test';

const root = path.resolve(__dirname, '..', '..');
const fwd = (require(path.join(root, 'native')) as { forward: ForwardApi }).forward;

type Config = Record<string, unknown>;
interface Case {
  label: string;
  /** Family to start from (its config and weights). */
  from: (typeof FAMILY_NAMES)[number];
  /** Changes to config.json (undefined values delete the key). */
  config?: Config;
  /** Changes to the weights. */
  weights?: (w: Weights, t: TinyConfig) => void;
  /** The outcome: ok, or the error code both must give. */
  expect: 'ok' | string;
  /** Part of the message (checked on both). */
  message?: RegExp;
}

const cases: Case[] = [
  ...FAMILY_NAMES.map((from): Case => ({ label: `${from} as shipped`, from, expect: 'ok' })),
  // Supported variants.
  {
    label: 'rope_parameters (transformers 5) with rope_theta inside',
    from: 'llama-3.2-1b',
    config: {
      rope_scaling: undefined,
      rope_theta: undefined,
      rope_parameters: {
        factor: 32,
        high_freq_factor: 4,
        low_freq_factor: 1,
        original_max_position_embeddings: 256,
        rope_theta: 250000,
        rope_type: 'llama3',
      },
    },
    expect: 'ok',
  },
  {
    label: 'rope_scaling {} falls through to rope_parameters',
    from: 'llama-2',
    config: { rope_scaling: {}, rope_parameters: { rope_type: 'linear', factor: 2 } },
    expect: 'ok',
  },
  {
    label: 'rope_type default',
    from: 'mistral-7b-v0.1',
    config: { rope_scaling: { rope_type: 'default' } },
    expect: 'ok',
  },
  {
    label: 'linear with "type"',
    from: 'llama-2',
    config: { rope_scaling: { type: 'linear', factor: 4 } },
    expect: 'ok',
  },
  { label: 'dynamic', from: 'llama-2', config: { rope_scaling: { type: 'dynamic', factor: 2 } }, expect: 'ok' },
  {
    label: 'yarn with original_max_position_embeddings',
    from: 'qwen2.5-0.5b',
    config: { rope_scaling: { factor: 4, original_max_position_embeddings: 4096, type: 'yarn' } },
    expect: 'ok',
  },
  {
    label: 'yarn without original: max_position_embeddings',
    from: 'qwen3-0.6b',
    config: { rope_scaling: { rope_type: 'yarn', factor: 4, beta_fast: 0, beta_slow: null } },
    expect: 'ok',
  },
  {
    label: 'yarn: a top-level original_max_position_embeddings wins',
    from: 'qwen3-0.6b',
    config: {
      original_max_position_embeddings: 1024,
      rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 2048 },
    },
    expect: 'ok',
  },
  {
    label: 'yarn with mscale and mscale_all_dim, truncate false',
    from: 'qwen3-0.6b',
    config: { rope_scaling: { rope_type: 'yarn', factor: 40, mscale: 1, mscale_all_dim: 0.707, truncate: false } },
    expect: 'ok',
  },
  {
    label: 'yarn with attention_factor',
    from: 'qwen3-0.6b',
    config: { rope_scaling: { rope_type: 'yarn', factor: 2, attention_factor: 1.25 } },
    expect: 'ok',
  },
  {
    label: 'qwen2 use_sliding_window from max_window_layers 1',
    from: 'qwen2.5-0.5b',
    config: { use_sliding_window: true, max_window_layers: 1 },
    expect: 'ok',
  },
  {
    label: 'qwen2 use_sliding_window without max_window_layers (28: no layer of 2)',
    from: 'qwen2.5-0.5b',
    config: { use_sliding_window: true, max_window_layers: undefined },
    expect: 'ok',
  },
  {
    label: 'qwen3 use_sliding_window with layer_types',
    from: 'qwen3-0.6b',
    config: { use_sliding_window: true, sliding_window: 8, layer_types: ['full_attention', 'sliding_attention'] },
    expect: 'ok',
  },
  { label: 'mistral sliding_window null', from: 'mistral-7b-v0.1', config: { sliding_window: null }, expect: 'ok' },
  {
    label: 'llama ignores sliding_window',
    from: 'llama-2',
    config: { sliding_window: 4, use_sliding_window: true },
    expect: 'ok',
  },
  { label: 'qwen2 ignores attention_bias', from: 'qwen2.5-0.5b', config: { attention_bias: true }, expect: 'ok' },
  {
    label: 'num_key_value_heads absent, head_dim null',
    from: 'llama-2',
    config: { num_key_value_heads: undefined, head_dim: null },
    expect: 'ok',
  },
  { label: 'partial_rotary_factor 1', from: 'llama-2', config: { partial_rotary_factor: 1.0 }, expect: 'ok' },
  // Architectures and features the pass does not run.
  {
    label: 'gpt2',
    from: 'llama-2',
    config: { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] },
    expect: 'forward/unsupported-architecture',
    message: /model_type "gpt2" \(GPT2LMHeadModel\): the forward pass runs Llama-family models only/,
  },
  {
    label: 'mixtral',
    from: 'mistral-7b-v0.1',
    config: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 8 },
    expect: 'forward/unsupported-architecture',
    message: /"mixtral" \(MixtralForCausalLM\), a mixture-of-experts model/,
  },
  {
    label: 'qwen2 with num_experts',
    from: 'qwen2.5-0.5b',
    config: { num_experts: 4 },
    expect: 'forward/unsupported-architecture',
    message: /qwen2 with "num_experts": mixture-of-experts models/,
  },
  {
    label: 'no model_type',
    from: 'llama-2',
    config: { model_type: undefined },
    expect: 'forward/unsupported-architecture',
    message: /model_type "\(none\)"/,
  },
  {
    label: 'hidden_act gelu',
    from: 'llama-2',
    config: { hidden_act: 'gelu' },
    expect: 'forward/unsupported-architecture',
    message: /llama with hidden_act "gelu": the forward pass runs silu/,
  },
  { label: 'hidden_act a number', from: 'llama-2', config: { hidden_act: 5 }, expect: 'forward/bad-config' },
  {
    label: 'longrope',
    from: 'llama-3.1-8b',
    config: { rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } },
    expect: 'forward/unsupported-architecture',
    message:
      /llama with rope_scaling of type "longrope": the forward pass runs rope types default, linear, dynamic, yarn and llama3/,
  },
  { label: 'rope_scaling a string', from: 'llama-2', config: { rope_scaling: 'linear' }, expect: 'forward/bad-config' },
  {
    label: 'rope_type a number',
    from: 'llama-2',
    config: { rope_scaling: { rope_type: 3 } },
    expect: 'forward/bad-config',
  },
  {
    label: 'llama3 without low_freq_factor',
    from: 'llama-3.1-8b',
    config: {
      rope_scaling: { factor: 8, high_freq_factor: 4, original_max_position_embeddings: 256, rope_type: 'llama3' },
    },
    expect: 'forward/bad-config',
    message: /"rope_scaling\.low_freq_factor" is missing/,
  },
  {
    label: 'llama3 high_freq_factor not above low',
    from: 'llama-3.1-8b',
    config: {
      rope_scaling: {
        factor: 8,
        low_freq_factor: 4,
        high_freq_factor: 4,
        original_max_position_embeddings: 256,
        rope_type: 'llama3',
      },
    },
    expect: 'forward/bad-config',
  },
  {
    label: 'linear factor 0.5',
    from: 'llama-2',
    config: { rope_scaling: { type: 'linear', factor: 0.5 } },
    expect: 'forward/bad-config',
    message: /factor" must be a number of at least 1/,
  },
  {
    label: 'linear without factor',
    from: 'llama-2',
    config: { rope_scaling: { type: 'linear' } },
    expect: 'forward/bad-config',
  },
  {
    label: 'dynamic without max_position_embeddings',
    from: 'llama-2',
    config: { max_position_embeddings: undefined, rope_scaling: { type: 'dynamic', factor: 2 } },
    expect: 'forward/bad-config',
  },
  {
    label: 'yarn with neither original nor max positions',
    from: 'qwen3-0.6b',
    config: { max_position_embeddings: undefined, rope_scaling: { rope_type: 'yarn', factor: 4 } },
    expect: 'forward/bad-config',
  },
  {
    label: 'yarn beta_fast negative',
    from: 'qwen3-0.6b',
    config: { rope_scaling: { rope_type: 'yarn', factor: 4, beta_fast: -1 } },
    expect: 'forward/bad-config',
  },
  {
    label: 'yarn truncate "no"',
    from: 'qwen3-0.6b',
    config: { rope_scaling: { rope_type: 'yarn', factor: 4, truncate: 'no' } },
    expect: 'forward/bad-config',
  },
  {
    label: 'rope_parameters per layer type',
    from: 'qwen3-0.6b',
    config: { rope_scaling: undefined, rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e6 } } },
    expect: 'forward/unsupported-architecture',
  },
  {
    label: 'partial_rotary_factor 0.5',
    from: 'llama-2',
    config: { partial_rotary_factor: 0.5 },
    expect: 'forward/unsupported-architecture',
    message: /partial_rotary_factor: the forward pass rotates whole heads only/,
  },
  {
    label: 'llama attention_bias',
    from: 'llama-3.2-1b',
    config: { attention_bias: true },
    expect: 'forward/unsupported-architecture',
    message: /llama with attention_bias: the o_proj bias/,
  },
  {
    label: 'qwen3 attention_bias',
    from: 'qwen3-0.6b',
    config: { attention_bias: true },
    expect: 'forward/unsupported-architecture',
  },
  {
    label: 'llama mlp_bias',
    from: 'llama-3.1-8b',
    config: { mlp_bias: true },
    expect: 'forward/unsupported-architecture',
  },
  { label: 'attention_bias "yes"', from: 'llama-2', config: { attention_bias: 'yes' }, expect: 'forward/bad-config' },
  // Malformed values.
  {
    label: 'hidden_size missing',
    from: 'llama-2',
    config: { hidden_size: undefined },
    expect: 'forward/bad-config',
    message: /"hidden_size" is missing/,
  },
  {
    label: 'hidden_size 32.5',
    from: 'llama-2',
    config: { hidden_size: 32.5 },
    expect: 'forward/bad-config',
    message: /"hidden_size" must be an integer from 1 to 16777216/,
  },
  { label: 'odd head_dim', from: 'qwen3-0.6b', config: { head_dim: 15 }, expect: 'forward/bad-config' },
  {
    label: 'kv heads do not divide heads',
    from: 'llama-2',
    config: { num_key_value_heads: 3 },
    expect: 'forward/bad-config',
  },
  {
    label: 'heads do not divide hidden_size',
    from: 'llama-2',
    config: { num_attention_heads: 5, num_key_value_heads: 5 },
    expect: 'forward/bad-config',
  },
  {
    label: 'rms_norm_eps 2',
    from: 'llama-2',
    config: { rms_norm_eps: 2 },
    expect: 'forward/bad-config',
    message: /from 0 to 1/,
  },
  {
    label: 'bos_token_id outside the vocabulary',
    from: 'llama-2',
    config: { bos_token_id: 50 },
    expect: 'forward/bad-config',
    message: /from 0 to 49/,
  },
  {
    label: 'use_sliding_window "yes"',
    from: 'qwen2.5-0.5b',
    config: { use_sliding_window: 'yes' },
    expect: 'forward/bad-config',
  },
  {
    label: 'layer_types of the wrong length',
    from: 'qwen3-0.6b',
    config: { use_sliding_window: true, sliding_window: 8, layer_types: ['full_attention'] },
    expect: 'forward/bad-config',
  },
  {
    label: 'layer_types with an unknown entry',
    from: 'qwen3-0.6b',
    config: { use_sliding_window: true, sliding_window: 8, layer_types: ['full_attention', 'chunked_attention'] },
    expect: 'forward/bad-config',
  },
  {
    label: 'max_window_layers -1',
    from: 'qwen2.5-0.5b',
    config: { use_sliding_window: true, max_window_layers: -1 },
    expect: 'forward/bad-config',
  },
  {
    label: 'tie_word_embeddings "true"',
    from: 'llama-2',
    config: { tie_word_embeddings: 'true' },
    expect: 'forward/bad-config',
  },
  // Tensors.
  {
    label: 'qwen3 without q_norm',
    from: 'qwen3-0.6b',
    weights: (w) => w.delete('model.layers.1.self_attn.q_norm.weight'),
    expect: 'forward/missing-tensor',
    message: /the qwen3 forward pass needs tensor "model\.layers\.1\.self_attn\.q_norm\.weight"/,
  },
  {
    label: 'qwen2 without q/k/v biases',
    from: 'qwen2.5-0.5b',
    weights: (w) => {
      for (const n of [...w.keys()]) if (n.endsWith('_proj.bias')) w.delete(n);
    },
    expect: 'forward/missing-tensor',
    message: /q_proj\.bias/,
  },
  {
    label: 'untied without lm_head',
    from: 'llama-3.1-8b',
    weights: (w) => w.delete('lm_head.weight'),
    expect: 'forward/missing-tensor',
    message: /"lm_head\.weight"/,
  },
  {
    label: 'a misshapen k_proj',
    from: 'llama-2',
    weights: (w) => w.set('model.layers.0.self_attn.k_proj.weight', { shape: [16, 32], data: new Float32Array(512) }),
    expect: 'forward/shape-mismatch',
    message: /has shape \[16, 32\] but the config implies \[32, 32\]/,
  },
  {
    label: 'tied with an lm_head.weight present (read as tied, as transformers ties it)',
    from: 'qwen3-0.6b',
    weights: (w, t) => w.set('lm_head.weight', { shape: [t.vocab, t.dim], data: new Float32Array(t.vocab * t.dim) }),
    expect: 'ok',
  },
];

type Outcome =
  { ok: true; arch: Record<string, unknown> } | { ok: false; code: string; message: string; tensor?: string };

function nativeOutcome(p: string): Outcome {
  try {
    return { ok: true, arch: fwd.config(p) };
  } catch (e) {
    const err = e as Error & { code?: string; tensor?: string };
    return { ok: false, code: err.code ?? '?', message: err.message, ...(err.tensor ? { tensor: err.tensor } : {}) };
  }
}

function coreOutcome(p: string): Outcome {
  const s = forwardSupport(readModelHeader(p));
  if (s.ok) return { ok: true, arch: s.arch as unknown as Record<string, unknown> };
  return { ok: false, code: s.code, message: s.message, ...(s.tensor ? { tensor: s.tensor } : {}) };
}

/** The fields both read, for comparison. */
function fields(a: Record<string, unknown>): Record<string, unknown> {
  const keys = ['architecture', 'dim', 'hidden', 'layers', 'heads', 'kvHeads', 'headDim', 'vocab', 'maxPositions'];
  const out: Record<string, unknown> = {};
  for (const k of [
    ...keys,
    'normEps',
    'bosToken',
    'qkvBias',
    'qkNorm',
    'tied',
    'slidingWindow',
    'windowLayers',
    'rope',
    'source',
  ])
    out[k] = a[k];
  return out;
}

function agree(p: string, label: string): Outcome {
  const n = nativeOutcome(p),
    c = coreOutcome(p);
  if (n.ok && c.ok) assert.deepEqual(fields(c.arch), fields(n.arch), `${label}: the architecture read differs`);
  else assert.deepEqual(c, n, `${label}: native and core disagree`);
  return n;
}

describe('forward support: core/src/analysis/forwardSupport.ts agrees with the native config reader', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-fwdsupport-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const c of cases) {
    it(`${c.label}: ${c.expect}`, () => {
      const f = family(c.from);
      const config: Config = { ...f.config };
      for (const [k, v] of Object.entries(c.config ?? {})) {
        if (v === undefined) delete config[k];
        else config[k] = v;
      }
      const w = tinyWeights(f.tiny, 3);
      c.weights?.(w, f.tiny);
      const d = path.join(dir, c.label.replace(/\W+/g, '-'));
      writeTinyModel(d, f.tiny, 3, w, config);
      const n = agree(d, c.label);
      if (c.expect === 'ok') assert.ok(n.ok, `expected ok, got ${!n.ok ? n.message : ''}`);
      else {
        assert.ok(!n.ok, 'expected an error');
        assert.equal(n.code, c.expect, n.message);
        if (c.message) assert.match(n.message, c.message);
      }
    });
  }

  it('what each family reads as (rope, window layers, biases, norms, tied head)', () => {
    const read = (name: (typeof FAMILY_NAMES)[number], extra: Config = {}) => {
      const f = family(name);
      const d = path.join(dir, `read-${name}-${Object.keys(extra).join('-')}`);
      writeTinyModel(d, f.tiny, 3, undefined, { ...f.config, ...extra });
      const s = forwardSupport(readModelHeader(d));
      assert.ok(s.ok, !s.ok ? s.message : '');
      return s.arch;
    };
    const l32 = read('llama-3.2-1b');
    assert.equal(l32.rope.type, 'llama3');
    assert.deepEqual(
      [l32.rope.factor, l32.rope.lowFreqFactor, l32.rope.highFreqFactor, l32.rope.originalMaxPositions, l32.rope.theta],
      [32, 1, 4, 256, 500000],
    );
    assert.equal(l32.tied, true);
    assert.equal(read('llama-3.1-8b').tied, false);
    const l2 = read('llama-2');
    assert.deepEqual([l2.rope.type, l2.rope.theta, l2.kvHeads], ['default', 10000, 4]);
    const q25 = read('qwen2.5-0.5b');
    assert.deepEqual([q25.qkvBias, q25.slidingWindow, q25.windowLayers], [true, 0, []]);
    assert.deepEqual(read('qwen2.5-0.5b', { use_sliding_window: true, max_window_layers: 1 }).windowLayers, [1]);
    const q3 = read('qwen3-0.6b');
    assert.deepEqual([q3.qkNorm, q3.headDim, q3.dim / q3.heads], [true, 16, 8]);
    const m = read('mistral-7b-v0.1');
    assert.deepEqual([m.slidingWindow, m.windowLayers], [4, [0, 1]]);
    // YaRN's attention factor: 0.1 ln(factor) + 1, or the mscale ratio, or as given.
    const y = read('qwen3-0.6b', { rope_scaling: { rope_type: 'yarn', factor: 4 } });
    assert.ok(Math.abs(y.rope.attentionFactor - (0.1 * Math.log(4) + 1)) < 1e-15);
    assert.equal(y.rope.originalMaxPositions, 40960);
    const ds = read('qwen3-0.6b', { rope_scaling: { rope_type: 'yarn', factor: 40, mscale: 1, mscale_all_dim: 1 } });
    assert.equal(ds.rope.attentionFactor, 1);
  });

  it('llama2.c checkpoints, a lone .safetensors, no config, GGUF', () => {
    const stories = path.join(root, 'examples', 'stories260K');
    for (const p of [stories, path.join(stories, 'stories260K.bin'), path.join(stories, 'model.safetensors')])
      assert.ok(agree(p, p).ok, p);
    // No config.json: a folder, and a .safetensors with nothing beside it.
    const f = family('llama-2');
    const d = path.join(dir, 'no-config');
    writeTinyModel(d, f.tiny, 3, undefined, f.config);
    fs.rmSync(path.join(d, 'config.json'));
    for (const p of [d, path.join(d, 'model.safetensors')]) {
      const n = agree(p, p);
      assert.ok(!n.ok && n.code === 'forward/no-config', p);
    }
    const g = path.join(dir, 'm.gguf');
    fs.writeFileSync(g, ggufFile([{ name: 'token_embd.weight', ne: [4, 2], type: 0, data: Buffer.alloc(32) }]));
    const n = agree(g, g);
    assert.ok(!n.ok && n.code === 'forward/unsupported-format');
  });
});
