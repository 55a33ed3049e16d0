// native/src/quant/gptq.cc: its reference path (the spec) against a straightforward,
// unoptimised GPTQ written here (explicit Gauss-Jordan inverse of the damped Hessian, its
// upper Cholesky factor, one column at a time with an immediate update of every later
// column, f64), on several grids, with and without act_order (static groups); the fast
// path (f32, blocked, GEMM) against the reference on many shapes, grids and options (codes
// identical but for rare near-ties, output error within a small tolerance); the stored
// form decoded here equals the reconstruction for every grid GPTQ runs on; then GPTQ's
// output error against RTN's on heavy-tailed weights with outlier input channels, and
// act_order's gain there.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { minOf } from '../../core/src/arrays';
import { mulberry32 as rng } from '../../scripts/lib/rng';

interface Cfg {
  format: string;
  group?: number;
  groupKind?: 'size' | 'channel';
  symmetric?: boolean;
  scale?: 'f16' | 'bf16' | 'f32' | 'e8m0' | 'e4m3';
  zero?: 'int' | 'f16';
  clip?: 'mse';
}
interface Opts {
  damp?: number;
  block?: number;
  actOrder?: boolean;
  threads?: number;
  reference?: boolean;
}
interface Stored {
  codes: Uint8Array;
  scales: Uint8Array;
  zeros: Uint8Array;
  extra: Uint8Array;
}
interface Detail {
  dequant: Float32Array;
  stored: Stored;
  times: { hessian: number; pass: number };
}
interface Addon {
  gptq(W: Float32Array, rows: number, cols: number, H: Float64Array, cfg: Cfg, o?: Opts): Float32Array;
  gptq(W: Float32Array, rows: number, cols: number, H: Float64Array, cfg: Cfg, o: Opts & { detail: true }): Detail;
  grid(name: 'nf4' | 'fp4'): number[];
  ggmlDecode(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array;
  quantize(
    W: Float32Array,
    rows: number,
    cols: number,
    cfg: Cfg & { metrics?: boolean; importance?: Float32Array },
  ): { dequant: Float32Array };
  f16Round(x: number): number;
}
const addon = require(path.resolve(__dirname, '..', '..', 'native')) as Addon;

/** Heavy-tailed values: a Student-t(3)-like ratio of a normal to a chi. */
function heavy(n: number, seed: number, scale = 0.02): Float32Array {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const chi = Math.sqrt((normal() ** 2 + normal() ** 2 + normal() ** 2) / 3);
    out[i] = (scale * normal()) / chi;
  }
  return out;
}
/** H = X^T X for correlated activations X = Z M [t, n] (heavy-tailed Z, a random mixing
 * M with a shared component, as real layer inputs have) with a few outlier input channels (x10). */
function hessian(t: number, n: number, seed: number, outliers: number[]): Float64Array {
  const Z = heavy(t * n, seed, 1),
    M = heavy(n * n, seed + 1, 1 / Math.sqrt(n));
  const X = new Float64Array(t * n);
  for (let r = 0; r < t; r++)
    for (let k = 0; k < n; k++) {
      const z = Z[r * n + k];
      for (let c = 0; c < n; c++) X[r * n + c] += z * (M[k * n + c] + (k === 0 ? 1 : 0));
    }
  for (let r = 0; r < t; r++) for (const c of outliers) X[r * n + c] *= 10;
  const H = new Float64Array(n * n);
  for (let r = 0; r < t; r++)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j] += X[r * n + i] * X[r * n + j];
  return H;
}

const f = Math.fround;
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** The int grid of quant/int.cc, in f32 steps as the C++ does them. */
function grid(cfg: Cfg) {
  const b = Number(cfg.format.slice(3));
  const qmax = 2 ** b - 1,
    sym = cfg.symmetric ?? true,
    zint = (cfg.zero ?? 'f16') === 'int';
  const store = (s: number) => ((cfg.scale ?? 'f16') === 'f16' ? addon.f16Round(s) : f(s));
  return {
    fit(mn: number, mx: number) {
      if (sym) {
        const s = store(f(Math.max(-mn, mx) / (qmax / 2)));
        return { s, inv: s > 0 ? f(1 / s) : 0, z: 0 };
      }
      const lo = Math.min(mn, 0),
        hi = Math.max(mx, 0);
      const s = store(f(f(hi - lo) / qmax));
      let z = 0;
      if (s > 0) {
        const zr = f(-lo / s);
        z = zint ? Math.min(Math.max(rint(zr), 0), qmax) : addon.f16Round(zr);
      }
      return { s, inv: s > 0 ? f(1 / s) : 0, z };
    },
    quant(g: { s: number; inv: number; z: number }, w: number) {
      let t = f(f(w) * g.inv);
      if (!sym && !zint) t = f(t + g.z);
      let r = rint(t);
      if (!sym && zint) r += g.z;
      r = Math.min(Math.max(r, sym ? -(2 ** (b - 1)) : 0), sym ? 2 ** (b - 1) - 1 : qmax);
      return sym ? f(g.s * r) : f(g.s * f(r - g.z));
    },
  };
}

function inverse(A: Float64Array, n: number): Float64Array {
  const M = Array.from({ length: n }, (_, i) => [
    ...Array.from(A.subarray(i * n, (i + 1) * n)),
    ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  ]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const d = M[c][c];
    for (let j = 0; j < 2 * n; j++) M[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const k = M[r][c];
      for (let j = 0; j < 2 * n; j++) M[r][j] -= k * M[c][j];
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = M[i][n + j];
  return out;
}
function upperCholesky(A: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] ** 2;
    L[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / L[j * n + j];
    }
  }
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) U[i * n + j] = L[j * n + i];
  return U;
}

function gptqReference(
  W: Float32Array,
  rows: number,
  n: number,
  H0: Float64Array,
  cfg: Cfg,
  damp: number,
  actOrder: boolean,
): Float32Array {
  const g = grid(cfg);
  const gs = cfg.groupKind === 'channel' ? n : Math.min(cfg.group ?? 128, n);
  const H = Float64Array.from(H0);
  const dead = new Set<number>();
  for (let j = 0; j < n; j++)
    if (H[j * n + j] === 0) {
      H[j * n + j] = 1;
      dead.add(j);
    }
  const perm = Array.from({ length: n }, (_, i) => i);
  if (actOrder) perm.sort((a, b) => H[b * n + b] - H[a * n + a]);
  const Hp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Hp[i * n + j] = H[perm[i] * n + perm[j]];
  let mean = 0;
  for (let j = 0; j < n; j++) mean += Hp[j * n + j];
  for (let j = 0; j < n; j++) Hp[j * n + j] += (damp * mean) / n;
  const U = upperCholesky(inverse(Hp, n), n);
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const orig = Array.from({ length: n }, (_, c) => (dead.has(c) ? 0 : W[r * n + c]));
    const w = perm.map((c) => orig[c]);
    const grids: ReturnType<typeof g.fit>[] = [];
    const fitGroup = (gi: number, value: (c: number) => number) => {
      let mn = Infinity,
        mx = -Infinity;
      for (let c = gi * gs; c < Math.min(n, (gi + 1) * gs); c++) {
        mn = Math.min(mn, value(c));
        mx = Math.max(mx, value(c));
      }
      grids[gi] = g.fit(mn, mx);
    };
    if (actOrder) for (let gi = 0; gi * gs < n; gi++) fitGroup(gi, (c) => orig[c]);
    for (let j = 0; j < n; j++) {
      const c = perm[j];
      if (!actOrder && c % gs === 0) fitGroup(c / gs, (k) => f(w[k]));
      const q = g.quant(grids[Math.floor(c / gs)], w[j]);
      out[r * n + c] = q;
      const e = (w[j] - q) / U[j * n + j];
      for (let k = j + 1; k < n; k++) w[k] -= e * U[j * n + k];
    }
  }
  return out;
}

/** tr(dW H dW^T). */
function outputError(W: Float32Array, Q: Float32Array, rows: number, n: number, H: Float64Array): number {
  let s = 0;
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < n; i++) {
      const di = Q[r * n + i] - W[r * n + i];
      if (di === 0) continue;
      for (let j = 0; j < n; j++) s += di * H[i * n + j] * (Q[r * n + j] - W[r * n + j]);
    }
  return s;
}

describe('native GPTQ', () => {
  const cases: [string, Cfg, { damp?: number; block?: number; actOrder?: boolean }][] = [
    ['int4 sym g8, block 5', { format: 'int4', group: 8, scale: 'f32' }, { block: 5 }],
    [
      'int4 sym g8, act_order (static groups), block 7',
      { format: 'int4', group: 8, scale: 'f32' },
      { block: 7, actOrder: true },
    ],
    [
      'int3 asym int zero g12, f16 scales',
      { format: 'int3', group: 12, symmetric: false, zero: 'int', scale: 'f16' },
      { block: 16, damp: 0.05 },
    ],
    [
      'int4 asym f16 zero, channel, act_order',
      { format: 'int4', groupKind: 'channel', symmetric: false, zero: 'f16', scale: 'f16' },
      { block: 128, actOrder: true },
    ],
    ['int8 sym g16, block 1', { format: 'int8', group: 16, scale: 'f32' }, { block: 1 }],
  ];
  for (const [label, cfg, o] of cases) {
    it(`equals the straightforward implementation: ${label}`, () => {
      const rows = 12,
        n = 24;
      const W = heavy(rows * n, label.length);
      const H = hessian(64, n, 7, [3, 17]);
      // One dead input channel (never active): its weights must come out as 0.
      for (let i = 0; i < n; i++) {
        H[5 * n + i] = 0;
        H[i * n + 5] = 0;
      }
      const want = gptqReference(W, rows, n, H, cfg, o.damp ?? 0.01, !!o.actOrder);
      for (const threads of [1, 2]) {
        const got = addon.gptq(W, rows, n, H, cfg, { ...o, threads, reference: true });
        let worst = 0;
        for (let i = 0; i < rows * n; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        assert.ok(worst <= 1e-7, `${threads} threads: max |diff| ${worst}`);
        // A dead input channel's weights become 0 before quantizing (exactly 0 on symmetric grids
        // and grids with an integer zero).
        if ((cfg.symmetric ?? true) || cfg.zero === 'int')
          for (let r = 0; r < rows; r++) assert.equal(got[r * n + 5], 0, 'dead column');
      }
    });
  }

  it('a layer large enough for the parallel Cholesky and the blocked inverse equals the reference, at any thread count', () => {
    const rows = 4,
      n = 400;
    const W = heavy(rows * n, 21);
    const H = hessian(450, n, 22, [7, 300]);
    const cfg: Cfg = { format: 'int4', group: 100, scale: 'f32' };
    const want = gptqReference(W, rows, n, H, cfg, 0.01, false);
    const one = addon.gptq(W, rows, n, H, cfg, { block: 64, threads: 1, reference: true });
    assert.deepEqual(addon.gptq(W, rows, n, H, cfg, { block: 64, threads: 2, reference: true }), one);
    let worst = 0;
    for (let i = 0; i < rows * n; i++) worst = Math.max(worst, Math.abs(one[i] - want[i]));
    assert.ok(worst <= 1e-7, `max |diff| ${worst}`);
  });

  it('beats RTN in output error on heavy-tailed weights with outlier input channels; act_order helps', () => {
    const rows = 64,
      n = 128;
    const W = heavy(rows * n, 3);
    const H = hessian(512, n, 11, [5, 40, 77, 100]);
    const cfg: Cfg = { format: 'int4', group: 32, scale: 'f16' };
    const rtn = addon.quantize(W, rows, n, { ...cfg, metrics: false }).dequant;
    const e0 = outputError(W, rtn, rows, n, H);
    const e1 = outputError(W, addon.gptq(W, rows, n, H, cfg), rows, n, H);
    const e2 = outputError(W, addon.gptq(W, rows, n, H, cfg, { actOrder: true }), rows, n, H);
    assert.ok(e1 < 0.8 * e0, `gptq ${e1} vs rtn ${e0}`);
    assert.ok(e2 < e1, `act_order ${e2} vs plain gptq ${e1}`);
    // The result lies on an int4 grid per group: at most 16 distinct values, equally spaced.
    const q = addon.gptq(W, rows, n, H, cfg);
    for (let r = 0; r < rows; r++)
      for (let g0 = 0; g0 < n; g0 += 32) {
        const vals = [...new Set(Array.from(q.subarray(r * n + g0, r * n + g0 + 32)))].sort((a, b) => a - b);
        assert.ok(vals.length <= 16, `row ${r} group ${g0 / 32}: ${vals.length} levels`);
        const step = minOf(vals.slice(1).map((v, i) => v - vals[i]));
        for (const v of vals)
          assert.ok(
            Math.abs(v / step - Math.round(v / step)) < 1e-3,
            `row ${r} group ${g0 / 32}: ${v} is not a multiple of ${step}`,
          );
      }
  });

  it('refuses what it does not run', () => {
    const W = new Float32Array(64),
      H = new Float64Array(64 * 64);
    for (let i = 0; i < 64; i++) H[i * 64 + i] = 1;
    assert.throws(
      () => addon.gptq(W, 1, 64, H, { format: 'ternary' }),
      /gptq runs on the int2\.\.int8, nf4, fp4, fp8, mxfp4\/mxfp8\/nvfp4 grids and the ggml blocks here, not ternary/,
    );
    const eye = (n: number) => new Float64Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    assert.throws(
      () => addon.gptq(new Float32Array(256), 1, 256, eye(256), { format: 'iq2_s' }, { actOrder: true }),
      /quantizes iq2_s in groups of 8 columns at once.*act_order does not combine with it/,
    );
    assert.throws(
      () => addon.gptq(new Float32Array(80), 2, 40, eye(40), { format: 'q4_0' }),
      /blocks of 32 weights: a row of 40/,
    );
    const bad = Float32Array.from(W);
    bad[3] = NaN;
    for (const reference of [false, true])
      assert.throws(() => addon.gptq(bad, 1, 64, H, { format: 'int4', group: 16 }, { reference }), /non-finite weight/);
    const notPd = new Float64Array(64 * 64);
    for (let i = 0; i < 64; i++) notPd[i * 64 + i] = i === 5 ? -1 : 1;
    for (const reference of [false, true])
      assert.throws(
        () => addon.gptq(W, 1, 64, notPd, { format: 'int4' }, { damp: 0, reference }),
        /not positive definite/,
      );
  });

  /** Unpacks `count` b-bit codes (LSB first). */
  function codesOf(bytes: Uint8Array, count: number, bits: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      let v = 0;
      for (let b = 0; b < bits; b++) {
        const bit = i * bits + b;
        v |= ((bytes[bit >> 3] >> (bit & 7)) & 1) << b;
      }
      out.push(v);
    }
    return out;
  }
  const BITS: Record<string, number> = { nf4: 4, fp4: 4, mxfp4: 4, nvfp4: 4, fp8_e4m3: 8, fp8_e5m2: 8, mxfp8: 8 };
  const bitsOf = (format: string) => BITS[format] ?? Number(format.slice(3));

  describe('the fast path (f32, blocked) against the reference path', () => {
    const shapes: [string, number, number, Cfg, Opts][] = [
      ['int4 sym g32, block 64', 48, 256, { format: 'int4', group: 32, scale: 'f16' }, { block: 64 }],
      ['int4 sym g32, act_order', 48, 256, { format: 'int4', group: 32, scale: 'f16' }, { block: 64, actOrder: true }],
      [
        'ragged: int3 asym int zero g48 over 200 columns, 37 rows, block 40',
        37,
        200,
        { format: 'int3', group: 48, symmetric: false, zero: 'int' },
        { block: 40 },
      ],
      [
        'ragged: int4 asym f16 zero g100, block 128 (blocks end at group starts)',
        19,
        333,
        { format: 'int4', group: 100, symmetric: false, zero: 'f16' },
        { block: 128 },
      ],
      [
        'group larger than the block: int8 g192, block 64',
        24,
        384,
        { format: 'int8', group: 192, scale: 'f32' },
        { block: 64 },
      ],
      [
        'channel, act_order',
        30,
        160,
        { format: 'int4', groupKind: 'channel', scale: 'f32' },
        { actOrder: true, block: 32 },
      ],
      ['clip mse, int4 g64', 32, 256, { format: 'int4', group: 64, clip: 'mse' }, {}],
      ['nf4 g64', 40, 320, { format: 'nf4', group: 64 }, { block: 128 }],
      ['fp4 g32, bf16 scales, act_order', 40, 256, { format: 'fp4', group: 32, scale: 'bf16' }, { actOrder: true }],
      ['fp8_e4m3 channel', 24, 200, { format: 'fp8_e4m3', groupKind: 'channel' }, {}],
      ['fp8_e5m2 g128', 24, 256, { format: 'fp8_e5m2', group: 128 }, {}],
      ['mxfp4 (blocks of 32), ragged row', 33, 250, { format: 'mxfp4' }, {}],
      ['mxfp8, act_order', 20, 256, { format: 'mxfp8' }, { actOrder: true }],
      ['nvfp4 (blocks of 16)', 40, 256, { format: 'nvfp4' }, { block: 48 }],
    ];
    for (const [label, rows, n, cfg, o] of shapes) {
      it(label, () => {
        const W = heavy(rows * n, rows + n);
        const H = hessian(Math.max(64, n + 16), n, 5, [2, n - 7]);
        for (let i = 0; i < n; i++) {
          H[9 * n + i] = 0;
          H[i * n + 9] = 0;
        } // one dead input
        const ref = addon.gptq(W, rows, n, H, cfg, { ...o, reference: true, detail: true });
        const fast = addon.gptq(W, rows, n, H, cfg, { ...o, threads: 2, detail: true });
        const one = addon.gptq(W, rows, n, H, cfg, { ...o, threads: 1 });
        assert.deepEqual(one, fast.dequant, 'the fast path does not depend on the thread count');
        const b = bitsOf(cfg.format);
        const a = codesOf(ref.stored.codes, rows * n, b),
          c = codesOf(fast.stored.codes, rows * n, b);
        let same = 0;
        for (let i = 0; i < a.length; i++) if (a[i] === c[i]) same++;
        assert.ok(same >= 0.995 * a.length, `${a.length - same} of ${a.length} codes differ`);
        const eRef = outputError(W, ref.dequant, rows, n, H),
          eFast = outputError(W, fast.dequant, rows, n, H);
        assert.ok(Math.abs(eFast - eRef) <= 0.01 * eRef, `output error: fast ${eFast}, reference ${eRef}`);
        assert.equal(fast.stored.scales.length, ref.stored.scales.length);
        assert.equal(fast.stored.zeros.length, ref.stored.zeros.length);
        assert.deepEqual(fast.stored.extra, ref.stored.extra);
      });
    }
  });

  describe('ggml blocks (q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k)', () => {
    const f16 = (b: Uint8Array, o: number) => {
      const h = b[o] | (b[o + 1] << 8);
      const e = (h >> 10) & 31,
        m = h & 1023,
        s = h & 0x8000 ? -1 : 1;
      return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
    };
    const BYTES: Record<string, number> = { q8_0: 34, q4_0: 18, q4_1: 20, q5_0: 22, q5_1: 24 };
    const KBYTES: Record<string, number> = { q4_k: 144, q5_k: 176, q6_k: 210 };
    /** The public block layouts, decoded here. */
    function decode(format: string, b: Uint8Array, count: number): Float32Array {
      const out = new Float32Array(count);
      for (let k = 0; k < count / 32; k++) {
        const o = k * BYTES[format],
          d = f16(b, o);
        for (let i = 0; i < 32; i++) {
          let v: number;
          if (format === 'q8_0') v = f(d * ((b[o + 2 + i] << 24) >> 24));
          else {
            const min = format.endsWith('_1'),
              q0 = o + (min ? 4 : 2) + (format.startsWith('q5') ? 4 : 0);
            let l = i < 16 ? b[q0 + i] & 15 : b[q0 + i - 16] >> 4;
            if (format.startsWith('q5')) {
              const hb = o + (min ? 4 : 2);
              l |= ((b[hb + (i >> 3)] >> (i & 7)) & 1) << 4;
            }
            v = min ? f(f(d * l) + f16(b, o + 2)) : f(d * (l - (format === 'q4_0' ? 8 : 16)));
          }
          out[k * 32 + i] = v;
        }
      }
      return out;
    }
    for (const format of ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q4_k', 'q5_k', 'q6_k'])
      it(`${format}: blocks decode to the reconstruction, the fast path agrees with the reference, and beats RTN`, () => {
        const k = format.endsWith('_k');
        const rows = k ? 12 : 21,
          n = k ? 512 : 192;
        const W = heavy(rows * n, 31);
        const H = hessian(256, n, 12, [3, 100]);
        const rtn = addon.quantize(W, rows, n, { format, metrics: false }).dequant;
        for (const actOrder of [false, true]) {
          const ref = addon.gptq(W, rows, n, H, { format }, { actOrder, block: 64, reference: true, detail: true });
          const fast = addon.gptq(W, rows, n, H, { format }, { actOrder, block: 64, threads: 2, detail: true });
          for (const r of [ref, fast]) {
            // The 32-weight blocks are decoded here; the k-quants by the addon's reference decoder.
            if (k) assert.equal(r.stored.codes.length, ((rows * n) / 256) * KBYTES[format]);
            else assert.equal(r.stored.codes.length, ((rows * n) / 32) * BYTES[format]);
            assert.deepEqual(
              k ? addon.ggmlDecode(format, r.stored.codes, rows, n) : decode(format, r.stored.codes, rows * n),
              r.dequant,
              'the blocks decode to the reconstruction',
            );
          }
          // Whole blocks (256 weights for the k-quants) may flip where the block's scale search
          // meets a near-tie (f32 against f64 weights); the values mostly agree.
          let same = 0;
          for (let i = 0; i < rows * n; i++) if (ref.dequant[i] === fast.dequant[i]) same++;
          assert.ok(same >= (k ? 0.8 : 0.95) * rows * n, `${rows * n - same} values differ`);
          if (actOrder) assert.equal(same, rows * n, 'static blocks: no search near-ties');
          const eRef = outputError(W, ref.dequant, rows, n, H),
            eFast = outputError(W, fast.dequant, rows, n, H);
          assert.ok(Math.abs(eFast - eRef) <= 0.02 * eRef, `output error: fast ${eFast}, reference ${eRef}`);
          assert.ok(eFast < 0.9 * outputError(W, rtn, rows, n, H), 'gptq beats RTN');
        }
      });
  });

  // The types gptq reached last: the k-quants q2_k, q3_k, iq4_xs (sub-block scales), iq4_nl,
  // the ternary tq1_0 / tq2_0, and the i-quants, whose groups of 8 columns are one lattice
  // point, quantized together (no act_order). RTN here is the importance-weighted encoder
  // with diag(H) as importance (what a calibrated rtn run does).
  describe('ggml blocks: the k-quants q2_k, q3_k, iq4_xs, iq4_nl, ternary and i-quants', () => {
    const rows = 12,
      n = 512;
    const W = heavy(rows * n, 31);
    const H = hessian(256, n, 12, [3, 100]);
    const diagH = new Float32Array(n).map((_, i) => H[i * n + i]);
    const JOINT = new Set(['iq2_xxs', 'iq2_xs', 'iq2_s', 'iq3_xxs', 'iq3_s', 'iq1_s', 'iq1_m']);
    const BLOCKS: Record<string, [number, number]> = {
      q2_k: [256, 84],
      q3_k: [256, 110],
      iq4_xs: [256, 136],
      iq4_nl: [32, 18],
      tq1_0: [256, 54],
      tq2_0: [256, 66],
      iq2_xxs: [256, 66],
      iq2_xs: [256, 74],
      iq2_s: [256, 82],
      iq3_xxs: [256, 98],
      iq3_s: [256, 110],
      iq1_s: [256, 50],
      iq1_m: [256, 56],
    };
    for (const format of [
      'q2_k',
      'q3_k',
      'iq4_xs',
      'iq4_nl',
      'tq1_0',
      'tq2_0',
      'iq2_xxs',
      'iq2_xs',
      'iq2_s',
      'iq3_xxs',
      'iq3_s',
      'iq1_s',
      'iq1_m',
    ])
      it(`${format}: the blocks decode to the reconstruction, fast agrees with the reference, and beats RTN`, () => {
        const rtn = outputError(
          W,
          addon.quantize(W, rows, n, { format, metrics: false, importance: diagH }).dequant,
          rows,
          n,
          H,
        );
        // Blocks of 60 columns: a block boundary that would split a group of 8 moves down to one that does not.
        const variants: Opts[] = JOINT.has(format)
          ? [{ block: 64 }, { block: 60 }]
          : [{ block: 64 }, { block: 64, actOrder: true }];
        for (const o of variants) {
          const ref = addon.gptq(W, rows, n, H, { format }, { ...o, reference: true, detail: true });
          const fast = addon.gptq(W, rows, n, H, { format }, { ...o, threads: 2, detail: true });
          for (const r of [ref, fast]) {
            const [bw, bb] = BLOCKS[format];
            assert.equal(r.stored.codes.length, ((rows * n) / bw) * bb, 'whole blocks');
            assert.deepEqual(
              addon.ggmlDecode(format, r.stored.codes, rows, n),
              r.dequant,
              'the blocks decode to the reconstruction',
            );
          }
          const eRef = outputError(W, ref.dequant, rows, n, H),
            eFast = outputError(W, fast.dequant, rows, n, H);
          assert.ok(
            Math.abs(eFast - eRef) <= 0.05 * eRef,
            `${JSON.stringify(o)}: output error fast ${eFast}, reference ${eRef}`,
          );
          assert.ok(
            eRef < 0.5 * rtn && eFast < 0.5 * rtn,
            `${JSON.stringify(o)}: gptq ${eRef} / ${eFast} vs rtn ${rtn}`,
          );
        }
      });
  });

  describe('the stored form', () => {
    const f16 = (h: number) => {
      const e = (h >> 10) & 31,
        m = h & 1023,
        s = h & 0x8000 ? -1 : 1;
      return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
    };
    const fp8 = (kind: 'e4m3' | 'e5m2', c: number) => {
      const s = c & 0x80 ? -1 : 1,
        mag = c & 0x7f,
        mb = kind === 'e4m3' ? 3 : 2,
        bias = kind === 'e4m3' ? 7 : 15;
      const e = mag >> mb,
        m = mag & ((1 << mb) - 1);
      return s * (e === 0 ? m * 2 ** (1 - bias - mb) : (1 + m / (1 << mb)) * 2 ** (e - bias));
    };
    const u16 = (b: Uint8Array, i: number) => b[2 * i] | (b[2 * i + 1] << 8);
    const f32 = (b: Uint8Array, i: number) =>
      new Float32Array(b.buffer.slice(b.byteOffset + 4 * i, b.byteOffset + 4 * i + 4))[0];
    function scale(b: Uint8Array, i: number, t: string): number {
      if (t === 'f16') return f16(u16(b, i));
      if (t === 'bf16') return new Float32Array(new Uint32Array([u16(b, i) << 16]).buffer)[0];
      if (t === 'f32') return f32(b, i);
      if (t === 'e8m0') return 2 ** (b[i] - 127);
      return fp8('e4m3', b[i]);
    }
    const FIXED: Record<string, [number, string]> = { mxfp4: [32, 'e8m0'], mxfp8: [32, 'e8m0'], nvfp4: [16, 'e4m3'] };
    /** The reconstruction from the stored bytes alone. */
    function decode(rows: number, n: number, c: Cfg, s: Stored): Float32Array {
      const b = bitsOf(c.format);
      const [g, st] = FIXED[c.format] ?? [c.groupKind === 'channel' ? n : (c.group ?? 128), c.scale ?? 'f16'];
      const G = Math.ceil(n / g);
      const codes = codesOf(s.codes, rows * n, b);
      const zeros = c.zero === 'int' ? codesOf(s.zeros, rows * G, b) : [];
      const nf4 = addon.grid('nf4'),
        fp4 = addon.grid('fp4');
      const out = new Float32Array(rows * n);
      for (let i = 0; i < rows * n; i++) {
        const gi = Math.floor(i / n) * G + Math.floor((i % n) / g);
        const sc = scale(s.scales, gi, st),
          code = codes[i];
        let v: number;
        if (c.format.startsWith('int')) {
          if (c.symmetric ?? true) v = f((code - 2 ** (b - 1)) * sc);
          else v = f(f(code - (c.zero === 'int' ? zeros[gi] : f16(u16(s.zeros, gi)))) * sc);
        } else if (c.format === 'nf4') v = f(nf4[code] * sc);
        // nvfp4 stores G (compressed-tensors' global scale) and divides by it.
        else if (c.format === 'nvfp4') v = f(fp4[code] * f(sc / f32(s.extra, 0)));
        else if (c.format === 'fp4' || c.format === 'mxfp4') v = f(fp4[code] * sc);
        else v = f(fp8(c.format === 'fp8_e5m2' ? 'e5m2' : 'e4m3', code) * sc);
        out[i] = v;
      }
      return out;
    }
    const cfgs: Cfg[] = [
      { format: 'int4', group: 32 },
      { format: 'int3', group: 24, symmetric: false, zero: 'int', scale: 'bf16' },
      { format: 'int5', groupKind: 'channel', symmetric: false, zero: 'f16', scale: 'f32' },
      { format: 'nf4', group: 64 },
      { format: 'fp4', group: 32, scale: 'e4m3' },
      { format: 'fp8_e4m3', group: 40 },
      { format: 'fp8_e5m2', groupKind: 'channel', scale: 'f32' },
      { format: 'mxfp4' },
      { format: 'mxfp8' },
      { format: 'nvfp4' },
    ];
    for (const cfg of cfgs)
      for (const reference of [false, true])
        it(`decodes to the reconstruction: ${JSON.stringify(cfg)}${reference ? ', reference path' : ''}`, () => {
          const rows = 13,
            n = 160;
          const W = heavy(rows * n, 77);
          const H = hessian(200, n, 8, [4]);
          for (const actOrder of [false, true]) {
            const r = addon.gptq(W, rows, n, H, cfg, { actOrder, reference, block: 64, detail: true });
            assert.deepEqual(decode(rows, n, cfg, r.stored), r.dequant, `act_order ${actOrder}`);
          }
          // The byte counts are RTN's.
          const rtn = addon.quantize(W, rows, n, { ...cfg, metrics: false, stored: true } as Cfg & {
            metrics: boolean;
            stored: true;
          }) as unknown as { stored: Stored };
          const r = addon.gptq(W, rows, n, H, cfg, { reference, detail: true });
          for (const k of ['codes', 'scales', 'zeros', 'extra'] as const)
            assert.equal(r.stored[k].length, rtn.stored[k].length, k);
          assert.deepEqual(r.stored.extra, rtn.stored.extra, "nvfp4: the per-tensor scale is RTN's");
        });
  });
});
