// How long the harness waits, and what it says when a wait runs out. Every wait is for a
// condition (never a fixed sleep); its timeout is a base (what a quiet 2-core machine needs,
// with room) times a scale for the machine's load now: the load average per core, at least
// 2 and at most 6, read again for every wait, so a benchmark that starts mid-run stretches
// the waits after it. BITSMITH_E2E_TIMEOUT_SCALE=<n> fixes the scale.
import * as os from 'node:os';

export function timeoutScale() {
  const fixed = Number(process.env.BITSMITH_E2E_TIMEOUT_SCALE);
  if (fixed > 0) return fixed;
  const perCore = os.loadavg()[0] / Math.max(1, os.cpus().length);
  return Math.min(6, Math.max(2, perCore));
}

/** A base timeout in ms, scaled for the machine's load. */
export const T = (ms) => Math.round(ms * timeoutScale());

export const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;

/** The error a wait throws: what was awaited, for how long, and what was seen last. */
export function timedOut(what, ms, seen, cause) {
  const last = seen === undefined || seen === '' ? '' : `; last seen: ${String(seen).slice(0, 600)}`;
  return new Error(`timed out after ${secs(ms)} waiting for ${what}${last}`, cause ? { cause } : undefined);
}

/**
 * Polls `cond` until it returns something truthy (returned) or the timeout passes.
 * `seen()` describes the current state for the error message.
 */
export async function waitFor(cond, { timeout = T(10_000), interval = 200, what = 'condition', seen } = {}) {
  const start = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - start > timeout) {
      let last;
      try {
        last = seen ? await seen() : undefined;
      } catch (e) {
        last = `(could not read the state: ${e.message})`;
      }
      throw timedOut(what, timeout, last);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Like waitFor, for a condition that must hold on `polls` consecutive polls: "nothing is
 * there" checks (no squiggles) after a positive signal that the thing was computed.
 */
export async function waitSteady(cond, { polls = 3, ...opts } = {}) {
  let streak = 0;
  return waitFor(
    async () => {
      const v = await cond();
      streak = v ? streak + 1 : 0;
      return streak >= polls ? v || true : false;
    },
    { interval: 150, ...opts },
  );
}

/** Waits for a Playwright locator to be visible; the error names what it stands for. */
export async function visible(locator, what, timeout = T(20_000)) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
    return locator.first();
  } catch (e) {
    throw timedOut(what, timeout, undefined, e);
  }
}
