import { strict as assert } from 'node:assert';
import { FORMAT_BY_NAME } from '../../core/src/language/formats';
import { bpwFormula, tensorBytes, type QuantConfig } from '../../core/src/analysis/bits';

const cfg = (format: string, over: Partial<QuantConfig> = {}): QuantConfig => ({
  format: FORMAT_BY_NAME.get(format)!,
  group: 128,
  groupKind: 'size',
  symmetric: true,
  scale: 'f16',
  zero: 'f16',
  outliers: 0,
  lowrank: 0,
  ...over,
});
const bpw = (m: number, n: number, c: QuantConfig) => (8 * tensorBytes(m, n, c).total) / (m * n);
const M = 4096;

describe('bit accounting', () => {
  it('int4 g128 asymmetric with f16 scale and zero is 4.25 bpw', () => {
    assert.equal(bpw(M, M, cfg('int4', { symmetric: false })), 4.25);
  });
  it('int4 g128 symmetric is 4.125 bpw', () => {
    assert.equal(bpw(M, M, cfg('int4')), 4.125);
  });
  it('int4 g128 asymmetric with an int zero point is 4 + (16+4)/128', () => {
    assert.equal(bpw(M, M, cfg('int4', { symmetric: false, zero: 'int' })), 4 + 20 / 128);
  });
  it('ggml fixed sizes: q4_k 4.5, q6_k 6.5625, and the rest of the table', () => {
    const expected: Record<string, number> = {
      q4_0: 4.5,
      q4_1: 5,
      q5_0: 5.5,
      q5_1: 6,
      q8_0: 8.5,
      q2_k: 2.625,
      q3_k: 3.4375,
      q4_k: 4.5,
      q5_k: 5.5,
      q6_k: 6.5625,
      iq4_nl: 4.5,
      iq4_xs: 4.25,
      iq3_s: 3.4375,
      iq3_xxs: 3.0625,
      iq2_s: 2.5625,
      iq2_xs: 2.3125,
      iq2_xxs: 2.0625,
      iq1_m: 1.75,
      iq1_s: 1.5625,
      tq2_0: 2.0625,
      tq1_0: 1.6875,
    };
    for (const [name, v] of Object.entries(expected)) assert.equal(bpw(M, M, cfg(name)), v, name);
  });
  it('microscaled formats: mxfp4 4.25, mxfp8 8.25, nvfp4 4.5 plus one f32 per tensor', () => {
    assert.equal(bpw(M, M, cfg('mxfp4')), 4.25);
    assert.equal(bpw(M, M, cfg('mxfp8')), 8.25);
    assert.equal(tensorBytes(M, M, cfg('nvfp4')).total, (M * M * 4.5) / 8 + 4);
  });
  it('nf4/fp4 4 + s/g, fp8 8 + s/g, binary 1 + s/g, ternary 1.6 + s/g', () => {
    assert.equal(bpw(M, M, cfg('nf4', { group: 64 })), 4.25);
    assert.equal(bpw(M, M, cfg('fp4', { group: 32, scale: 'bf16' })), 4.5);
    assert.equal(bpw(M, M, cfg('fp8_e4m3', { groupKind: 'channel', group: M })), 8 + 16 / M);
    assert.equal(bpw(M, M, cfg('binary')), 1.125);
    assert.equal(bpw(100, 1280, cfg('ternary')), 1.6 + 16 / 128);
  });
  it('outliers 1% adds 0.48 bpw', () => {
    const n = 100 * 128; // 1% of this is a whole number of weights
    const base = tensorBytes(100, 128, cfg('int4')).total;
    const withOutliers = tensorBytes(100, 128, cfg('int4', { outliers: n / 100 })).total;
    assert.equal((8 * (withOutliers - base)) / n, 0.48);
  });
  it('lowrank 16 on 4096x4096 adds 0.125 bpw', () => {
    assert.equal(bpw(M, M, cfg('int4', { lowrank: 16 })) - bpw(M, M, cfg('int4')), 0.125);
  });
  it('group tensor stores one scale; group channel one per row', () => {
    assert.equal(tensorBytes(64, 128, cfg('int8', { groupKind: 'tensor', group: 64 * 128 })).scales, 2);
    assert.equal(tensorBytes(64, 128, cfg('int8', { groupKind: 'channel', group: 128 })).scales, 128);
  });
  it('rounds packed codes up to whole bytes: 3 x 3 int3 is 27 bits = 4 bytes', () => {
    assert.equal(tensorBytes(3, 3, cfg('int3', { group: 3 })).codes, 4);
  });
  it('explains the figure: 4 + (16+16)/128 = 4.25 bpw', () => {
    const c = cfg('int4', { symmetric: false });
    assert.equal(bpwFormula(M, M, c, tensorBytes(M, M, c)), '4 + (16+16)/128 = 4.25 bpw');
    const k = cfg('q4_k');
    assert.equal(bpwFormula(M, M, k, tensorBytes(M, M, k)), '144*8/256 = 4.5 bpw');
    const partial = cfg('int4', { group: 128 });
    assert.equal(bpwFormula(64, 172, partial, tensorBytes(64, 172, partial)), '4 + 16*2/172 = 4.186 bpw');
  });
});
