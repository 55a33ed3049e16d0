// ggml block encoders: SQNR and throughput per type on a 4096 x 4096 f32 Student-t (nu = 5,
// std 0.02) matrix whose 8 input columns are scaled x10 (the data of quant-bench.mjs),
// next to llama.cpp's own quantizer on the same kind of matrix.
//
//   node bench/ggml-bench.mjs [--runs 3] [--rows 4096] [--cols 4096] [--only q4_k,q6_k] [--no-ref]
//
// SQNR dB: encoded without importance (not for the types that need calibration); imp. SQNR:
// encoded with bench/student-t.mjs's importance vector as the imatrix, the error weighted by
// it. Mweights/s: the native encode call (ggmlEncode) with that importance, median of --runs
// (best in brackets), at 1 and 2 threads on the fast path and once on the scalar reference
// path (whose bytes are checked equal to the fast path's).
// The machine may be shared: the load average is printed. The time is the whole addon call:
// besides the encoder it holds ggmlEncode's argument checks and the allocation of the output
// (the check for non-finite weights is done row by row inside the encoders, ggml.cc).
import os from 'node:os';
import { addon, flag, median, option as opt } from './common.mjs';
import { makeData, makeImportance } from './student-t.mjs';

const RUNS = Number(opt('runs', 3));
const ROWS = Number(opt('rows', 4096));
const COLS = Number(opt('cols', 4096));
const ONLY = opt('only', '').split(',').filter(Boolean);
const NO_REF = flag('no-ref');

// llama.cpp's quantizer (ggml_quantize_chunk, February 2025) on this matrix at 256 x 4096:
// SQNR dB without an imatrix, importance-weighted SQNR dB with the importance vector as its
// imatrix, and Bitsmith's fast path on one thread / llama.cpp on one thread (both with the
// imatrix, taking turns in one run): `node scripts/llama-cpp-iq-check.mjs --bench-only
// --bench-rows 256` (a loaded 2-core machine: the ratios vary by about 30% between runs).
// null: llama.cpp needs an imatrix for the type. Run this benchmark with --rows 256 for the
// same sample.
const LLAMA = {
  q4_0: [18.4, 19.14, 61.5],
  q4_1: [20.46, 22.31, 54.8],
  q5_0: [24.11, 24.81, 54.2],
  q5_1: [26.78, 28.61, 52.6],
  q8_0: [42.07, 42.32, 10.0],
  q2_k: [8.96, 11.26, 3.81],
  q3_k: [14.88, 15.9, 3.14],
  q4_k: [20.78, 21.78, 4.06],
  q5_k: [25.5, 26.56, 4.18],
  q6_k: [32.11, 32.84, 1.76],
  iq4_nl: [20.24, 21.07, 75.5],
  iq4_xs: [20.13, 20.89, 4.94],
  iq2_xxs: [null, 7.61, 3.07],
  iq2_xs: [null, 9.3, 5.68],
  iq2_s: [8.37, 9.94, 1.89],
  iq3_xxs: [11.4, 14.67, 3.16],
  iq3_s: [13.66, 15.96, 2.23],
  iq1_s: [null, 5.6, 1.0],
  iq1_m: [4.49, 7.28, 3.84],
  tq1_0: [1.82, 2.09, 0.1],
  tq2_0: [1.82, 2.09, 0.12],
};
const NEEDS_CALIBRATION = new Set(['iq2_xxs', 'iq2_xs', 'iq1_s', 'iq1_m']);

// Student-t (nu = 5), 8 hot input columns x10: see student-t.mjs.

function sqnrDb(x, y, imp) {
  let s = 0,
    e = 0;
  for (let i = 0; i < x.length; i++) {
    const k = imp ? imp[i % imp.length] : 1;
    s += k * x[i] * x[i];
    const d = x[i] - y[i];
    e += k * d * d;
  }
  return 10 * Math.log10(s / e);
}
function time(fn, runs) {
  const ms = [];
  let last;
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    last = fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { median: median(ms), best: ms.reduce((a, b) => Math.min(a, b), Infinity), last };
}

const n = ROWS * COLS;
const mw = (ms) => n / ms / 1e3;
console.log(`Bitsmith ggml encoders: ${ROWS} x ${COLS} f32, Student-t nu=5 std 0.02, 8 columns x10`);
console.log(
  `${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} hardware threads, node ${process.version}, load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const w = makeData(ROWS, COLS);
const importance = makeImportance(COLS);
console.log(`${RUNS} runs per cell; Mweights/s as median (best)\n`);
const header = [
  'type',
  'bpw',
  'SQNR dB',
  'llama.cpp',
  'imp. SQNR',
  'llama.cpp',
  'fast 1T',
  'fast 2T',
  'reference',
  'x llama.cpp',
  'ref==fast',
];
const widths = [7, 7, 8, 10, 10, 10, 14, 14, 10, 12, 9];
const pad = (s, k, left = false) => (left ? String(s).padEnd(k) : String(s).padStart(k));
const rate = (ms) => {
  const v = mw(ms);
  return v >= 10 ? v.toFixed(0) : v.toFixed(2);
};
console.log(header.map((h, i) => pad(h, widths[i], i === 0)).join(' '));
for (const t of addon.ggmlTypes()) {
  if (ONLY.length && !ONLY.includes(t.name)) continue;
  const opts = { importance };
  const f1 = time(() => addon.ggmlEncode(t.name, w, ROWS, COLS, { ...opts, threads: 1 }), RUNS);
  const f2 = time(() => addon.ggmlEncode(t.name, w, ROWS, COLS, { ...opts, threads: 2 }), RUNS);
  const ref = NO_REF ? null : time(() => addon.ggmlEncode(t.name, w, ROWS, COLS, { ...opts, reference: true }), 1);
  const bytes = f1.last;
  const same = ref
    ? Buffer.from(ref.last).equals(Buffer.from(bytes)) && Buffer.from(f2.last).equals(Buffer.from(bytes))
    : '-';
  const plain = NEEDS_CALIBRATION.has(t.name)
    ? '-'
    : sqnrDb(w, addon.ggmlDecode(t.name, addon.ggmlEncode(t.name, w, ROWS, COLS), ROWS, COLS)).toFixed(2);
  const weighted = sqnrDb(w, addon.ggmlDecode(t.name, bytes, ROWS, COLS), importance);
  const cell = (m) => `${rate(m.median)} (${rate(m.best)})`;
  const ll = LLAMA[t.name];
  const num = (v, d) => (v === null || v === undefined ? '-' : v.toFixed(d));
  console.log(
    [
      t.name,
      ((8 * bytes.length) / n).toFixed(3),
      plain,
      num(ll?.[0], 1),
      weighted.toFixed(2),
      num(ll?.[1], 2),
      cell(f1),
      cell(f2),
      ref ? rate(ref.median) : '-',
      ll?.[2] ? `${ll[2] >= 10 ? ll[2].toFixed(1) : ll[2].toFixed(2)}x` : '-',
      String(same),
    ]
      .map((c, i) => pad(c, widths[i], i === 0))
      .join(' '),
  );
}
console.log(
  `\nload average at the end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
