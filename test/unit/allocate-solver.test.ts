// The allocation solver against brute force on small problems, its bound and gap on larger
// ones, pinned bytes, infeasible budgets and determinism.
import { strict as assert } from 'node:assert';
import { allocationFrontier, solveAllocation, type AllocItem } from '../../core/src/allocate/solver';
import { maxOf, minOf } from '../../core/src/arrays';
import { mulberry32 as rng } from '../../scripts/lib/rng';

/** Deterministic pseudo-random numbers (mulberry32). */

/** Items like tensors x formats: bytes grow with bits, error falls roughly 4x per bit, with
 * noise (so fronts are not convex and some candidates are dominated). */
function randomItems(n: number, k: number, seed: number): AllocItem[] {
  const r = rng(seed);
  const items: AllocItem[] = [];
  for (let i = 0; i < n; i++) {
    const size = Math.round(1000 + r() * 9000);
    const sens = Math.exp(4 * r());
    const candidates = [];
    for (let j = 0; j < k; j++) {
      const bits = 2 + j * (6 / Math.max(1, k - 1)) + r() * 0.3;
      candidates.push({
        key: `f${j}`,
        bytes: Math.round((size * bits) / 8),
        error: sens * Math.pow(4, -bits) * (0.7 + 0.6 * r()),
      });
    }
    items.push({ id: `t${i}`, candidates });
  }
  return items;
}

function bruteForce(items: AllocItem[], budget: number, fixed = 0): { error: number; bytes: number } | undefined {
  let best: { error: number; bytes: number } | undefined;
  const rec = (i: number, bytes: number, error: number) => {
    if (bytes > budget) return;
    if (i === items.length) {
      if (!best || error < best.error - 1e-15) best = { error, bytes };
      return;
    }
    for (const c of items[i].candidates) rec(i + 1, bytes + c.bytes, error + c.error);
  };
  rec(0, fixed, 0);
  return best;
}

describe('allocation solver', () => {
  it('equals brute force on 300 small random problems, and never beats its own bound', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed * 7919);
      const n = 1 + Math.floor(r() * 7),
        k = 1 + Math.floor(r() * 4);
      const items = randomItems(n, k, seed);
      const min = items.reduce((s, it) => s + minOf(it.candidates.map((c) => c.bytes)), 0);
      const max = items.reduce((s, it) => s + maxOf(it.candidates.map((c) => c.bytes)), 0);
      const fixed = Math.floor(r() * 500);
      const budget = fixed + Math.round(min + r() * (max - min) * 1.1);
      const sol = solveAllocation({ items, budgetBytes: budget, fixedBytes: fixed });
      const bf = bruteForce(items, budget, fixed);
      assert.ok(bf, `seed ${seed}: feasible`);
      assert.ok(sol.feasible && sol.optimal, `seed ${seed}`);
      assert.ok(
        Math.abs(sol.error - bf.error) <= 1e-12 * Math.max(1, bf.error),
        `seed ${seed}: solver ${sol.error} vs brute force ${bf.error}`,
      );
      assert.ok(sol.bytes <= budget);
      assert.ok(
        sol.bound <= sol.error + 1e-15 && sol.bound <= bf.error + 1e-12,
        `seed ${seed}: the bound is a lower bound`,
      );
      // The reported choice adds up to the reported totals.
      const bytes = fixed + sol.choice.reduce((s, c, i) => s + items[i].candidates[c].bytes, 0);
      const error = sol.choice.reduce((s, c, i) => s + items[i].candidates[c].error, 0);
      assert.equal(bytes, sol.bytes);
      assert.ok(Math.abs(error - sol.error) < 1e-12);
    }
  });

  it('on 1,000 items x 10 candidates: feasible, within a small gap of the relaxation bound, deterministic', () => {
    const items = randomItems(1000, 10, 42);
    const min = items.reduce((s, it) => s + minOf(it.candidates.map((c) => c.bytes)), 0);
    const max = items.reduce((s, it) => s + maxOf(it.candidates.map((c) => c.bytes)), 0);
    for (const f of [0.1, 0.37, 0.8]) {
      const budget = Math.round(min + f * (max - min));
      const a = solveAllocation({ items, budgetBytes: budget });
      const b = solveAllocation({ items, budgetBytes: budget });
      assert.deepEqual(a.choice, b.choice, 'deterministic');
      assert.ok(a.feasible && a.bytes <= budget);
      assert.ok(a.gap / a.error < 1e-3, `gap ${a.gap} of ${a.error} at ${f}`);
      assert.ok(budget - a.bytes < 2000, `spends the budget: ${budget - a.bytes} bytes left`);
    }
  });

  it('an infeasible budget says so and gives the smallest achievable size', () => {
    const items = randomItems(5, 3, 9);
    const min = items.reduce((s, it) => s + minOf(it.candidates.map((c) => c.bytes)), 0);
    const sol = solveAllocation({ items, budgetBytes: min + 99, fixedBytes: 100 });
    assert.equal(sol.feasible, false);
    assert.equal(sol.minBytes, min + 100);
    assert.ok(solveAllocation({ items, budgetBytes: min + 100, fixedBytes: 100 }).feasible);
  });

  it('dominated candidates are never chosen; a single-candidate item keeps it', () => {
    const items: AllocItem[] = [
      {
        id: 'a',
        candidates: [
          { key: 'big-bad', bytes: 100, error: 5 },
          { key: 'small-good', bytes: 50, error: 1 },
        ],
      },
      { id: 'b', candidates: [{ key: 'only', bytes: 10, error: 3 }] },
    ];
    const sol = solveAllocation({ items, budgetBytes: 1000 });
    assert.deepEqual(sol.choice, [1, 0]);
    assert.equal(sol.error, 4);
  });

  it('the frontier is monotone: more bytes never give more error', () => {
    const items = randomItems(50, 6, 3);
    const min = items.reduce((s, it) => s + minOf(it.candidates.map((c) => c.bytes)), 0);
    const max = items.reduce((s, it) => s + maxOf(it.candidates.map((c) => c.bytes)), 0);
    const budgets = Array.from({ length: 12 }, (_, i) => Math.round(min + (i / 11) * (max - min)));
    const f = allocationFrontier({ items }, budgets);
    for (let i = 1; i < f.length; i++) assert.ok(f[i].error <= f[i - 1].error + 1e-15, `point ${i}`);
    assert.ok(f[f.length - 1].gap === 0 || f[f.length - 1].error <= f[0].error);
  });

  it('rejects NaN or negative figures, naming the item', () => {
    assert.throws(
      () =>
        solveAllocation({
          items: [{ id: 'x.weight', candidates: [{ key: 'q4_k', bytes: 10, error: NaN }] }],
          budgetBytes: 10,
        }),
      /x\.weight, candidate q4_k/,
    );
  });
});
