// Opening the files a model is read from: regular files only, checked before the open,
// because opening a FIFO blocks until a writer appears and reading a device (/dev/zero)
// never ends. Every reader (model headers, config.json, indexes, imatrix, measurement
// tables, recipes) opens through here.

import * as fs from 'fs';
import { ModelReadError } from './types';

// O_NONBLOCK: if the path is swapped for a FIFO between the stat and the open, the open
// returns at once (and the fstat after it refuses the FIFO) instead of blocking.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** Maps a Node fs error to the model error codes. */
export function fsError(err: unknown, file: string, what = 'read'): ModelReadError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ModelReadError('model/not-found', `${file}: no such file or directory`, file);
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new ModelReadError('model/unreadable', `${file}: cannot ${what} (${code ?? reason})`, file);
}

/** What a non-regular file is, for messages. */
export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

function notRegular(file: string, st: fs.Stats, what?: string): ModelReadError {
  return new ModelReadError(
    'model/unreadable',
    `${file}: is ${fileKind(st)}, not a regular file${what ? ` (expected ${what})` : ''}`,
    file,
  );
}

/** Stats a path (following links) and refuses anything but a regular file. */
export function statRegularFile(file: string, what?: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw fsError(err, file, 'stat');
  }
  if (!st.isFile()) throw notRegular(file, st, what);
  return st;
}

/** Opens a regular file for reading without ever blocking; returns the fd and its size. Caller closes. */
export function openRegularFile(file: string, what?: string): { fd: number; size: number } {
  statRegularFile(file, what);
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw fsError(err, file, 'open');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw notRegular(file, st, what);
    return { fd, size: st.size };
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof ModelReadError) throw err;
    throw fsError(err, file, 'stat');
  }
}

/**
 * The bytes of a regular file of at most `maxBytes` (refused before reading when larger:
 * model/header-too-large). Reads what the file held when opened, even if it grows.
 */
export function readRegularFile(file: string, maxBytes: number, what: string): Buffer {
  const { fd, size } = openRegularFile(file, what);
  try {
    if (size > maxBytes) {
      throw new ModelReadError('model/header-too-large', `${file}: ${what} is ${size} bytes (limit ${maxBytes})`, file);
    }
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, done, size - done, done);
      } catch (err) {
        throw fsError(err, file);
      }
      if (n === 0) break; // shrank while reading: the JSON parser reports the cut
      done += n;
    }
    return done === size ? buf : buf.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

/** Recipes are a few KiB; anything past this is not one. */
export const MAX_RECIPE_BYTES = 16 * 1024 * 1024;

/** A recipe's text from disk (a regular file of at most MAX_RECIPE_BYTES; ModelReadError otherwise). */
export function readRecipeFile(file: string): string {
  return readRegularFile(file, MAX_RECIPE_BYTES, 'a recipe').toString('utf8');
}

/** Whether a path is a regular file (following links); false for anything else or nothing. */
export function isRegularFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
