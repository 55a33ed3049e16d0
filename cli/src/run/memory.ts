// The machine's available memory for the run's up-front check: MemAvailable from
// /proc/meminfo (what Linux can give without swapping), else os.freemem().
import * as fs from 'fs';
import * as os from 'os';

export function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

/** The worker threads a run will use (0: all cores). */
export function effectiveThreads(threads: number): number {
  return threads > 0 ? threads : Math.max(1, os.cpus().length);
}
