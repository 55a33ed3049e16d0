// How a run's progress reads (the CLI's line, the editor's notification): phase, what is
// being done, step/steps, elapsed and ETA, the whole run's percentage.
import type { ProgressEvent } from './runReport';

export function formatDuration(s: number): string {
  if (!isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60),
    r = Math.round(s - 60 * m);
  if (m < 60) return `${m} min ${r} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatProgress(e: ProgressEvent): string {
  const eta = e.eta === null ? '' : `, ETA ${formatDuration(e.eta)}`;
  return `${e.phase}: ${e.label} [${e.step}/${e.steps}] ${formatDuration(e.elapsed)}${eta} (run ${Math.floor(100 * e.fraction)}%)`;
}
