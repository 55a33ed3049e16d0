// The run's progress line (core/src/progress.ts). Rewritten in place on a terminal; elsewhere (logs, CI) a plain line now and then: when a
// phase begins or ends a span, and at most every 10 seconds in between.
import type { ProgressEvent } from '../../../core/src/runReport';
export { formatDuration, formatProgress } from '../../../core/src/progress';

/** Which progress events a non-terminal prints: span starts and ends, and one per 10 s. */
export class PlainProgress {
  private last = -Infinity;
  private phase = '';
  constructor(private readonly now: () => number = () => Date.now()) {}
  shouldPrint(e: ProgressEvent): boolean {
    const t = this.now();
    const edge = e.phase !== this.phase || (e.step === e.steps && e.steps > 1 && e.phase !== 'quantize');
    this.phase = e.phase;
    // The tensor lines already tell quantization's progress.
    if (e.phase === 'quantize') return false;
    if (edge || t - this.last >= 10000) {
      this.last = t;
      return true;
    }
    return false;
  }
}
