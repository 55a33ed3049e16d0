// Temporary files of Bitsmith's writes. Every output, translation, report and cache file
// is written under a temporary name beside its destination and renamed into place when
// complete (io/atomicWrite.ts; native/src/io/temp_file.cc and the compressed-tensors
// folder use the same names):
//   .<name>.bitsmith-tmp-<pid>-<random hex>
// where <name> is the destination's file name and <pid> the writing process. A process
// killed mid-write (SIGKILL, power loss) leaves one behind; the next run removes those of
// its destination folders whose process is gone (removeStaleTemps), and nothing else.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const TEMP_NAME = /^\.(.+)\.bitsmith-tmp-(\d+)-([0-9a-f]{1,32})$/;

/** A fresh temporary path beside target (created by the caller with O_EXCL). */
export function tempPathFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.bitsmith-tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`,
  );
}

/** The destination name and the writing process of a temporary name, if it is one. */
export function parseTempName(name: string): { target: string; pid: number } | undefined {
  const m = TEMP_NAME.exec(name);
  return m ? { target: m[1], pid: Number(m[2]) } : undefined;
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes the temporary files (and temporary folders) in `folder` left by processes that
 * are gone; returns their paths. Anything not named like a Bitsmith temporary, or whose
 * process is alive, stays. */
export function removeStaleTemps(folder: string, isAlive: (pid: number) => boolean = pidAlive): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const t = parseTempName(name);
    if (!t || t.pid === process.pid || isAlive(t.pid)) continue;
    const p = path.join(folder, name);
    try {
      const st = fs.lstatSync(p);
      if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
      else fs.unlinkSync(p);
      removed.push(p);
    } catch {
      // gone already, or not ours to remove (permissions): leave it
    }
  }
  return removed;
}
