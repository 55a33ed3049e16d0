#!/usr/bin/env node
// AWQ's search (method awq, quant/awq.h) on one synthetic attention input: q/k/v of
// [size, size] Student-t weights (bench/student-t.mjs) reading one input whose Hessian and
// mean |x| come from `tokens` synthetic activations with 8 salient channels; int4 group 128
// asymmetric, grid 20, at the given threads; median of --runs. Baseline in the same run:
// RTN of the three tensors (what alpha = 0 costs, one of the 20 grid points).
//
//   node bench/awq-bench.mjs [--size 1024] [--tokens 2048] [--threads 1,2] [--runs 3] [--grid 20]
//
// The search is 20 x (quantize + one rows x n x n GEMM per tensor): cubic in the width.
import { addon, median, option as opt } from './common.mjs';
import { makeData } from './student-t.mjs';

const N = Number(opt('size', 1024));
const T = Number(opt('tokens', 2048));
const RUNS = Number(opt('runs', 3));
const GRID = Number(opt('grid', 20));
const THREADS = opt('threads', '1,2').split(',').map(Number);

const X = makeData(T, N, 7); // heavy-tailed activations with 8 columns x10 (the salient channels)
const H = addon.linalg.gram(X, T, N, { threads: THREADS.reduce((a, b) => Math.max(a, b), -Infinity) });
const meanAbs = new Float64Array(N);
for (let t = 0; t < T; t++) for (let j = 0; j < N; j++) meanAbs[j] += Math.abs(X[t * N + j]) / T;
const config = { format: 'int4', group: 128, symmetric: false };
const members = [1, 2, 3].map((seed) => ({ w: makeData(N, N, seed), rows: N, config }));

console.log(
  `bitsmith awq-bench: q/k/v ${N} x ${N}, int4 asym g128, grid ${GRID}, Hessian from ${T} tokens; median of ${RUNS}`,
);
for (const threads of THREADS) {
  const awq = [],
    rtn = [];
  let last;
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    last = addon.awq(members, N, H, meanAbs, { grid: GRID, threads });
    awq.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (const m of members) addon.quantize(m.w, N, N, { ...config, threads, metrics: false });
    rtn.push((performance.now() - t0) / 1000);
  }
  console.log(
    `  threads ${threads}: awq search ${median(awq).toFixed(2)} s (alpha ${last.alpha}, output error ${(100 * (last.err / last.errRtn - 1)).toFixed(1)}% vs rtn), rtn ${median(rtn).toFixed(3)} s`,
  );
}
