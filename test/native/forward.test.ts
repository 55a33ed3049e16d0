// native/src/forward: the Llama-family forward pass against the stories260K reference
// figures (greedy tokens and perplexity, HF folder and llama2.c .bin), against an f64
// reference forward pass for every architecture variant on tiny models written here,
// batched vs one-token-at-a-time (KV cache), and its errors.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { referenceLogits, referenceRope, writeTinyModel, type TinyConfig } from '../helpers/tinyLlama';
import { FAMILY_NAMES, family } from '../helpers/families';

export interface ForwardApi {
  config(path: string): Record<string, unknown>;
  rope(path: string, start: number, count: number): { invFreq: Float64Array; cos: Float32Array; sin: Float32Array };
  generate(
    path: string,
    prompt: number[],
    steps: number,
    o?: { temperature?: number; seed?: number; threads?: number },
  ): number[];
  logits(path: string, tokens: number[], o?: { incremental?: boolean; threads?: number }): Float32Array;
  sequences(
    path: string,
    o: { kind: 'generated' | 'tokens'; samples?: number; length?: number; seed?: number; file?: string },
  ): number[][];
  calibrate(
    path: string,
    seqs: number[][],
    o?: { reference?: boolean; threads?: number },
  ): { layer: number; site: string; n: number; tokens: number; tensors: string[]; h: Float64Array }[];
  inputs(path: string, tokens: number[]): { layer: number; site: string; n: number; t: number; x: Float32Array }[];
  evaluate(a: string, b: string, seqs: number[][], o?: { threads?: number }): Record<string, number>;
  bench(
    path: string,
    seqs: number[][],
    o?: { threads?: number; hessians?: boolean },
  ): { seconds: number; tokens: number; loadSeconds: number };
}
const root = path.resolve(__dirname, '..', '..');
const fwd = (require(path.join(root, 'native')) as { forward: ForwardApi }).forward;

const HF = path.join(root, 'examples', 'stories260K');
const FIXTURE = path.resolve(root, '..', 'shared', 'fixtures', 'stories260K');
const BIN_CANDIDATES = [path.join(HF, 'stories260K.bin'), path.join(FIXTURE, 'stories260K.bin')];
const GREEDY =
  '1 461 461 401 401 401 461 378 455 473 456 435 299 362 409 283 264 283 452 288 13 431 431 431 431 431 431 431 431 431 431 431 431 431 293 430 417 363 416 315 342'
    .split(' ')
    .map(Number);

function meanNll(logits: Float32Array, tokens: number[], vocab: number): number {
  let nll = 0;
  for (let t = 0; t + 1 < tokens.length; t++) {
    const r = logits.subarray(t * vocab, (t + 1) * vocab);
    let m = -Infinity;
    for (const v of r) m = Math.max(m, v);
    let s = 0;
    for (const v of r) s += Math.exp(v - m);
    nll -= r[tokens[t + 1]] - m - Math.log(s);
  }
  return nll / (tokens.length - 1);
}

describe('native forward pass', () => {
  const models = [HF, ...BIN_CANDIDATES.filter((p) => fs.existsSync(p))];

  it('finds the stories260K .bin (bundled or the shared fixture)', () => {
    assert.ok(models.length >= 2, `no stories260K.bin in ${BIN_CANDIDATES.join(' or ')}`);
  });

  for (const m of models) {
    const name = path.relative(root, m);
    it(`${name}: greedy decoding from BOS 1 gives the reference 40 tokens`, () => {
      assert.deepEqual(fwd.generate(m, [1], 40), GREEDY);
    });
    it(`${name}: perplexity over the first 60 greedy tokens is 2.4392`, () => {
      const seq = fwd.generate(m, [1], 60);
      assert.deepEqual(seq.slice(0, 41), GREEDY);
      const nll = meanNll(fwd.logits(m, seq), seq, 512);
      assert.ok(Math.abs(Math.exp(nll) - 2.4392) < 1e-3, `perplexity ${Math.exp(nll)}`);
      assert.ok(Math.abs(nll - 0.8917) < 1e-3, `mean NLL ${nll}`);
    });
  }

  it('the llama2.c checkpoint and the HF folder give the same logits', () => {
    const seq = GREEDY.slice(0, 30);
    const a = fwd.logits(HF, seq),
      b = fwd.logits(models[1], seq);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst < 1e-4, `max |diff| ${worst}`);
  });

  it('batched logits equal one-token-at-a-time logits through the KV cache', () => {
    const seq = fwd.generate(HF, [1], 50, { temperature: 1, seed: 7 });
    const a = fwd.logits(HF, seq),
      b = fwd.logits(HF, seq, { incremental: true });
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst < 1e-4, `max |diff| ${worst}`);
  });

  it('logits do not depend on the thread count', () => {
    const seq = GREEDY.slice(0, 20);
    assert.deepEqual(fwd.logits(HF, seq, { threads: 1 }), fwd.logits(HF, seq, { threads: 2 }));
  });

  it('sampling is seeded: same seed same sequence, another seed another', () => {
    const a = fwd.generate(HF, [1], 30, { temperature: 1, seed: 3 });
    const b = fwd.generate(HF, [1], 30, { temperature: 1, seed: 3 });
    const c = fwd.generate(HF, [1], 30, { temperature: 1, seed: 4 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.every((t) => Number.isInteger(t) && t >= 0 && t < 512));
  });

  describe('tiny models against the f64 reference', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-fwd-'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const variants: [string, TinyConfig][] = [
      [
        'llama, GQA, untied lm_head',
        { modelType: 'llama', dim: 32, hidden: 40, layers: 2, heads: 4, kvHeads: 2, vocab: 50 },
      ],
      [
        'llama, tied, rope_theta 500000, multi-head',
        {
          modelType: 'llama',
          dim: 48,
          hidden: 64,
          layers: 2,
          heads: 6,
          kvHeads: 6,
          vocab: 70,
          tied: true,
          ropeTheta: 500000,
        },
      ],
      [
        'qwen2 with q/k/v biases',
        {
          modelType: 'qwen2',
          dim: 32,
          hidden: 48,
          layers: 2,
          heads: 4,
          kvHeads: 1,
          vocab: 60,
          bias: true,
          ropeTheta: 1e6,
        },
      ],
      [
        'qwen3 with q/k norms and head_dim != hidden/heads',
        {
          modelType: 'qwen3',
          dim: 32,
          hidden: 48,
          layers: 2,
          heads: 4,
          kvHeads: 2,
          headDim: 12,
          vocab: 60,
          qkNorm: true,
        },
      ],
      [
        'mistral with a sliding window',
        { modelType: 'mistral', dim: 32, hidden: 48, layers: 2, heads: 4, kvHeads: 2, vocab: 40, slidingWindow: 5 },
      ],
    ];
    for (const [label, cfg] of variants) {
      it(label, () => {
        const d = path.join(dir, label.replace(/\W+/g, '-'));
        const w = writeTinyModel(d, cfg, label.length);
        const tokens = [1, 5, 9, 3, 17, 2, 30, 11, 7, 25, 4, 8];
        const want = referenceLogits(cfg, w, tokens);
        for (const incremental of [false, true]) {
          const got = fwd.logits(d, tokens, { incremental });
          let worst = 0,
            scale = 0;
          for (let t = 0; t < tokens.length; t++)
            for (let v = 0; v < cfg.vocab; v++) {
              worst = Math.max(worst, Math.abs(got[t * cfg.vocab + v] - want[t][v]));
              scale = Math.max(scale, Math.abs(want[t][v]));
            }
          assert.ok(
            worst <= 2e-5 * Math.max(1, scale),
            `${incremental ? 'incremental' : 'batched'}: max |diff| ${worst} (scale ${scale})`,
          );
        }
      });
    }

    /** Max |native - reference| over every position's logits, and the largest reference logit. */
    const compare = (got: Float32Array, want: Float64Array[], vocab: number) => {
      let worst = 0,
        scale = 0;
      for (let t = 0; t < want.length; t++)
        for (let v = 0; v < vocab; v++) {
          worst = Math.max(worst, Math.abs(got[t * vocab + v] - want[t][v]));
          scale = Math.max(scale, Math.abs(want[t][v]));
        }
      return { worst, scale };
    };
    const maxDiff = (a: Float64Array[], b: Float64Array[]) => {
      let d = 0;
      for (let t = 0; t < a.length; t++)
        for (let v = 0; v < a[t].length; v++) d = Math.max(d, Math.abs(a[t][v] - b[t][v]));
      return d;
    };
    const TOKENS = [1, 5, 9, 3, 17, 2, 30, 11, 7, 25, 4, 8, 13, 6, 21, 10];

    // Each family's real config.json key set (test/helpers/families.ts), and variants of
    // those keys: logits at every position against the f64 reference, batched and through
    // the KV cache; the reference without the feature differs (the test can see it).
    const familyCases: [string, () => { config: Record<string, unknown>; tiny: TinyConfig }, TinyConfig?][] = [];
    for (const name of FAMILY_NAMES) familyCases.push([name, () => family(name)]);
    familyCases.push(
      [
        'llama-3.2-1b saved by transformers 5 (rope_parameters with rope_theta inside, no rope_theta key)',
        () => {
          const f = family('llama-3.2-1b');
          const { rope_scaling: rs, rope_theta: theta, ...rest } = f.config;
          return { tiny: f.tiny, config: { ...rest, rope_parameters: { ...(rs as object), rope_theta: theta } } };
        },
      ],
      [
        'llama-2 with linear rope scaling ("type": "linear", factor 4)',
        () => {
          const f = family('llama-2');
          return {
            tiny: { ...f.tiny, rope: { type: 'linear', factor: 4 } },
            config: { ...f.config, rope_scaling: { type: 'linear', factor: 4.0 } },
          };
        },
      ],
      [
        'llama-2 with dynamic NTK rope scaling past max_position_embeddings 8',
        () => {
          const f = family('llama-2');
          return {
            tiny: { ...f.tiny, maxPositions: 8, rope: { type: 'dynamic', factor: 2 } },
            config: { ...f.config, max_position_embeddings: 8, rope_scaling: { type: 'dynamic', factor: 2.0 } },
          };
        },
      ],
      [
        'qwen2.5-0.5b with YaRN as Qwen documents it (factor 4, original_max_position_embeddings)',
        () => {
          const f = family('qwen2.5-0.5b');
          return {
            tiny: { ...f.tiny, maxPositions: 64, rope: { type: 'yarn', factor: 4, original: 64 } },
            config: {
              ...f.config,
              max_position_embeddings: 64,
              rope_scaling: { factor: 4.0, original_max_position_embeddings: 64, type: 'yarn' },
            },
          };
        },
      ],
      [
        'qwen3-0.6b with YaRN: beta_fast/beta_slow, mscale/mscale_all_dim, truncate false',
        () => {
          const f = family('qwen3-0.6b');
          return {
            tiny: {
              ...f.tiny,
              rope: {
                type: 'yarn',
                factor: 8,
                original: 128,
                betaFast: 16,
                betaSlow: 2,
                mscale: 1.5,
                mscaleAllDim: 0.5,
                truncate: false,
              },
            },
            config: {
              ...f.config,
              rope_scaling: {
                rope_type: 'yarn',
                factor: 8.0,
                original_max_position_embeddings: 128,
                beta_fast: 16,
                beta_slow: 2,
                mscale: 1.5,
                mscale_all_dim: 0.5,
                truncate: false,
              },
            },
          };
        },
      ],
      [
        'qwen3-0.6b with YaRN attention_factor given',
        () => {
          const f = family('qwen3-0.6b');
          return {
            tiny: { ...f.tiny, maxPositions: 32, rope: { type: 'yarn', factor: 2, attentionFactor: 1.3 } },
            config: {
              ...f.config,
              max_position_embeddings: 32,
              rope_scaling: { rope_type: 'yarn', factor: 2.0, attention_factor: 1.3 },
            },
          };
        },
      ],
      [
        'qwen2.5-0.5b with use_sliding_window: the window from max_window_layers 1 on',
        () => {
          const f = family('qwen2.5-0.5b');
          return {
            tiny: { ...f.tiny, slidingWindow: 3, windowLayers: [1] },
            config: { ...f.config, use_sliding_window: true, max_window_layers: 1 },
          };
        },
      ],
      [
        'qwen3-0.6b with use_sliding_window and layer_types (layer 0 sliding)',
        () => {
          const f = family('qwen3-0.6b');
          return {
            tiny: { ...f.tiny, slidingWindow: 4, windowLayers: [0] },
            config: {
              ...f.config,
              use_sliding_window: true,
              sliding_window: 4,
              layer_types: ['sliding_attention', 'full_attention'],
            },
          };
        },
      ],
    );
    // What each case's feature is, for the "the reference without it differs" check.
    const without = (t: TinyConfig): TinyConfig | undefined =>
      t.rope
        ? { ...t, rope: undefined }
        : t.slidingWindow
          ? { ...t, slidingWindow: undefined, windowLayers: undefined }
          : t.bias
            ? { ...t, bias: false }
            : t.qkNorm
              ? { ...t, qkNorm: false }
              : undefined;
    for (const [label, make] of familyCases) {
      it(`${label}: every position's logits match the f64 reference`, () => {
        const { config, tiny } = make();
        const d = path.join(dir, label.replace(/\W+/g, '-').slice(0, 60));
        const w = writeTinyModel(d, tiny, label.length, undefined, config);
        for (const incremental of [false, true]) {
          const want = referenceLogits(tiny, w, TOKENS, undefined, incremental);
          const { worst, scale } = compare(fwd.logits(d, TOKENS, { incremental }), want, tiny.vocab);
          assert.ok(
            worst <= 2e-5 * Math.max(1, scale),
            `${incremental ? 'incremental' : 'batched'}: max |diff| ${worst} (scale ${scale})`,
          );
        }
        const base = without(tiny);
        if (base) {
          const a = referenceLogits(tiny, w, TOKENS),
            b = referenceLogits(base, w, TOKENS);
          assert.ok(maxDiff(a, b) > 1e-3, `the feature changes nothing at these sizes (${maxDiff(a, b)})`);
        }
      });
    }

    it('dynamic rope: batched and incremental differ past the original context, as in transformers', () => {
      const f = family('llama-2');
      const tiny: TinyConfig = { ...f.tiny, maxPositions: 8, rope: { type: 'dynamic', factor: 2 } };
      const d = path.join(dir, 'dynamic-modes');
      const w = writeTinyModel(d, tiny, 5, undefined, {
        ...f.config,
        max_position_embeddings: 8,
        rope_scaling: { rope_type: 'dynamic', factor: 2 },
      });
      const V = tiny.vocab;
      // One call over 16 positions rotates all of them with the grown base; one token per
      // call grows it step by step, so the first 8 are those of a call over 8 positions.
      const all = fwd.logits(d, TOKENS),
        steps = fwd.logits(d, TOKENS, { incremental: true }),
        first8 = fwd.logits(d, TOKENS.slice(0, 8));
      let early = 0,
        late = 0;
      for (let i = 0; i < 8 * V; i++) early = Math.max(early, Math.abs(first8[i] - steps[i]));
      for (let i = 8 * V; i < all.length; i++) late = Math.max(late, Math.abs(all[i] - steps[i]));
      assert.ok(early < 1e-4, `first 8 positions: one call over 8 and one token per call differ by ${early}`);
      assert.ok(late > 1e-3, `past 8 the two modes agree (${late}): the base did not grow with the call`);
      const { worst } = compare(first8, referenceLogits(tiny, w, TOKENS.slice(0, 8)), V);
      assert.ok(worst < 2e-5 * 10, `first 8: ${worst}`);
    });

    it('qwen2.5: sliding_window is ignored without use_sliding_window (the reference with it differs)', () => {
      const f = family('qwen2.5-0.5b');
      const d = path.join(dir, 'qwen25-window-off');
      const w = writeTinyModel(d, f.tiny, 11, undefined, f.config);
      const windowed = referenceLogits({ ...f.tiny, slidingWindow: 3 }, w, TOKENS);
      const { worst } = compare(fwd.logits(d, TOKENS), windowed, f.tiny.vocab);
      assert.ok(worst > 1e-3, `the result is that of a window of 3 (${worst})`);
      assert.deepEqual(fwd.config(d).windowLayers, []);
    });

    it('the rotary table at Llama 3.1 / Qwen2.5 / Mistral sizes matches the reference out to 128K positions', () => {
      // head_dim 128 with each family's real rope parameters; one layer, tiny otherwise.
      const cases: [string, TinyConfig, Record<string, unknown> | null][] = [
        [
          'llama3 factor 8 over 8192, theta 500000',
          {
            modelType: 'llama',
            dim: 128,
            hidden: 8,
            layers: 1,
            heads: 1,
            kvHeads: 1,
            vocab: 8,
            ropeTheta: 500000,
            maxPositions: 131072,
            rope: { type: 'llama3', factor: 8, low: 1, high: 4, original: 8192 },
          },
          {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
            rope_type: 'llama3',
          },
        ],
        [
          'yarn factor 4 over 32768, theta 1e6',
          {
            modelType: 'qwen2',
            dim: 128,
            hidden: 8,
            layers: 1,
            heads: 1,
            kvHeads: 1,
            vocab: 8,
            ropeTheta: 1e6,
            bias: true,
            maxPositions: 32768,
            rope: { type: 'yarn', factor: 4, original: 32768 },
          },
          { factor: 4.0, original_max_position_embeddings: 32768, type: 'yarn' },
        ],
        [
          'dynamic factor 4 past 4096, theta 10000',
          {
            modelType: 'llama',
            dim: 128,
            hidden: 8,
            layers: 1,
            heads: 1,
            kvHeads: 1,
            vocab: 8,
            maxPositions: 4096,
            rope: { type: 'dynamic', factor: 4 },
          },
          { factor: 4.0, rope_type: 'dynamic' },
        ],
        [
          'linear factor 8',
          {
            modelType: 'mistral',
            dim: 128,
            hidden: 8,
            layers: 1,
            heads: 1,
            kvHeads: 1,
            vocab: 8,
            maxPositions: 32768,
            rope: { type: 'linear', factor: 8 },
          },
          { factor: 8.0, type: 'linear' },
        ],
        [
          'default theta 10000',
          { modelType: 'mistral', dim: 128, hidden: 8, layers: 1, heads: 1, kvHeads: 1, vocab: 8, maxPositions: 32768 },
          null,
        ],
      ];
      for (const [label, tiny, scaling] of cases) {
        const d = path.join(dir, 'table-' + label.replace(/\W+/g, '-'));
        writeTinyModel(d, tiny, 3);
        if (scaling) {
          const cfgPath = path.join(d, 'config.json');
          const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
          fs.writeFileSync(cfgPath, JSON.stringify({ ...cfg, rope_scaling: scaling }));
        }
        for (const [start, count] of [
          [0, 16],
          [4090, 12],
          [131000, 72],
        ]) {
          const got = fwd.rope(d, start, count);
          const { inv, scale } = referenceRope(tiny, start + count);
          assert.equal(got.invFreq.length, 64);
          for (let i = 0; i < 64; i++)
            assert.ok(
              Math.abs(got.invFreq[i] - inv[i]) <= 1e-12 * inv[i],
              `${label}: inv_freq[${i}] ${got.invFreq[i]} vs ${inv[i]}`,
            );
          for (let p = 0; p < count; p++)
            for (let i = 0; i < 64; i++) {
              const a = (start + p) * inv[i];
              const k = p * 64 + i;
              assert.ok(Math.abs(got.cos[k] - Math.cos(a) * scale) < 1e-6, `${label}: cos at ${start + p}, pair ${i}`);
              assert.ok(Math.abs(got.sin[k] - Math.sin(a) * scale) < 1e-6, `${label}: sin at ${start + p}, pair ${i}`);
            }
        }
      }
    });

    it('the sliding window changes the result (the reference without it differs)', () => {
      const cfg: TinyConfig = {
        modelType: 'mistral',
        dim: 32,
        hidden: 48,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        vocab: 40,
        slidingWindow: 3,
      };
      const d = path.join(dir, 'window3');
      const w = writeTinyModel(d, cfg, 9);
      const tokens = [1, 5, 9, 3, 17, 2, 30, 11];
      const got = fwd.logits(d, tokens);
      const noWindow = referenceLogits({ ...cfg, slidingWindow: undefined }, w, tokens);
      const last = tokens.length - 1;
      let diff = 0;
      for (let v = 0; v < cfg.vocab; v++)
        diff = Math.max(diff, Math.abs(got[last * cfg.vocab + v] - noWindow[last][v]));
      assert.ok(diff > 1e-3, 'window had no effect');
    });

    it('other architectures get an error naming them', () => {
      const d = path.join(dir, 'gpt2');
      writeTinyModel(d, { modelType: 'llama', dim: 16, hidden: 16, layers: 1, heads: 2, kvHeads: 2, vocab: 20 });
      const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      cfg.model_type = 'gpt2';
      cfg.architectures = ['GPT2LMHeadModel'];
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(cfg));
      assert.throws(
        () => fwd.generate(d, [1], 2),
        (e: Error & { code?: string }) =>
          e.code === 'forward/unsupported-architecture' &&
          /model_type "gpt2" \(GPT2LMHeadModel\)/.test(e.message) &&
          /Llama-family/.test(e.message),
      );
    });

    it('config.json numbers beyond a double: 1e400 is refused by its bound, 1e-400 reads as 0', () => {
      const d = path.join(dir, 'range');
      writeTinyModel(d, { modelType: 'llama', dim: 16, hidden: 16, layers: 1, heads: 2, kvHeads: 2, vocab: 20 });
      const file = path.join(d, 'config.json');
      const text = fs.readFileSync(file, 'utf8');
      const base = JSON.parse(text);
      const withValue = (key: string, literal: string) => {
        const o = { ...base, [key]: 12345.5 };
        fs.writeFileSync(file, JSON.stringify(o).replace('12345.5', literal));
      };
      withValue('rope_theta', '1e400');
      assert.throws(
        () => fwd.config(d),
        (e: Error & { code?: string }) =>
          e.code === 'forward/bad-config' && /"rope_theta" must be a positive number/.test(e.message),
      );
      withValue('rms_norm_eps', '1e-400');
      assert.equal(fwd.config(d).normEps, 0);
      withValue('rms_norm_eps', '-0.0000000000001e-400');
      assert.equal(Math.abs(fwd.config(d).normEps as number), 0);
      fs.writeFileSync(file, text);
    });

    it('a missing or misshapen tensor is named; a token outside the vocabulary is refused', () => {
      const cfg: TinyConfig = { modelType: 'llama', dim: 16, hidden: 16, layers: 2, heads: 2, kvHeads: 2, vocab: 20 };
      const d = path.join(dir, 'broken');
      const w = writeTinyModel(d, cfg);
      assert.throws(
        () => fwd.logits(d, [1, 20]),
        (e: Error & { code?: string }) => e.code === 'forward/bad-token' && /token id 20 at position 1/.test(e.message),
      );
      const cut = new Map(w);
      cut.delete('model.layers.1.mlp.up_proj.weight');
      writeTinyModel(d, cfg, 1, cut);
      assert.throws(
        () => fwd.logits(d, [1, 2]),
        (e: Error & { code?: string; tensor?: string }) =>
          e.code === 'forward/missing-tensor' && e.tensor === 'model.layers.1.mlp.up_proj.weight',
      );
      const bad = new Map(w);
      bad.set('model.layers.0.self_attn.k_proj.weight', { shape: [8, 16], data: new Float32Array(128) });
      writeTinyModel(d, cfg, 1, bad);
      assert.throws(
        () => fwd.logits(d, [1, 2]),
        (e: Error & { code?: string }) =>
          e.code === 'forward/shape-mismatch' &&
          /k_proj.weight" has shape \[8, 16\] but the config implies \[16, 16\]/.test(e.message),
      );
      fs.rmSync(path.join(d, 'config.json'));
      assert.throws(
        () => fwd.logits(d, [1, 2]),
        (e: Error & { code?: string }) => e.code === 'forward/no-config',
      );
    });
  });
});
