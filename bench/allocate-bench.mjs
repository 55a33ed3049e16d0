// The allocation solver on 1,000 tensors x 10 candidate formats (the size: under
// 100 ms), at budgets across the range. Figures: median solve time, the relaxation alone
// (the baseline: what a Lagrangian-only allocator costs), the gap to the relaxation bound,
// and whether the repair improved on the relaxation's integral part.
//   node bench/allocate-bench.mjs [--items 1000] [--candidates 10] [--runs 15]
import { createRequire } from 'node:module';
import { median, option } from './common.mjs';
import { mulberry32 as rng } from '../scripts/lib/rng.js';

const require = createRequire(import.meta.url);
require('../test/register.js');
const { solveAllocation } = require('../core/src/allocate/solver.ts');

const n = Number(option('items', 1000)),
  k = Number(option('candidates', 10)),
  runs = Number(option('runs', 15));

// Tensor-like items: sizes of a Llama's projections, error ~ sensitivity * 4^-bits, noisy.
const r = rng(1234);
const items = [];
for (let i = 0; i < n; i++) {
  const size = [4096 * 4096, 4096 * 1024, 4096 * 14336][i % 3];
  const sens = Math.exp(5 * r());
  const candidates = [];
  for (let j = 0; j < k; j++) {
    const bits = 2 + j * (6 / Math.max(1, k - 1)) + r() * 0.25;
    candidates.push({
      key: `f${j}`,
      bytes: Math.round((size * bits) / 8),
      error: sens * Math.pow(4, -bits) * (0.7 + 0.6 * r()),
    });
  }
  items.push({ id: `t${i}`, candidates });
}
const min = items.reduce(
  (s, it) => s + it.candidates.map((c) => c.bytes).reduce((a, b) => Math.min(a, b), Infinity),
  0,
);
const max = items.reduce(
  (s, it) => s + it.candidates.map((c) => c.bytes).reduce((a, b) => Math.max(a, b), -Infinity),
  0,
);

console.log(`allocation: ${n} items x ${k} candidates, ${runs} runs per budget`);
console.log('budget   solve ms  relaxation ms  error        bound        gap (rel)   core  optimal');
for (const f of [0.1, 0.3, 0.5, 0.7, 0.9]) {
  const budgetBytes = Math.round(min + f * (max - min));
  const times = [],
    base = [];
  let sol;
  for (let i = 0; i < runs; i++) {
    let t = process.hrtime.bigint();
    sol = solveAllocation({ items, budgetBytes });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    // Baseline: the relaxation with no repair (a core of 0 items).
    t = process.hrtime.bigint();
    solveAllocation({ items, budgetBytes }, { coreSize: 0 });
    base.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(
    `${(f * 100).toFixed(0).padStart(3)}%     ${median(times).toFixed(1).padStart(7)}  ${median(base).toFixed(1).padStart(13)}  ${sol.error.toExponential(4)}  ${sol.bound.toExponential(4)}  ${(sol.gap / sol.error).toExponential(2).padStart(9)}  ${String(sol.coreItems).padStart(4)}  ${sol.optimal}`,
  );
}
