// method hqq (native/src/quant/hqq.{h,cc}): its pow against Math.pow; the fast path against
// the scalar reference (same stored bytes and reconstruction); the stored form is RTN's
// layout with RTN's scales, the reconstruction decoded here from the stored bytes; the
// loss it minimises (sum |w - w'|^p, computed here in f64) is not above RTN's, and its
// squared error on heavy-tailed weights is reported; refused grids.
import * as assert from 'node:assert/strict';
import { openUniform as rng } from '../../scripts/lib/rng';

interface Stored {
  codes: Uint8Array;
  scales: Uint8Array;
  zeros: Uint8Array;
}
interface Result {
  dequant: Float32Array;
  bytes: Record<string, number>;
  stored: Stored;
}
interface Addon {
  quantize(w: Float32Array, rows: number, cols: number, cfg: Record<string, unknown>): Result;
  hqqPow(a: number, e: number): number;
}

const addon = require('../../native') as Addon;

/** Student-t (nu) weights, std-ish 0.02. */
function studentT(n: number, seed: number, nu = 3): Float32Array {
  const u = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let chi = 0;
    for (let k = 0; k < nu; k++) chi += normal() ** 2;
    w[i] = (0.02 * normal()) / Math.sqrt(chi / nu);
  }
  return w;
}
const loss = (w: Float32Array, q: Float32Array, p: number) => {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += Math.abs(w[i] - q[i]) ** p;
  return s;
};
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
/** b-bit little-endian LSB-first code k of a packed stream. */
function codeAt(bytes: Uint8Array, k: number, b: number): number {
  let v = 0;
  for (let j = 0; j < b; j++) {
    const bit = k * b + j;
    v |= ((bytes[bit >> 3] >> (bit & 7)) & 1) << j;
  }
  return v;
}

describe('method hqq (native)', () => {
  it('pow: a^e within 1e-5 of Math.pow over the float range, 1e-6 for residual-sized a', () => {
    const u = rng(7);
    let worst = 0,
      worstSmall = 0;
    for (let i = 0; i < 20000; i++) {
      const e = Math.fround(-0.95 * u());
      const a = Math.fround(Math.exp(-87 + 175 * u())),
        b = Math.fround(Math.exp(-14 + 14 * u()));
      worst = Math.max(worst, Math.abs(addon.hqqPow(a, e) / a ** e - 1));
      worstSmall = Math.max(worstSmall, Math.abs(addon.hqqPow(b, e) / b ** e - 1));
    }
    assert.ok(worst < 1e-5, `worst relative error ${worst}`);
    assert.ok(worstSmall < 1e-6, `worst relative error on [1e-6, 1]: ${worstSmall}`);
    assert.equal(addon.hqqPow(0.25, 0), 1);
  });

  const cases: [string, Record<string, unknown>, number, number][] = [
    ['int4 g64 zero f16', { format: 'int4', group: 64, zero: 'f16' }, 96, 256],
    ['int3 g37 zero f16 (tails)', { format: 'int3', group: 37, zero: 'f16' }, 40, 100],
    ['int2 channel zero f16 bf16 scale', { format: 'int2', groupKind: 'channel', zero: 'f16', scale: 'bf16' }, 24, 300],
    ['int4 g64 zero int', { format: 'int4', group: 64, zero: 'int' }, 96, 256],
    ['int3 g32 zero int', { format: 'int3', group: 32, zero: 'int' }, 40, 96],
  ];
  for (const [name, cfg, rows, cols] of cases) {
    it(`${name}: fast == reference, RTN's layout and scales, reconstruction decoded from the stored bytes`, () => {
      const w = studentT(rows * cols, rows + cols);
      const base = { ...cfg, symmetric: false, stored: true, metrics: false };
      const fast = addon.quantize(w, rows, cols, { ...base, hqq: { iters: 20 }, threads: 2 });
      const ref = addon.quantize(w, rows, cols, { ...base, hqq: { iters: 20 }, reference: true });
      const rtn = addon.quantize(w, rows, cols, base);
      for (const k of ['codes', 'scales', 'zeros'] as const)
        assert.deepEqual(fast.stored[k], ref.stored[k], `${k}: fast == reference`);
      assert.deepEqual(
        Buffer.from(fast.dequant.buffer),
        Buffer.from(ref.dequant.buffer),
        'reconstruction: fast == reference',
      );
      assert.deepEqual(fast.bytes, rtn.bytes, "byte counts are RTN's");
      assert.deepEqual(fast.stored.scales, rtn.stored.scales, "the scales are RTN's");
      // Decode: w' = s (q - z), f32 steps, from the stored bytes only.
      const b = Number(String(cfg.format).slice(3));
      const group = cfg.groupKind === 'channel' ? cols : (cfg.group as number);
      const gpr = Math.ceil(cols / group);
      const bf16 = cfg.scale === 'bf16';
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const gi = r * gpr + Math.floor(c / group);
          const sh = fast.stored.scales[2 * gi] | (fast.stored.scales[2 * gi + 1] << 8);
          const s = bf16 ? new Float32Array(new Uint32Array([sh << 16]).buffer)[0] : f16Value(sh);
          const z =
            cfg.zero === 'int'
              ? codeAt(fast.stored.zeros, gi, b)
              : f16Value(fast.stored.zeros[2 * gi] | (fast.stored.zeros[2 * gi + 1] << 8));
          const q = codeAt(fast.stored.codes, r * cols + c, b);
          assert.equal(fast.dequant[r * cols + c], Math.fround(Math.fround(q - z) * s), `[${r}, ${c}]`);
        }
    });
  }

  it("lowers the |e|^0.7 loss below RTN's on heavy-tailed weights (zero f16), never raises it (zero int); squared error reported", () => {
    const rows = 256,
      cols = 512;
    const w = studentT(rows * cols, 11);
    const lines: string[] = [];
    for (const [format, zero] of [
      ['int4', 'f16'],
      ['int3', 'f16'],
      ['int2', 'f16'],
      ['int4', 'int'],
      ['int2', 'int'],
    ]) {
      const base = { format, group: 64, symmetric: false, zero, metrics: false };
      const rtn = addon.quantize(w, rows, cols, base).dequant;
      const hqq = addon.quantize(w, rows, cols, { ...base, hqq: {} }).dequant;
      const lr = loss(w, rtn, 0.7),
        lh = loss(w, hqq, 0.7);
      const l2 = loss(w, hqq, 2) / loss(w, rtn, 2);
      lines.push(
        `${format} g64 zero ${zero}: |e|^0.7 loss hqq/rtn ${(lh / lr).toFixed(4)}, squared error hqq/rtn ${l2.toFixed(4)}`,
      );
      // Per group the loss cannot rise (RTN's zero is the first iterate); f64 here vs the
      // kernel's polynomial pow: a relative slack of 1e-5.
      assert.ok(lh <= lr * (1 + 1e-5), `${format} zero ${zero}: hqq ${lh} > rtn ${lr}`);
      if (zero === 'f16') assert.ok(lh < lr * 0.995, `${format} zero f16: hqq should lower the loss (${lh} vs ${lr})`);
    }
    console.log(`      Student-t(3) ${rows}x${cols}:\n${lines.map((l) => `        ${l}`).join('\n')}`);
  });

  it('more iterations do not raise the loss; lp_norm 1 runs', () => {
    const w = studentT(64 * 256, 5);
    const base = { format: 'int4', group: 64, symmetric: false, zero: 'f16', metrics: false };
    const l = (h: Record<string, number>) => loss(w, addon.quantize(w, 64, 256, { ...base, hqq: h }).dequant, 0.7);
    assert.ok(l({ iters: 20 }) <= l({ iters: 1 }) * (1 + 1e-5));
    const l1 = addon.quantize(w, 64, 256, { ...base, hqq: { lpNorm: 1 } }).dequant;
    assert.ok(loss(w, l1, 1) <= loss(w, addon.quantize(w, 64, 256, base).dequant, 1) * (1 + 1e-5));
  });

  it("composes with clip mse (loss not above clip's), outliers, lowrank, rotate and group tensor: fast == reference", () => {
    const rows = 32,
      cols = 128;
    const w = studentT(rows * cols, 21);
    const base = { format: 'int4', group: 32, symmetric: false, zero: 'f16', metrics: false, stored: true };
    for (const extra of [
      { clip: 'mse' },
      { outliers: 20 },
      { lowrank: 4 },
      { rotate: 'hadamard', seed: 3 },
      { groupKind: 'tensor' },
    ] as Record<string, unknown>[]) {
      const cfg = { ...base, ...extra, hqq: { iters: 20 } };
      const fast = addon.quantize(w, rows, cols, { ...cfg, threads: 2 });
      const ref = addon.quantize(w, rows, cols, { ...cfg, reference: true });
      const what = JSON.stringify(extra);
      for (const k of ['codes', 'scales', 'zeros'] as const)
        assert.deepEqual(fast.stored[k], ref.stored[k], `${what}: ${k}`);
      assert.deepEqual(Buffer.from(fast.dequant.buffer), Buffer.from(ref.dequant.buffer), what);
      assert.deepEqual(
        fast.bytes,
        addon.quantize(w, rows, cols, { ...base, ...extra }).bytes,
        `${what}: RTN's byte counts`,
      );
    }
    const clip = addon.quantize(w, rows, cols, { ...base, clip: 'mse' });
    const clipHqq = addon.quantize(w, rows, cols, { ...base, clip: 'mse', hqq: {} });
    assert.deepEqual(clipHqq.stored.scales, clip.stored.scales, "the clip search's scales");
    assert.ok(loss(w, clipHqq.dequant, 0.7) <= loss(w, clip.dequant, 0.7) * (1 + 1e-5));
  });

  it('refuses symmetric grids, non-int formats and bad options', () => {
    const w = studentT(64, 1);
    assert.throws(() => addon.quantize(w, 1, 64, { format: 'int4', hqq: {} }), /symmetric grid does not have/);
    assert.throws(
      () => addon.quantize(w, 1, 64, { format: 'nf4', symmetric: false, hqq: {} }),
      /int2\.\.int8 grids, not nf4/,
    );
    assert.throws(
      () => addon.quantize(w, 1, 64, { format: 'int4', symmetric: false, hqq: { lpNorm: 1.5 } }),
      /lp_norm/,
    );
    assert.throws(() => addon.quantize(w, 1, 64, { format: 'int4', symmetric: false, hqq: { kappa: 0.5 } }), /kappa/);
  });
});
