// A time budget for one analysis. The language server analyses on its only thread, so an
// analysis that ran for a minute (a 100,000-tensor model under thousands of rules) would
// leave every other request unanswered. Work is bounded by construction (linear-time
// patterns, capped headers); on top of that, the big loops (tensors x rules, the checks,
// the allocation) call checkDeadline(), and an analysis past its budget stops there with
// a diagnostic instead of running on. Analysis is synchronous, so "the analysis running
// now" is a well-defined ambient value: no parameter threads through every loop.

/** Thrown by checkDeadline; analyze() turns it into the analysis/timeout diagnostic. */
export class AnalysisTimeout extends Error {
  constructor(
    /** What was running when the budget ran out, for the message. */
    readonly step: string,
    readonly limitMs: number,
  ) {
    super(`after ${limitMs} ms while ${step}`);
    this.name = 'AnalysisTimeout';
  }
}

let current: { until: number; limitMs: number } | undefined;

/** Runs fn with a time budget of limitMs (none: unbounded); nested budgets keep the earlier end. */
export function withDeadline<T>(limitMs: number | undefined, fn: () => T): T {
  const prev = current;
  if (limitMs !== undefined) {
    const until = performance.now() + Math.max(0, limitMs);
    if (!prev || until < prev.until) current = { until, limitMs };
  }
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/** Throws AnalysisTimeout when the running analysis is past its budget. Costs one clock read:
 * call it every few hundred iterations of an inner loop, not on every one. */
export function checkDeadline(step: string): void {
  if (current && performance.now() >= current.until) throw new AnalysisTimeout(step, current.limitMs);
}

/** Whether an analysis budget is in force (loops may skip their clock reads when not). */
export function hasDeadline(): boolean {
  return current !== undefined;
}
