// Model headers by absolute path, read once and reused while the user types. An entry is
// valid while the files it was read from keep their size and mtime (a stat is cheap; a
// header read is not, for a sharded or GGUF model), and is dropped when the client reports
// a change to one of them (workspace/didChangeWatchedFiles). Read failures are cached the
// same way, so a recipe naming a missing model does not hit the disk on every keystroke.
import * as fs from 'fs';
import * as path from 'path';
import { ModelReadError, readModelHeader, type ModelHeader } from '../../core/src/index';

type Stamp = string;

interface Entry {
  header?: ModelHeader;
  error?: ModelReadError;
  /** File -> size:mtime (or 'missing') when the entry was made. */
  stamps: Map<string, Stamp>;
}

function stamp(file: string): Stamp {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? `${st.size}:${st.mtimeMs}` : 'missing';
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  /** Header reads actually performed (for tests and the benchmark). */
  reads = 0;

  constructor(private readonly read: (absolutePath: string) => ModelHeader = readModelHeader) {}

  /** The header of the model at `absolutePath`; throws the (cached) ModelReadError. */
  load(absolutePath: string): ModelHeader {
    const key = path.resolve(absolutePath);
    let entry = this.entries.get(key);
    if (entry && !this.valid(entry)) entry = undefined;
    if (!entry) {
      entry = this.readEntry(key);
      this.entries.set(key, entry);
    }
    if (entry.error) throw entry.error;
    return entry.header!;
  }

  /** Drops entries that depend on any of these files (or folders). Returns whether any was dropped. */
  invalidate(changed: string[]): boolean {
    let dropped = false;
    for (const [key, entry] of this.entries) {
      const hit = changed.some((c) => isInside(c, key) || isInside(key, c) || entry.stamps.has(c));
      if (hit) {
        this.entries.delete(key);
        dropped = true;
      }
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
  }

  private readEntry(key: string): Entry {
    // Stamp before reading: a file changing during the read then fails validation next time.
    const stamps = new Map<string, Stamp>([[key, stamp(key)]]);
    this.reads++;
    try {
      const header = this.read(key);
      for (const f of header.files) if (!stamps.has(f)) stamps.set(f, stamp(f));
      return { header, stamps };
    } catch (e) {
      const error =
        e instanceof ModelReadError
          ? e
          : new ModelReadError('model/unreadable', `Cannot read model ${key}: ${(e as Error).message}`, key);
      if (error.file && !stamps.has(error.file)) stamps.set(error.file, stamp(error.file));
      return { error, stamps };
    }
  }

  private valid(entry: Entry): boolean {
    for (const [file, s] of entry.stamps) if (stamp(file) !== s) return false;
    return true;
  }
}
