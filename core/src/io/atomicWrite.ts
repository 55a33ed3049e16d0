// One file written whole or not at all: into a temporary file beside the destination
// (O_EXCL, named as io/tempNames.ts says), flushed to disk, then renamed into place. A
// failed write (a full disk, a quota, a size limit) is an error naming the file and the
// bytes, and leaves no temporary file. Right before the rename the destination is compared
// with what the caller checked (`replaces`), so a file that appeared or changed meanwhile
// is never overwritten.
import * as fs from 'fs';
import * as path from 'path';
import { tempPathFor } from './tempNames';

export interface AtomicWriteOptions {
  mode?: number;
  /**
   * What may be at the destination when the file is renamed there:
   *  undefined: anything (a file only Bitsmith writes, e.g. a report or a cache),
   *  null: nothing (the rename never replaces a file),
   *  a string: the file with this identity (dev:ino:size:mtimeNs, analysis/outputFacts.ts), unchanged.
   */
  replaces?: string | null;
}

/** Why a write failed, in words (with the errno code). */
export function describeWriteError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EFBIG: 'file too large for the file system or the process limit',
    EROFS: 'read-only file system',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EIO: 'input/output error',
  };
  return code ? `${words[code] ?? (e as Error).message}; ${code}` : String((e as Error).message ?? e);
}

export function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const dir = path.dirname(target);
  let tmp = '';
  let fd = -1;
  for (let attempt = 0; fd < 0; attempt++) {
    tmp = tempPathFor(target);
    try {
      fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue;
      throw new Error(`${target}: cannot create a temporary file in ${dir} (${describeWriteError(e)})`);
    }
  }
  const discard = () => {
    try {
      if (fd >= 0) fs.closeSync(fd);
    } catch {
      // closing a failed file: its error was reported already
    }
    fd = -1;
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
  };
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
  } catch (e) {
    discard();
    throw new Error(`${target}: cannot write ${bytes.length} bytes (${describeWriteError(e)}); nothing was written`);
  }
  try {
    renameInto(tmp, target, opts.replaces);
  } catch (e) {
    discard();
    throw e;
  }
}

/** Renames a finished temporary file onto target if target is still what `replaces` says. */
export function renameInto(tmp: string, target: string, replaces: string | null | undefined): void {
  if (replaces !== undefined) {
    const st = fs.lstatSync(target, { bigint: true, throwIfNoEntry: false });
    const now = st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : null;
    if (now !== null && now !== replaces)
      throw new Error(
        `${target} ${replaces === null ? 'appeared' : 'changed'} after Bitsmith checked it: not replaced (the new file was discarded)`,
      );
    if (now === null) {
      // No-replace: link() fails with EEXIST when something is there (atomically).
      try {
        fs.linkSync(tmp, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' || fs.lstatSync(target, { throwIfNoEntry: false }))
          throw new Error(
            `${target} appeared while Bitsmith was writing it: not replaced (the new file was discarded)`,
          );
        // A file system without hard links: checked just above, now renamed.
        return renameOrThrow(tmp, target);
      }
      try {
        fs.unlinkSync(tmp);
      } catch {
        // the second name of the finished file: removed as a stale temporary by the next run
      }
      return;
    }
  }
  renameOrThrow(tmp, target);
}

function renameOrThrow(tmp: string, target: string): void {
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    throw new Error(`${target}: cannot rename the finished file into place (${describeWriteError(e)})`);
  }
}
