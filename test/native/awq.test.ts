// method awq (native/src/quant/awq.{h,cc}) on synthetic layers whose inputs have a few
// salient channels: AWQ's output error tr(dW H dW^T), recomputed here in f64 from the
// returned W', is below RTN's; alpha = 0 is RTN bit for bit; the scales follow AWQ's rule
// (recomputed here); one s is shared by the tensors reading the input; the fast path
// (GEMM scoring) chooses what the f64 reference chooses.
import * as assert from 'node:assert/strict';
import { maxOf, minOf } from '../../core/src/arrays';
import { openUniform as rng } from '../../scripts/lib/rng';

interface Cfg {
  format: string;
  group?: number;
  groupKind?: 'size' | 'channel';
  symmetric?: boolean;
  zero?: 'int' | 'f16';
}
interface Choice {
  alpha: number;
  point: number;
  sMin: number;
  sMax: number;
  err: number;
  errRtn: number;
  errs: number[];
  s: Float32Array;
  dequant: Float32Array[];
}
interface Addon {
  awq(
    members: { w: Float32Array; rows: number; config: Cfg }[],
    n: number,
    H: Float64Array,
    meanAbs: Float64Array,
    o?: { grid?: number; threads?: number; reference?: boolean },
  ): Choice;
  quantize(w: Float32Array, rows: number, cols: number, cfg: Cfg & { metrics?: boolean }): { dequant: Float32Array };
}

const addon = require('../../native') as Addon;

function normals(n: number, seed: number, sigma = 1): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sigma * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}
/** Activations X [t, n] with `salient` channels x20, their H = X^T X and mean |x| per channel. */
function layerInput(t: number, n: number, salient: number[], seed: number) {
  const X = normals(t * n, seed);
  for (let r = 0; r < t; r++) for (const c of salient) X[r * n + c] *= 20;
  const H = new Float64Array(n * n),
    m = new Float64Array(n);
  for (let r = 0; r < t; r++)
    for (let i = 0; i < n; i++) {
      const xi = X[r * n + i];
      m[i] += Math.abs(xi) / t;
      for (let j = 0; j < n; j++) H[i * n + j] += xi * X[r * n + j];
    }
  return { H, m };
}
function outErr(w: Float32Array, q: Float32Array, rows: number, n: number, H: Float64Array): number {
  let total = 0;
  const d = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) d[j] = q[r * n + j] - w[r * n + j];
    for (let i = 0; i < n; i++) {
      let hd = 0;
      for (let j = 0; j < n; j++) hd += H[i * n + j] * d[j];
      total += d[i] * hd;
    }
  }
  return total;
}

describe('method awq (native)', () => {
  const n = 128,
    rows = 48;
  const salient = [3, 40, 77, 101];
  const { H, m } = layerInput(256, n, salient, 1);
  const w1 = normals(rows * n, 2, 0.02),
    w2 = normals(rows * n, 3, 0.02);

  for (const cfg of [
    { format: 'int4', group: 32 },
    { format: 'int3', group: 32, symmetric: false, zero: 'int' },
    { format: 'nf4', group: 64 },
  ] as Cfg[]) {
    it(`${cfg.format}${cfg.symmetric === false ? ' asym' : ''} g${cfg.group}: lower output error than RTN with salient input channels, one s for both tensors`, () => {
      const members = [
        { w: w1, rows, config: cfg },
        { w: w2, rows, config: cfg },
      ];
      const c = addon.awq(members, n, H, m, { grid: 20, threads: 2 });
      const rtn = [
        addon.quantize(w1, rows, n, { ...cfg, metrics: false }).dequant,
        addon.quantize(w2, rows, n, { ...cfg, metrics: false }).dequant,
      ];
      const eRtn = outErr(w1, rtn[0], rows, n, H) + outErr(w2, rtn[1], rows, n, H);
      const eAwq = outErr(w1, c.dequant[0], rows, n, H) + outErr(w2, c.dequant[1], rows, n, H);
      assert.ok(c.alpha > 0, `alpha ${c.alpha}`);
      assert.ok(eAwq < 0.9 * eRtn, `output error awq ${eAwq} vs rtn ${eRtn}`);
      assert.ok(Math.abs(c.err / eAwq - 1) < 1e-3, `reported ${c.err} vs recomputed ${eAwq}`);
      assert.ok(Math.abs(c.errRtn / eRtn - 1) < 1e-3, `reported RTN ${c.errRtn} vs recomputed ${eRtn}`);
      assert.equal(c.errs.length, 20);
      assert.equal(c.err, minOf(c.errs));
      // The scales: AWQ's rule at the chosen alpha, shared; the salient channels get the largest.
      const v = Array.from(m, (x) => Math.max(x ** c.alpha, 1e-4));
      const norm = Math.sqrt(maxOf(v) * minOf(v));
      for (let j = 0; j < n; j++) assert.ok(Math.abs(c.s[j] / (v[j] / norm) - 1) < 1e-6, `s[${j}]`);
      const others = maxOf(Array.from(c.s).filter((_, j) => !salient.includes(j)));
      for (const j of salient)
        assert.ok(c.s[j] > 1.5 * others, `salient channel ${j} scaled up: ${c.s[j]} vs ${others} (alpha ${c.alpha})`);
      assert.equal(c.sMax, maxOf(c.s));
    });
  }

  it('alpha = 0 is RTN bit for bit', () => {
    const cfg: Cfg = { format: 'int4', group: 32 };
    const c = addon.awq([{ w: w1, rows, config: cfg }], n, H, m, { grid: 1 });
    assert.equal(c.alpha, 0);
    assert.ok(c.s.every((x) => x === 1));
    assert.deepEqual(
      Buffer.from(c.dequant[0].buffer),
      Buffer.from(addon.quantize(w1, rows, n, { ...cfg, metrics: false }).dequant.buffer),
    );
    assert.equal(c.err, c.errRtn);
  });

  it('the fast path (GEMM scoring) chooses what the f64 reference chooses', () => {
    const cfg: Cfg = { format: 'int4', group: 32, symmetric: false };
    const members = [
      { w: w1, rows, config: cfg },
      { w: w2, rows, config: cfg },
    ];
    const fast = addon.awq(members, n, H, m, { threads: 2 });
    const ref = addon.awq(members, n, H, m, { reference: true });
    assert.equal(fast.point, ref.point);
    for (let k = 0; k < 20; k++)
      assert.ok(Math.abs(fast.errs[k] / ref.errs[k] - 1) < 1e-4, `grid point ${k}: ${fast.errs[k]} vs ${ref.errs[k]}`);
    assert.deepEqual(Buffer.from(fast.dequant[1].buffer), Buffer.from(ref.dequant[1].buffer), "same s: same W'");
  });

  it('refuses a bad grid', () => {
    assert.throws(
      () => addon.awq([{ w: w1, rows, config: { format: 'int4', group: 32 } }], n, H, m, { grid: 0 }),
      /grid must be from 1/,
    );
  });
});
