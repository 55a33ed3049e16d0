// Reads the header of a .safetensors file: u64 little-endian length N, then N bytes of
// UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets}, plus "__metadata__".
// Only the 8 + N header bytes are read; tensor data is never touched.
//
// This file also holds the small bounded-I/O and JSON helpers the other readers share
// (gguf.ts, llama2c.ts, hfFolder.ts), since safetensors is the base format they build on.

import * as fs from 'fs';
import * as path from 'path';
import { fsError, openRegularFile } from './files';
import { JsonError, JsonNonInteger, lineColumn, parseStrictJson, type JsonOptions } from './json';
import { DTYPE_BITS, MAX_TENSORS, ModelReadError, TensorInfo } from './types';

/** A JSON header larger than this is treated as hostile (real ones are a few MiB at most). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

export interface SafetensorsHeader {
  tensors: TensorInfo[];
  metadata: Record<string, string>;
}

// ---------------------------------------------------------------------------------------
// Shared helpers: open with error mapping, exact bounded reads, JSON with error positions.

export { fsError };

/** An open file descriptor with the file's size, for bounded header reads. */
export interface OpenFile {
  fd: number;
  size: number;
  file: string;
}

/** Opens a regular file for reading (never a FIFO or device: see files.ts). Caller closes. */
export function openModelFile(file: string): OpenFile {
  return { ...openRegularFile(file, 'a model file'), file };
}

/** Runs fn with an open file and always closes it. */
export function withModelFile<T>(file: string, fn: (f: OpenFile) => T): T {
  const f = openModelFile(file);
  try {
    return fn(f);
  } finally {
    fs.closeSync(f.fd);
  }
}

/** Reads exactly `length` bytes at `position`; a short file gives model/truncated. */
export function readExact(f: OpenFile, position: number, length: number, what: string): Buffer {
  if (position + length > f.size) {
    throw new ModelReadError(
      'model/truncated',
      `${f.file}: file ends while reading ${what} (needs bytes ${position}..${position + length}, file has ${f.size})`,
      f.file,
    );
  }
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(f.fd, buf, done, length - done, position + done);
    } catch (err) {
      throw fsError(err, f.file);
    }
    if (n === 0) {
      throw new ModelReadError('model/truncated', `${f.file}: file ended early while reading ${what}`, f.file);
    }
    done += n;
  }
  return buf;
}

/** Strict JSON (see json.ts) with errors naming the file, line and column. */
export function parseJsonText(text: string, file: string, what = 'JSON', options: JsonOptions = {}): unknown {
  try {
    return parseStrictJson(text, options);
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    const { line, column } = lineColumn(text, e.offset);
    const found = e.offset >= text.length ? 'end of input' : JSON.stringify(text.slice(e.offset, e.offset + 12));
    const err = new ModelReadError(
      'model/bad-json',
      `${file}: invalid ${what} at line ${line}, column ${column} (position ${e.offset}): ${e.reason} (found ${found})`,
      file,
    );
    err.cause = e;
    throw err;
  }
}

/** UTF-8 bytes to text, refusing invalid sequences (a replacement character would hide a corrupt name). */
export function decodeUtf8(bytes: Uint8Array, file: string, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ModelReadError('model/bad-json', `${file}: ${what} is not valid UTF-8`, file);
  }
}

/**
 * Product of non-negative integer dims, or undefined when not exactly representable
 * (above 2^53). A zero dim makes the product 0 whatever the others are.
 */
export function safeProduct(dims: readonly number[]): number | undefined {
  if (dims.some((d) => d === 0)) return 0;
  let p = 1;
  for (const d of dims) {
    if (p > Number.MAX_SAFE_INTEGER / d) return undefined;
    p *= d;
  }
  return p;
}

// ---------------------------------------------------------------------------------------

/** Reads and validates a safetensors header. Offsets in the result are absolute. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const abs = path.resolve(file);
  return withModelFile(abs, (f) => {
    const lenBuf = readExact(f, 0, 8, 'the 8-byte header length');
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(MAX_SAFETENSORS_HEADER)) {
      throw new ModelReadError(
        'model/header-too-large',
        `${abs}: safetensors header claims ${n} bytes (limit ${MAX_SAFETENSORS_HEADER}); not a safetensors file or corrupt`,
        abs,
      );
    }
    const headerLen = Number(n);
    const headerBytes = readExact(f, 8, headerLen, `the ${headerLen}-byte JSON header`);
    const text = decodeUtf8(headerBytes, abs, 'the safetensors header');
    let json: unknown;
    try {
      json = parseJsonText(text, abs, 'safetensors JSON header', { exactIntegers: true });
    } catch (e) {
      // Two entries under one name: which one is the tensor? (The native reader refuses too.)
      const dup = e instanceof ModelReadError ? (e.cause as JsonError | undefined)?.duplicate : undefined;
      if (dup && dup.depth === 1)
        throw new ModelReadError(
          'model/bad-header',
          `${abs}: key "${dup.key}" appears twice in the header`,
          abs,
          dup.key,
        );
      throw e;
    }
    return parseHeaderJson(json, abs, 8 + headerLen, f.size - 8 - headerLen);
  });
}

function parseHeaderJson(json: unknown, file: string, dataStart: number, dataSize: number): SafetensorsHeader {
  if (!isPlainObject(json)) {
    throw new ModelReadError('model/bad-header', `${file}: safetensors header must be a JSON object`, file);
  }
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  const ranges: { begin: number; end: number; name: string }[] = [];

  const names = Object.keys(json);
  if (names.length > MAX_TENSORS + 1) {
    throw new ModelReadError(
      'model/header-too-large',
      `${file}: safetensors header lists ${names.length} entries (limit ${MAX_TENSORS} tensors)`,
      file,
    );
  }
  for (const name of names) {
    const entry = json[name];
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) {
        throw new ModelReadError('model/bad-header', `${file}: "__metadata__" must be an object of strings`, file);
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') {
          throw new ModelReadError(
            'model/bad-header',
            `${file}: "__metadata__" value for "${k}" is not a string`,
            file,
          );
        }
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (name === '') throw new ModelReadError('model/bad-header', `${file}: a tensor has an empty name`, file, name);
    if (!isPlainObject(entry)) {
      throw new ModelReadError('model/bad-header', `${where}: entry must be an object`, file, name);
    }
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') {
      throw new ModelReadError('model/bad-header', `${where}: missing string "dtype"`, file, name);
    }
    const bits = DTYPE_BITS[dtype];
    if (bits === undefined || !Object.prototype.hasOwnProperty.call(DTYPE_BITS, dtype)) {
      throw new ModelReadError('model/unknown-dtype', `${where}: unknown dtype "${dtype}"`, file, name);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ModelReadError(
        'model/bad-shape',
        `${where}: shape must be a list of non-negative integers, got ${short(shape)}`,
        file,
        name,
      );
    }
    const elements = safeProduct(shape as number[]);
    const bytes = elements === undefined ? undefined : (elements * bits) / 8;
    if (elements === undefined || bytes === undefined || !Number.isSafeInteger(bytes)) {
      throw new ModelReadError(
        'model/bad-shape',
        `${where}: shape ${short(shape)} has too many elements (over 2^53)`,
        file,
        name,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new ModelReadError(
        'model/bad-offsets',
        `${where}: data_offsets must be [begin, end] non-negative integers, got ${short(offsets)}`,
        file,
        name,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) {
      throw new ModelReadError(
        'model/bad-offsets',
        `${where}: data_offsets [${begin}, ${end}] end before begin`,
        file,
        name,
      );
    }
    if (end - begin !== bytes) {
      throw new ModelReadError(
        'model/bad-shape',
        `${where}: shape ${short(shape)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
        file,
        name,
      );
    }
    if (end > dataSize) {
      throw new ModelReadError(
        'model/truncated',
        `${where}: data_offsets [${begin}, ${end}] run past the end of the file (data section is ${Math.max(dataSize, 0)} bytes; truncated?)`,
        file,
        name,
      );
    }
    ranges.push({ begin, end, name });
    tensors.push({
      name,
      shape: shape as number[],
      dtype,
      bitsPerElement: bits,
      elements,
      bytes,
      file,
      offset: dataStart + begin,
    });
  }

  // Overlapping data would mean two tensors share bytes: reject (zero-size tensors never overlap).
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: { begin: number; end: number; name: string } | undefined;
  for (const r of ranges) {
    if (r.end === r.begin) continue;
    if (prev && r.begin < prev.end) {
      throw new ModelReadError(
        'model/bad-offsets',
        `${file}: tensor "${r.name}" data [${r.begin}, ${r.end}] overlaps tensor "${prev.name}" [${prev.begin}, ${prev.end}]`,
        file,
      );
    }
    prev = r;
  }
  return { tensors, metadata };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A header value as written (numbers like 2.0 keep their form), cut to 80 characters. */
function short(v: unknown): string {
  const s = render(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function render(v: unknown): string {
  if (v instanceof JsonNonInteger) return v.text;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length && out.length <= 80; i++) out += (i ? ', ' : '') + render(v[i]);
    return out + ']';
  }
  return JSON.stringify(v) ?? String(v);
}
