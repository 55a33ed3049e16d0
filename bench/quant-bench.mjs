// Quantizer throughput: Mweights/s per format on a 4096 x 4096 f32 Student-t (nu = 5)
// matrix whose 8 input columns are scaled x10 (LLM-like outlier channels), at 1 and 2
// threads (fast path) and on the scalar reference path; median of 5 runs (and the best).
//
//   node bench/quant-bench.mjs [--runs 5] [--rows 4096] [--cols 4096] [--only int4,nf4] [--quick]
//
// Time is the native quantizeTensorInto call (timing.quantizeMs): the output array is
// preallocated and reused (config.out) and metrics are off, so page faults of a fresh 64 MB
// array and the metrics pass are not counted; the end-to-end line below shows them.
// The machine may be shared: the load average is printed, and the best run is shown next
// to the median.
import os from 'node:os';
import { addon, flag, median, option as opt } from './common.mjs';
import { makeData } from './student-t.mjs';

const RUNS = Number(opt('runs', 5));
const ROWS = Number(opt('rows', 4096));
const COLS = Number(opt('cols', 4096));
const ONLY = opt('only', '').split(',').filter(Boolean);
const QUICK = flag('quick');

// Student-t (nu = 5), 8 hot input columns x10: see student-t.mjs.

const CONFIGS = [
  ['int4 g128 asym', { format: 'int4', group: 128, symmetric: false }],
  ['int4 g128 sym', { format: 'int4', group: 128 }],
  ['int4 g128 asym zero int', { format: 'int4', group: 128, symmetric: false, zero: 'int' }],
  ['int2 g128 asym', { format: 'int2', group: 128, symmetric: false }],
  ['int3 g128 asym', { format: 'int3', group: 128, symmetric: false }],
  ['int8 g128 asym', { format: 'int8', group: 128, symmetric: false }],
  ['int4 channel sym', { format: 'int4', groupKind: 'channel' }],
  ['int4 tensor sym', { format: 'int4', groupKind: 'tensor' }],
  ['int4 g128 clip mse', { format: 'int4', group: 128, symmetric: false, clip: 'mse' }],
  ['nf4 g64', { format: 'nf4', group: 64 }],
  ['fp4 g32', { format: 'fp4', group: 32 }],
  ['fp8_e4m3 channel', { format: 'fp8_e4m3', groupKind: 'channel' }],
  ['fp8_e5m2 channel', { format: 'fp8_e5m2', groupKind: 'channel' }],
  ['mxfp4', { format: 'mxfp4' }],
  ['mxfp8', { format: 'mxfp8' }],
  ['nvfp4', { format: 'nvfp4' }],
  ['binary g128', { format: 'binary', group: 128 }],
  ['ternary g128', { format: 'ternary', group: 128 }],
  ['int4 g128 + rotate', { format: 'int4', group: 128, rotate: 'hadamard' }],
  ['int4 g128 + outliers 0.1%', { format: 'int4', group: 128, outliers: Math.floor(0.001 * ROWS * COLS) }],
  ['int4 g128 + lowrank 16', { format: 'int4', group: 128, lowrank: 16 }, { runs: 3 }],
  // Importance-weighted searches (calibration): d_j = 101 on every 64th column, else 1.
  ['int4 g128 clip mse + importance', { format: 'int4', group: 128, symmetric: false, clip: 'mse', importance: true }],
  [
    'int4 g128 + outliers 0.1% + importance',
    { format: 'int4', group: 128, outliers: Math.floor(0.001 * ROWS * COLS), importance: true },
  ],
];
const importance = Float32Array.from({ length: COLS }, (_, j) => (j % 64 === 0 ? 101 : 1));

function measure(w, config, runs, out) {
  const ms = [];
  let last;
  for (let r = 0; r < runs; r++) {
    last = addon.quantize(w, ROWS, COLS, { ...config, metrics: false, out });
    ms.push(last.timing.quantizeMs);
  }
  return { median: median(ms), best: ms.reduce((a, b) => Math.min(a, b), Infinity), bytes: last.bytes.total };
}

const n = ROWS * COLS;
const mw = (ms) => n / ms / 1e3;
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`Bitsmith quantizer benchmark: ${ROWS} x ${COLS} f32, Student-t nu=5, 8 columns x10`);
console.log(
  `${cpu}, ${os.cpus().length} hardware threads, node ${process.version}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const t0 = Date.now();
const w = makeData(ROWS, COLS);
const out = new Float32Array(n);
console.log(
  `data generated in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${RUNS} runs per cell, Mweights/s as median (best)\n`,
);

const header = ['config', 'bpw', 'fast 1T', 'fast 2T', '2T/1T', 'reference', 'fast/ref'];
const rows = [];
const pad = (s, k, left = false) => (left ? String(s).padEnd(k) : String(s).padStart(k));
const widths = [28, 7, 16, 16, 6, 14, 9];
console.log(header.map((h, i) => pad(h, widths[i], i === 0)).join(' '));
for (const [name, config, extra] of CONFIGS) {
  if (ONLY.length && !ONLY.some((o) => name.startsWith(o))) continue;
  const runs = Math.min(RUNS, extra?.runs ?? RUNS);
  if (config.importance) config.importance = importance;
  addon.quantize(w, ROWS, COLS, { ...config, metrics: false, out, threads: 2 }); // warm-up
  const f1 = measure(w, { ...config, threads: 1 }, runs, out);
  const f2 = measure(w, { ...config, threads: 2 }, runs, out);
  const ref = QUICK ? null : measure(w, { ...config, reference: true }, runs, out);
  const cell = (m) => `${mw(m.median).toFixed(0)} (${mw(m.best).toFixed(0)})`;
  const row = [
    name,
    ((8 * f1.bytes) / n).toFixed(3),
    cell(f1),
    cell(f2),
    (f1.median / f2.median).toFixed(2),
    ref ? cell(ref) : '-',
    ref ? `${(ref.median / f1.median).toFixed(1)}x` : '-',
  ];
  rows.push(row);
  console.log(row.map((c, i) => pad(c, widths[i], i === 0)).join(' '));
}

// End to end: a fresh output array per call and the metrics pass, as a tool sees it.
{
  const config = { format: 'int4', group: 128, symmetric: false };
  for (const threads of [1, 2]) {
    const ms = [];
    let q = 0,
      m = 0;
    for (let r = 0; r < RUNS; r++) {
      const t = process.hrtime.bigint();
      const res = addon.quantize(w, ROWS, COLS, { ...config, threads });
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      q += res.timing.quantizeMs;
      m += res.timing.metricsMs;
    }
    console.log(
      `\nend to end, int4 g128 asym, ${threads}T, fresh output + metrics: ${mw(median(ms)).toFixed(0)} Mweights/s ` +
        `(median ${median(ms).toFixed(1)} ms: quantize ${(q / RUNS).toFixed(1)} ms incl. first-touch page faults, metrics ${(m / RUNS).toFixed(1)} ms)`,
    );
  }
}
console.log(
  `\nload average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
