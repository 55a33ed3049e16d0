// native/src/quant/gptq.cc against a straightforward, unoptimised GPTQ written here
// (explicit Gauss-Jordan inverse of the damped Hessian, its upper Cholesky factor, one
// column at a time with an immediate update of every later column, f64), on several grids,
// with and without act_order (static groups) and with a lazy block that does not divide
// the columns; then GPTQ's output error against RTN's on heavy-tailed weights with
// outlier input channels, and act_order's gain there.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';

interface Cfg { format: string; group?: number; groupKind?: 'size' | 'channel'; symmetric?: boolean; scale?: 'f16' | 'f32'; zero?: 'int' | 'f16'; clip?: 'mse' }
interface Addon {
  gptq(W: Float32Array, rows: number, cols: number, H: Float64Array, cfg: Cfg, o?: { damp?: number; block?: number; actOrder?: boolean; threads?: number }): Float32Array;
  quantize(W: Float32Array, rows: number, cols: number, cfg: Cfg & { metrics?: boolean }): { dequant: Float32Array };
  f16Round(x: number): number;
}
const addon = require(path.resolve(__dirname, '..', '..', 'native')) as Addon;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
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
  const Z = heavy(t * n, seed, 1), M = heavy(n * n, seed + 1, 1 / Math.sqrt(n));
  const X = new Float64Array(t * n);
  for (let r = 0; r < t; r++)
    for (let k = 0; k < n; k++) {
      const z = Z[r * n + k];
      for (let c = 0; c < n; c++) X[r * n + c] += z * (M[k * n + c] + (k === 0 ? 1 : 0));
    }
  for (let r = 0; r < t; r++) for (const c of outliers) X[r * n + c] *= 10;
  const H = new Float64Array(n * n);
  for (let r = 0; r < t; r++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) H[i * n + j] += X[r * n + i] * X[r * n + j];
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
  const qmax = 2 ** b - 1, sym = cfg.symmetric ?? true, zint = (cfg.zero ?? 'int') === 'int';
  const store = (s: number) => ((cfg.scale ?? 'f16') === 'f16' ? addon.f16Round(s) : f(s));
  return {
    fit(mn: number, mx: number) {
      if (sym) {
        const s = store(f(Math.max(-mn, mx) / (qmax / 2)));
        return { s, inv: s > 0 ? f(1 / s) : 0, z: 0 };
      }
      const lo = Math.min(mn, 0), hi = Math.max(mx, 0);
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
  const M = Array.from({ length: n }, (_, i) => [...Array.from(A.subarray(i * n, (i + 1) * n)), ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
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

function gptqReference(W: Float32Array, rows: number, n: number, H0: Float64Array, cfg: Cfg, damp: number, actOrder: boolean): Float32Array {
  const g = grid(cfg);
  const gs = cfg.groupKind === 'channel' ? n : Math.min(cfg.group ?? 128, n);
  const H = Float64Array.from(H0);
  const dead = new Set<number>();
  for (let j = 0; j < n; j++) if (H[j * n + j] === 0) { H[j * n + j] = 1; dead.add(j); }
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
      let mn = Infinity, mx = -Infinity;
      for (let c = gi * gs; c < Math.min(n, (gi + 1) * gs); c++) { mn = Math.min(mn, value(c)); mx = Math.max(mx, value(c)); }
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
    ['int4 sym g8, act_order (static groups), block 7', { format: 'int4', group: 8, scale: 'f32' }, { block: 7, actOrder: true }],
    ['int3 asym int zero g12, f16 scales', { format: 'int3', group: 12, symmetric: false, zero: 'int', scale: 'f16' }, { block: 16, damp: 0.05 }],
    ['int4 asym f16 zero, channel, act_order', { format: 'int4', groupKind: 'channel', symmetric: false, zero: 'f16', scale: 'f16' }, { block: 128, actOrder: true }],
    ['int8 sym g16, block 1', { format: 'int8', group: 16, scale: 'f32' }, { block: 1 }],
  ];
  for (const [label, cfg, o] of cases) {
    it(`equals the straightforward implementation: ${label}`, () => {
      const rows = 12, n = 24;
      const W = heavy(rows * n, label.length);
      const H = hessian(64, n, 7, [3, 17]);
      // One dead input channel (never active): its weights must come out as 0.
      for (let i = 0; i < n; i++) { H[5 * n + i] = 0; H[i * n + 5] = 0; }
      const want = gptqReference(W, rows, n, H, cfg, o.damp ?? 0.01, !!o.actOrder);
      for (const threads of [1, 2]) {
        const got = addon.gptq(W, rows, n, H, cfg, { ...o, threads });
        let worst = 0;
        for (let i = 0; i < rows * n; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        assert.ok(worst <= 1e-7, `${threads} threads: max |diff| ${worst}`);
        // A dead input channel's weights become 0 before quantizing (exactly 0 on grids with an integer zero).
        if ((cfg.zero ?? 'int') === 'int') for (let r = 0; r < rows; r++) assert.equal(got[r * n + 5], 0, 'dead column');
      }
    });
  }

  it('a layer large enough for the parallel Cholesky and the blocked inverse equals the reference, at any thread count', () => {
    const rows = 4, n = 400;
    const W = heavy(rows * n, 21);
    const H = hessian(450, n, 22, [7, 300]);
    const cfg: Cfg = { format: 'int4', group: 100, scale: 'f32' };
    const want = gptqReference(W, rows, n, H, cfg, 0.01, false);
    const one = addon.gptq(W, rows, n, H, cfg, { block: 64, threads: 1 });
    assert.deepEqual(addon.gptq(W, rows, n, H, cfg, { block: 64, threads: 2 }), one);
    let worst = 0;
    for (let i = 0; i < rows * n; i++) worst = Math.max(worst, Math.abs(one[i] - want[i]));
    assert.ok(worst <= 1e-7, `max |diff| ${worst}`);
  });

  it('beats RTN in output error on heavy-tailed weights with outlier input channels; act_order helps', () => {
    const rows = 64, n = 128;
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
        const step = Math.min(...vals.slice(1).map((v, i) => v - vals[i]));
        for (const v of vals) assert.ok(Math.abs(v / step - Math.round(v / step)) < 1e-3, `row ${r} group ${g0 / 32}: ${v} is not a multiple of ${step}`);
      }
  });

  it('refuses what it does not run', () => {
    const W = new Float32Array(16), H = new Float64Array(16);
    for (let i = 0; i < 4; i++) H[i * 4 + i] = 1;
    assert.throws(() => addon.gptq(W, 4, 4, H, { format: 'nf4' }), /int2\.\.int8 formats here, not nf4/);
    assert.throws(() => addon.gptq(W, 4, 4, H, { format: 'int4', clip: 'mse' }), /clip mse/);
  });
});
