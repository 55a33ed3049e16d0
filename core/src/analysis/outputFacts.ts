// The file-system facts the output-safety rule (outputSafety.ts) needs, read with Node's
// fs: lstat, realpath, and provenance (whether Bitsmith wrote a file or folder, from the
// marks in export/provenance.ts). Provenance reads headers, so it is cached by the file's
// identity (device, inode, size, mtime): the editor asks on every keystroke.
import * as fs from 'fs';
import * as path from 'path';
import { readGgufHeader } from '../models/gguf';
import { readImatrixHeader } from '../models/imatrix';
import { readSafetensorsHeader } from '../models/safetensors';
import {
  folderMarkerProblem,
  hasTranslationMark,
  OUTPUT_MARKER,
  parseFolderMarker,
  type FolderEntryNow,
} from '../io/provenance';
import type { Entry, EntryKind, OutputFacts, Provenance } from './outputSafety';

const MAX_MARKER_BYTES = 1 << 20;

function kindOf(st: fs.BigIntStats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'folder';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'other';
}

/** The identity a writer compares right before it replaces a file: dev:ino:size:mtimeNs. */
export function identityOf(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
}

/** lstat as an Entry; undefined when nothing is there. */
export function entryAt(p: string): Entry | undefined {
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return undefined;
    return { kind: 'unreadable', id: '', detail: code ?? (e as Error).message };
  }
  if (!st) return undefined;
  const kind = kindOf(st);
  let detail: string | undefined;
  if (kind === 'symlink') {
    try {
      detail = fs.readlinkSync(p);
    } catch {
      detail = undefined;
    }
  }
  return { kind, id: identityOf(st), detail };
}

export function realPathOf(p: string): string {
  // Up to the deepest existing ancestor without exceptions (they cost ~30 us each: the
  // editor resolves every output path on every analysis), then one realpath.
  const rest: string[] = [];
  let cur = path.resolve(p);
  while (!fs.existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) return path.resolve(p);
    rest.push(path.basename(cur));
    cur = up;
  }
  let real: string;
  try {
    real = fs.realpathSync.native(cur);
  } catch {
    return path.resolve(p);
  }
  for (let i = rest.length - 1; i >= 0; i--) real = path.join(real, rest[i]);
  return real;
}

const cache = new Map<string, { id: string; result: Provenance }>();

function cached(p: string, compute: () => Provenance): Provenance {
  const e = entryAt(p);
  const id = e?.id ?? '';
  const hit = cache.get(p);
  if (hit && hit.id === id && id !== '') return hit.result;
  const result = compute();
  if (cache.size > 256) cache.clear();
  cache.set(p, { id, result });
  return result;
}

/** Whether Bitsmith wrote this regular file: GGUF or safetensors with its metadata, or a translation with its mark. */
export function fileProvenanceOf(p: string): Provenance {
  return cached(p, () => {
    let head: Buffer;
    try {
      const fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
      try {
        head = Buffer.alloc(4096);
        head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      return {
        bitsmith: false,
        reason: `cannot be read to see who wrote it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      };
    }
    const none: Provenance = { bitsmith: false, reason: 'Bitsmith did not write it (it carries no Bitsmith mark)' };
    if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'GGUF') {
      try {
        const v = readGgufHeader(p).metadata['bitsmith.version'];
        return typeof v === 'string'
          ? { bitsmith: true }
          : { bitsmith: false, reason: 'Bitsmith did not write it (a GGUF file without bitsmith.version)' };
      } catch {
        return { bitsmith: false, reason: 'is a GGUF file Bitsmith cannot read, so it cannot tell who wrote it' };
      }
    }
    if (head.length > 9 && head.readBigUInt64LE(0) < BigInt(1) << BigInt(40) && head[8] === 0x7b /* { */) {
      try {
        const v = readSafetensorsHeader(p).metadata['bitsmith.version'];
        return typeof v === 'string'
          ? { bitsmith: true }
          : {
              bitsmith: false,
              reason: 'Bitsmith did not write it (a safetensors file without its bitsmith.* metadata)',
            };
      } catch {
        return none;
      }
    }
    // A legacy imatrix (.dat) Bitsmith wrote: its dataset name says so.
    if (/\.(dat|imatrix)$/i.test(p)) {
      try {
        if (readImatrixHeader(p).dataset?.startsWith('bitsmith ')) return { bitsmith: true };
      } catch {
        // not an imatrix: fall through
      }
    }
    return hasTranslationMark(head.toString('utf8')) ? { bitsmith: true } : none;
  });
}

/** Whether a folder is empty or holds exactly the files its Bitsmith marker lists, unchanged. */
export function folderProvenanceOf(p: string): Provenance {
  let names: string[];
  try {
    names = fs.readdirSync(p);
  } catch (e) {
    return {
      bitsmith: false,
      reason: `cannot be listed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    };
  }
  if (names.length === 0) return { bitsmith: true };
  const markerPath = path.join(p, OUTPUT_MARKER);
  const m = entryAt(markerPath);
  if (m?.kind !== 'file')
    return {
      bitsmith: false,
      reason: `Bitsmith did not write it (it has no ${OUTPUT_MARKER}; nor has a folder an earlier Bitsmith wrote)`,
    };
  let marker;
  try {
    const st = fs.statSync(markerPath);
    marker = st.size <= MAX_MARKER_BYTES ? parseFolderMarker(fs.readFileSync(markerPath, 'utf8')) : undefined;
  } catch {
    marker = undefined;
  }
  if (!marker) return { bitsmith: false, reason: `Bitsmith did not write it (its ${OUTPUT_MARKER} is not Bitsmith's)` };
  const entries: FolderEntryNow[] = [];
  for (const name of names) {
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.lstatSync(path.join(p, name), { bigint: true });
    } catch {
      st = undefined;
    }
    entries.push({
      name,
      kind: st ? kindOf(st) : 'unreadable',
      size: st ? Number(st.size) : -1,
      mtimeMs: st ? Number(st.mtimeNs / BigInt(1000000)) : -1,
    });
  }
  const problem = folderMarkerProblem(marker, entries);
  return problem ? { bitsmith: false, reason: problem } : { bitsmith: true };
}

/** The facts from this machine's file system. */
export const nodeOutputFacts: OutputFacts = {
  entry: entryAt,
  realPath: realPathOf,
  fileProvenance: fileProvenanceOf,
  folderProvenance: folderProvenanceOf,
};
