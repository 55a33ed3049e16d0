// Header-level reader of llama.cpp importance matrices (llama-imatrix output) for the
// analyzer and the language server: entry names and sizes, never the values (the native
// reader, native/src/io/imatrix.cc, reads and checks those when a run starts).
//
//  - legacy .dat: i32 entry count; per entry i32 name length, the name, i32 ncall, i32 nval,
//    f32[nval]; then, optional in older files, i32 last chunk and the dataset name (i32
//    length + bytes). The format does not record MoE expert matrices: nIn = nval, nMat = 1.
//  - GGUF: general.type = "imatrix"; per weight `<name>.in_sum2` (F32, ne [n_in, n_mat]) and
//    `<name>.counts` (F32, n_mat values); read with the project's GGUF header reader.
// Every count and length is checked against the bytes left before it is used, with
// synchronous bounded reads (as the model readers do). Errors name the file and the entry.

import * as path from 'path';
import { readGgufHeader } from './gguf';
import { readExact, withModelFile, type OpenFile } from './safetensors';
import { ModelReadError } from './types';

export interface ImatrixEntryInfo {
  /** As in the file: llama.cpp tensor names such as blk.3.ffn_down.weight. */
  name: string;
  /** Values per matrix (the weight's input features). */
  nIn: number;
  /** Matrices (MoE experts); legacy files: 1. */
  nMat: number;
}

export interface ImatrixHeader {
  path: string;
  format: 'gguf' | 'dat';
  entries: ImatrixEntryInfo[];
  /** The dataset name (legacy trailer) or the first of imatrix.datasets (GGUF), when present. */
  dataset?: string;
}

export type ImatrixErrorCode = 'calibration/not-found' | 'calibration/unreadable' | 'calibration/bad-imatrix';

export class ImatrixReadError extends Error {
  constructor(
    readonly code: ImatrixErrorCode,
    message: string,
    readonly file: string,
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'ImatrixReadError';
  }
}

const MAX_NAME = 4096;

/** Reads and validates the header of an imatrix file (either format, from its first bytes). */
export function readImatrixHeader(file: string): ImatrixHeader {
  const abs = path.resolve(file);
  let legacy: ImatrixHeader | undefined;
  try {
    legacy = withModelFile(abs, (f) => {
      if (f.size >= 4 && readExact(f, 0, 4, 'the magic').toString('latin1') === 'GGUF') return undefined;
      return readLegacy(f, abs);
    });
  } catch (e) {
    if (e instanceof ImatrixReadError) throw e;
    if (e instanceof ModelReadError) {
      throw new ImatrixReadError(
        e.code === 'model/not-found' ? 'calibration/not-found' : 'calibration/unreadable',
        e.message,
        abs,
      );
    }
    throw e;
  }
  return legacy ?? readGgufImatrix(abs);
}

function readLegacy(f: OpenFile, file: string): ImatrixHeader {
  const bad = (msg: string, entry?: string) =>
    new ImatrixReadError('calibration/bad-imatrix', `${file}: ${entry ? `entry "${entry}": ` : ''}${msg}`, file, entry);
  let pos = 0;
  const left = () => f.size - pos;
  const i32 = (what: string, entry?: string): number => {
    if (left() < 4) throw bad(`file ends while reading ${what} at byte ${pos} (truncated?)`, entry);
    const v = readExact(f, pos, 4, what).readInt32LE(0);
    pos += 4;
    return v;
  };
  const n = i32('the entry count');
  if (n < 1) throw bad(`entry count ${n} (must be >= 1); not a llama.cpp imatrix file?`);
  // The smallest entry: name length, a 1-byte name, ncall, nval and one value (17 bytes).
  if (n > Math.floor(left() / 17))
    throw bad(`entry count ${n} cannot fit in the ${left()} bytes that follow (truncated, or not an imatrix file)`);
  const entries: ImatrixEntryInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const at = `entry #${i}`;
    const len = i32(`the name length of ${at}`);
    if (len < 1 || len > MAX_NAME) throw bad(`${at}: name length ${len} (must be 1..${MAX_NAME})`);
    if (len > left()) throw bad(`${at}: file ends inside the ${len}-byte name (truncated?)`);
    const name = readExact(f, pos, len, `the name of ${at}`).toString('utf8');
    pos += len;
    if (seen.has(name)) throw bad('appears twice', name);
    seen.add(name);
    const ncall = i32('ncall', name);
    const nval = i32('the value count', name);
    if (ncall < 0) throw bad(`ncall ${ncall} is negative`, name);
    if (nval < 1) throw bad(`value count ${nval} (must be >= 1)`, name);
    if (nval > Math.floor(left() / 4))
      throw bad(`${nval} values need ${4 * nval} bytes, ${left()} are left (truncated?)`, name);
    pos += 4 * nval;
    entries.push({ name, nIn: nval, nMat: 1 });
  }
  let dataset: string | undefined;
  if (left() > 0) {
    i32('the chunk count after the entries');
    if (left() > 0) {
      const len = i32('the dataset name length');
      if (len < 0 || len > left()) throw bad(`dataset name length ${len} does not fit the ${left()} bytes left`);
      dataset = readExact(f, pos, len, 'the dataset name').toString('utf8');
      pos += len;
      if (left() > 0) throw bad(`${left()} unexpected bytes after the dataset name`);
    }
  }
  return { path: file, format: 'dat', entries, ...(dataset !== undefined ? { dataset } : {}) };
}

function readGgufImatrix(file: string): ImatrixHeader {
  let h;
  try {
    h = readGgufHeader(file);
  } catch (e) {
    if (e instanceof ModelReadError)
      throw new ImatrixReadError('calibration/bad-imatrix', `${e.message} (reading it as a GGUF imatrix)`, file);
    throw e;
  }
  const bad = (msg: string, entry?: string) =>
    new ImatrixReadError('calibration/bad-imatrix', `${file}: ${entry ? `entry "${entry}": ` : ''}${msg}`, file, entry);
  const type = h.metadata['general.type'];
  if (type !== 'imatrix') {
    throw bad(
      type === undefined
        ? 'a GGUF without general.type = "imatrix": a model, not an importance matrix?'
        : `general.type is ${JSON.stringify(type)}, not "imatrix": a model, not an importance matrix?`,
    );
  }
  const parts = new Map<string, { sums?: (typeof h.tensors)[number]; counts?: (typeof h.tensors)[number] }>();
  for (const t of h.tensors) {
    const m = /^(.+)\.(in_sum2|counts)$/.exec(t.name);
    if (!m) continue;
    const p = parts.get(m[1]) ?? {};
    if (m[2] === 'in_sum2') p.sums = t;
    else p.counts = t;
    parts.set(m[1], p);
  }
  if (parts.size === 0) throw bad('no <name>.in_sum2 / <name>.counts tensors');
  const entries: ImatrixEntryInfo[] = [];
  for (const name of [...parts.keys()].sort()) {
    const { sums, counts } = parts.get(name)!;
    if (!sums) throw bad(`has ${name}.counts but no ${name}.in_sum2`, name);
    if (!counts) throw bad(`has ${name}.in_sum2 but no ${name}.counts`, name);
    for (const t of [sums, counts])
      if (t.dtype !== 'F32') throw bad(`${t.name} is ${t.dtype} (llama-imatrix writes F32)`, name);
    if (sums.shape.length < 1 || sums.shape.length > 2)
      throw bad(`${name}.in_sum2 has ${sums.shape.length} dimensions (expected ne [n_in, n_mat])`, name);
    const nIn = sums.shape[sums.shape.length - 1];
    const nMat = sums.shape.length === 2 ? sums.shape[0] : 1;
    if (nIn < 1 || nMat < 1) throw bad(`${name}.in_sum2 is empty`, name);
    if (counts.elements !== nMat) throw bad(`${name}.counts has ${counts.elements} values for ${nMat} matrices`, name);
    entries.push({ name, nIn, nMat });
  }
  const ds = h.metadata['imatrix.datasets'];
  const dataset = Array.isArray(ds) && typeof ds[0] === 'string' ? ds[0] : undefined;
  return { path: file, format: 'gguf', entries, ...(dataset !== undefined ? { dataset } : {}) };
}
