// Cost of the importance-weighted searches (calibration imatrix / forward-pass diagonal)
// against the same search unweighted, on the quant-bench matrix (4096 x 4096 Student-t,
// 8 hot columns). The two configs of a pair run alternately (A B A B ...) so that load from
// other processes on a shared machine falls on both; medians and their ratio are printed.
//
//   node bench/importance-bench.mjs [--runs 9] [--rows 4096] [--cols 4096] [--threads 1]
import os from 'node:os';
import { addon, median, option } from './common.mjs';
import { makeData } from './student-t.mjs';

const RUNS = Number(option('runs', 9));
const ROWS = Number(option('rows', 4096));
const COLS = Number(option('cols', 4096));
const THREADS = Number(option('threads', 1));
const n = ROWS * COLS;
const w = makeData(ROWS, COLS);
const out = new Float32Array(n);
const importance = Float32Array.from({ length: COLS }, (_, j) => (j % 64 === 0 ? 101 : 1));

const PAIRS = [
  ['int4 g128 asym clip mse', { format: 'int4', group: 128, symmetric: false, clip: 'mse' }],
  ['int4 channel clip mse', { format: 'int4', groupKind: 'channel', clip: 'mse' }],
  ['nf4 g64 clip mse', { format: 'nf4', group: 64, clip: 'mse' }],
  ['int4 g128 outliers 0.1%', { format: 'int4', group: 128, outliers: Math.floor(0.001 * n) }],
  ['q4_k', { format: 'q4_k' }],
];

console.log(
  `importance-weighted vs unweighted search: ${ROWS} x ${COLS}, ${THREADS} thread(s), ${RUNS} alternating runs each, median ms`,
);
console.log(
  `${os.cpus()[0]?.model ?? 'cpu'}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}\n`,
);
console.log(
  `${'config'.padEnd(26)} ${'plain ms'.padStart(10)} ${'weighted ms'.padStart(12)} ${'weighted/plain'.padStart(15)}`,
);
for (const [name, c] of PAIRS) {
  const plain = [],
    weighted = [];
  const cfg = { ...c, metrics: false, out, threads: THREADS };
  addon.quantize(w, ROWS, COLS, cfg);
  addon.quantize(w, ROWS, COLS, { ...cfg, importance });
  for (let r = 0; r < RUNS; r++) {
    plain.push(addon.quantize(w, ROWS, COLS, cfg).timing.quantizeMs);
    weighted.push(addon.quantize(w, ROWS, COLS, { ...cfg, importance }).timing.quantizeMs);
  }
  const p = median(plain),
    q = median(weighted);
  console.log(
    `${name.padEnd(26)} ${p.toFixed(1).padStart(10)} ${q.toFixed(1).padStart(12)} ${(q / p).toFixed(2).padStart(15)}`,
  );
}
console.log(
  `\nload average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
