#!/usr/bin/env node
// HQQ (method hqq, quant/hqq.h) on one 4096 x 4096 Student-t matrix (bench/student-t.mjs),
// int4 asymmetric, group 64, 20 iterations (early stop per group), zero f16 and zero int,
// at 1 and 2 threads: median of --runs timings of the native call (timing.quantizeMs,
// output preallocated, metrics off), with RTN on the same matrix and configuration in the
// same run as the baseline; plus the scalar reference path once (--reference), and the
// loss HQQ minimises (sum |w - w'|^0.7) and the squared error, relative to RTN's.
//
//   node bench/hqq-bench.mjs [--runs 5] [--rows 4096] [--cols 4096] [--group 64] [--iters 20] [--threads 1,2] [--reference]
//
// Target: under 1.0 s at 1 thread for zero f16 (a PyTorch CPU reference: about 3.3 s).
import os from 'node:os';
import { addon, flag, median, option as opt } from './common.mjs';
import { makeData } from './student-t.mjs';

const RUNS = Number(opt('runs', 5));
const ROWS = Number(opt('rows', 4096));
const COLS = Number(opt('cols', 4096));
const GROUP = Number(opt('group', 64));
const ITERS = Number(opt('iters', 20));
const THREADS = opt('threads', '1,2').split(',').map(Number);

const w = makeData(ROWS, COLS);
const out = new Float32Array(ROWS * COLS);
const time = (cfg) => {
  const ms = [];
  for (let r = 0; r < RUNS; r++)
    ms.push(addon.quantize(w, ROWS, COLS, { ...cfg, out, metrics: false }).timing.quantizeMs);
  return median(ms) / 1000;
};
const losses = (cfg) => {
  const q = addon.quantize(w, ROWS, COLS, { ...cfg, metrics: false }).dequant;
  let lp = 0,
    l2 = 0;
  for (let i = 0; i < w.length; i++) {
    const e = Math.abs(w[i] - q[i]);
    lp += e ** 0.7;
    l2 += e * e;
  }
  return { lp, l2 };
};

console.log(
  `bitsmith hqq-bench: ${ROWS} x ${COLS} Student-t, int4 asym g${GROUP}, hqq iters ${ITERS}; median of ${RUNS}; load ${os.loadavg()[0].toFixed(2)}`,
);
for (const zero of ['f16', 'int']) {
  const base = { format: 'int4', group: GROUP, symmetric: false, zero };
  const hqq = { ...base, hqq: { iters: ITERS } };
  const r = losses(base),
    h = losses(hqq);
  console.log(
    `zero ${zero}: hqq/rtn loss sum|e|^0.7 ${(h.lp / r.lp).toFixed(4)}, squared error ${(h.l2 / r.l2).toFixed(4)}`,
  );
  for (const threads of THREADS) {
    const tr = time({ ...base, threads }),
      th = time({ ...hqq, threads });
    console.log(
      `  threads ${threads}: hqq ${th.toFixed(3)} s, rtn ${tr.toFixed(3)} s (hqq/rtn ${(th / tr).toFixed(1)}x)`,
    );
  }
  if (flag('reference')) {
    const t0 = performance.now();
    addon.quantize(w, ROWS, COLS, { ...hqq, reference: true, out, metrics: false });
    console.log(`  reference (scalar) path: ${((performance.now() - t0) / 1000).toFixed(3)} s`);
  }
}
