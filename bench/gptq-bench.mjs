#!/usr/bin/env node
// GPTQ time on one layer: W [size, size] heavy-tailed synthetic weights, H = X^T X from
// `tokens` synthetic activations (correlated, with outlier channels), int4 group 128, at
// each thread count, with and without act_order: medians of --runs runs of the whole call,
// of its Hessian phase (damping, Cholesky, the packed factor) and of its column pass, and
// the GFLOP/s that makes (Cholesky n^3/3 plus the pass's 2 * rows * n^2 / 2 flops). The
// reference path (the scalar f64 spec) and the fast path on a smaller layer (--ref-size)
// in the same run give the speed-up; RTN on the large layer is listed for scale.
// The Hessian's content does not change GPTQ's cost, so fewer tokens than a real
// calibration (the 32k) are used by default to keep its construction short.
//
//   node bench/gptq-bench.mjs [--size 4096] [--tokens 4096] [--threads 1,2] [--group 128]
//                             [--runs 3] [--ref-size 1024]
//
// Target (issue 5): under 0.7 s at 1 thread on 4096 x 4096, group 128 (a PyTorch CPU
// reference with OpenBLAS: about 2.2 s, excluding the Hessian).
import { addon, median, option } from './common.mjs';

const n = Number(option('size', '4096'));
const tokens = Number(option('tokens', '4096'));
const group = Number(option('group', '128'));
const runs = Number(option('runs', '3'));
const refSize = Number(option('ref-size', '1024'));
const threadList = option('threads', '1,2').split(',').map(Number);

let s = 42;
const rand = () => {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return s / 4294967296 - 0.5;
};
function layer(size, count) {
  const W = new Float32Array(size * size);
  for (let i = 0; i < W.length; i++) {
    const u = rand(),
      v = Math.abs(rand()) + 0.05;
    W[i] = (0.02 * u) / Math.sqrt(v); // heavy-tailed
  }
  const X = new Float32Array(count * size);
  for (let t = 0; t < count; t++) {
    const shared = rand() * 2;
    for (let c = 0; c < size; c++) X[t * size + c] = rand() + shared * 0.5 + (c % 512 === 7 ? 10 * rand() : 0);
  }
  const H = addon.linalg.gram(X, count, size, { threads: threadList.reduce((a, b) => Math.max(a, b), -Infinity) });
  return { W, H };
}
const flops = (rows, cols) => cols ** 3 / 3 + rows * cols * cols;
const cfg = { format: 'int4', group, scale: 'f16' };

// CPU seconds too: on a shared machine the wall time of a 1-thread run includes time other
// processes took from it, its CPU time does not.
function time(W, size, H, o) {
  const total = [],
    hess = [],
    pass = [],
    cpu = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = addon.gptq(W, size, size, H, cfg, { ...o, block: 128, damp: 0.01, detail: true });
    total.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
    hess.push(out.times.hessian);
    pass.push(out.times.pass);
  }
  return { total: median(total), hessian: median(hess), pass: median(pass), cpu: median(cpu) };
}

let t0 = performance.now();
const big = layer(n, tokens);
console.log(
  `bitsmith gptq-bench: ${n} x ${n}, int4 group ${group}, kernel ${addon.linalg.gemmKernel()}, median of ${runs}; Hessian from ${tokens} tokens in ${((performance.now() - t0) / 1000).toFixed(2)} s (not counted)`,
);
const small = layer(refSize, Math.max(refSize, 1024));
for (const threads of threadList) {
  const rt = [];
  for (let r = 0; r < runs; r++) {
    t0 = performance.now();
    addon.quantize(big.W, n, n, { ...cfg, threads, metrics: false });
    rt.push((performance.now() - t0) / 1000);
  }
  for (const actOrder of [false, true]) {
    const m = time(big.W, n, big.H, { threads, actOrder });
    const gf = flops(n, n) / m.total / 1e9;
    console.log(
      `  threads ${threads}: gptq${actOrder ? ' act_order' : '          '} ${m.total.toFixed(3)} s (Hessian ${m.hessian.toFixed(3)} s, pass ${m.pass.toFixed(3)} s; CPU ${m.cpu.toFixed(3)} s) ${gf.toFixed(1)} GFLOP/s; rtn ${median(rt).toFixed(3)} s`,
    );
  }
  const fast = time(small.W, refSize, small.H, { threads });
  const ref = time(small.W, refSize, small.H, { threads, reference: true });
  console.log(
    `  threads ${threads}: ${refSize} x ${refSize}: fast ${fast.total.toFixed(3)} s, reference ${ref.total.toFixed(3)} s: ${(ref.total / fast.total).toFixed(1)}x`,
  );
}
