// native/src/linalg: the blocked GEMM (AVX2+FMA and portable paths) against the scalar
// reference, odd shapes and tails, accumulation, thread-count independence, the f64
// Gram accumulation behind calibration Hessians, and the row operations.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { centered as rng } from '../../scripts/lib/rng';

type GemmPath = 'auto' | 'portable' | 'reference';
interface Linalg {
  gemm(
    A: Float32Array,
    B: Float32Array,
    m: number,
    n: number,
    k: number,
    o?: { path?: GemmPath; threads?: number; accumulate?: boolean; C?: Float32Array },
  ): Float32Array;
  gram(X: Float32Array, t: number, n: number, o?: { path?: GemmPath; threads?: number }): Float64Array;
  rmsNorm(x: Float32Array, w: Float32Array | null, eps: number): Float32Array;
  softmax(x: Float32Array): Float32Array;
  logSoftmax(x: Float32Array): Float32Array;
  silu(x: Float32Array): Float32Array;
  gemmKernel(): string;
}
const linalg = (require(path.resolve(__dirname, '..', '..', 'native')) as { linalg: Linalg }).linalg;

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() + r() + r()) * scale;
  return a;
}
/** C = A B^T in f64, and the scale sum |a||b| per element for error bounds. */
function direct(A: Float32Array, B: Float32Array, m: number, n: number, k: number) {
  const c = new Float64Array(m * n),
    mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0,
        a = 0;
      for (let q = 0; q < k; q++) {
        s += A[i * k + q] * B[j * k + q];
        a += Math.abs(A[i * k + q] * B[j * k + q]);
      }
      c[i * n + j] = s;
      mag[i * n + j] = a;
    }
  return { c, mag };
}

describe('native linalg', () => {
  it('reports which GEMM kernel runs', () => {
    assert.ok(['avx2-fma', 'portable'].includes(linalg.gemmKernel()));
  });

  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 17, 5],
    [5, 3, 2],
    [6, 16, 64],
    [7, 33, 300],
    [13, 64, 64],
    [97, 130, 257],
    [200, 48, 512],
    [3, 500, 8],
    [256, 172, 64],
  ];
  for (const [m, n, k] of shapes) {
    it(`gemm ${m}x${n}x${k}: auto and portable equal the reference within f32 rounding`, () => {
      const A = randn(m * k, m * 1000 + k),
        B = randn(n * k, n * 7 + 3);
      const { c, mag } = direct(A, B, m, n, k);
      const ref = linalg.gemm(A, B, m, n, k, { path: 'reference' });
      for (let i = 0; i < m * n; i++) assert.ok(Math.abs(ref[i] - c[i]) <= 1e-7 * mag[i] + 1e-30, `reference [${i}]`);
      for (const p of ['auto', 'portable'] as const) {
        const got = linalg.gemm(A, B, m, n, k, { path: p });
        let worst = 0;
        for (let i = 0; i < m * n; i++) worst = Math.max(worst, Math.abs(got[i] - c[i]) / (mag[i] + 1e-30));
        // k products summed in f32: error below k * 2^-24 of sum |a b| (with margin).
        assert.ok(worst <= (k + 2) * 6e-8, `${p}: worst relative error ${worst} for k=${k}`);
      }
    });
  }

  it('gemm accumulates into C when asked, and k = 0 gives zeros', () => {
    const m = 9,
      n = 20,
      k = 37;
    const A = randn(m * k, 1),
      B = randn(n * k, 2);
    const C0 = randn(m * n, 3);
    const C = linalg.gemm(A, B, m, n, k, { accumulate: true, C: Float32Array.from(C0) });
    const plain = linalg.gemm(A, B, m, n, k);
    for (let i = 0; i < m * n; i++)
      assert.ok(Math.abs(C[i] - (C0[i] + plain[i])) <= 1e-5 * (1 + Math.abs(C0[i])), `C[${i}]`);
    const z = linalg.gemm(new Float32Array(0), new Float32Array(0), 3, 4, 0, { C: new Float32Array(12).fill(5) });
    assert.deepEqual(Array.from(z), new Array(12).fill(0));
  });

  it('gemm results do not depend on the thread count', () => {
    const m = 150,
      n = 300,
      k = 700;
    const A = randn(m * k, 11),
      B = randn(n * k, 12);
    const one = linalg.gemm(A, B, m, n, k, { threads: 1 });
    const two = linalg.gemm(A, B, m, n, k, { threads: 2 });
    const four = linalg.gemm(A, B, m, n, k, { threads: 4 });
    assert.deepEqual(two, one);
    assert.deepEqual(four, one);
  });

  it('gemm validates sizes', () => {
    assert.throws(() => linalg.gemm(new Float32Array(5), new Float32Array(6), 2, 3, 2), /A has 5 values, expected 4/);
    assert.throws(() => linalg.gemm(new Float32Array(4), new Float32Array(5), 2, 3, 2), /B has 5 values, expected 6/);
  });

  it('gram: X^T X accumulated in f64 equals the direct sum, across block boundaries', () => {
    for (const [t, n] of [
      [1, 3],
      [255, 17],
      [600, 40],
      [1000, 64],
    ]) {
      const X = randn(t * n, t + n, 3);
      const H = linalg.gram(X, t, n);
      const R = linalg.gram(X, t, n, { path: 'reference' });
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0,
            a = 0;
          for (let r = 0; r < t; r++) {
            s += X[r * n + i] * X[r * n + j];
            a += Math.abs(X[r * n + i] * X[r * n + j]);
          }
          assert.ok(Math.abs(R[i * n + j] - s) <= 1e-12 * a, `reference H[${i},${j}]`);
          // f32 within blocks of 256 rows: at most 258 * 2^-24 of the magnitude.
          assert.ok(Math.abs(H[i * n + j] - s) <= 258 * 6e-8 * a, `H[${i},${j}] t=${t}: ${H[i * n + j]} vs ${s}`);
          assert.equal(H[i * n + j], H[j * n + i], 'symmetric');
        }
    }
  });

  it('rmsNorm, softmax, logSoftmax and silu follow their definitions', () => {
    const x = randn(37, 5, 2),
      w = randn(37, 6);
    const y = linalg.rmsNorm(x, w, 1e-5);
    let ss = 0;
    for (const v of x) ss += v * v;
    const r = 1 / Math.sqrt(ss / 37 + 1e-5);
    for (let i = 0; i < 37; i++) assert.ok(Math.abs(y[i] - x[i] * r * w[i]) <= 1e-6 * (1 + Math.abs(y[i])));
    const big = Float32Array.from([1000, 1001, 999, -5]);
    const p = linalg.softmax(big);
    const e = [Math.exp(-1), 1, Math.exp(-2), 0];
    const z = e.reduce((a, b) => a + b);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(p[i] - e[i] / z) < 1e-6, `softmax[${i}]`);
    const lp = linalg.logSoftmax(big);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(lp[i] - Math.log(e[i] / z)) < 1e-5, `logSoftmax[${i}]`);
    assert.ok(Math.abs(lp[3] - (-1006 - Math.log(z))) < 1e-3);
    const s = linalg.silu(Float32Array.from([0, 1, -3, 20, -100]));
    const ex = [
      0,
      1 / (1 + Math.exp(-1)),
      -3 / (1 + Math.exp(3)),
      20 / (1 + Math.exp(-20)),
      -100 / (1 + Math.exp(100)),
    ];
    for (let i = 0; i < ex.length; i++) assert.ok(Math.abs(s[i] - ex[i]) <= 1e-6 * (1 + Math.abs(ex[i])), `silu[${i}]`);
  });
});
