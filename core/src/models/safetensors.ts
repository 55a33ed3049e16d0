// Reads the header of a .safetensors file: u64 little-endian length N, then N bytes of
// UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets}, plus "__metadata__".
// Only the 8 + N header bytes are read; tensor data is never touched.
//
// This file also holds the small bounded-I/O and JSON helpers the other readers share
// (gguf.ts, llama2c.ts, hfFolder.ts), since safetensors is the base format they build on.

import * as fs from 'fs';
import * as path from 'path';
import { DTYPE_BITS, ModelReadError, TensorInfo } from './types';

/** A JSON header larger than this is treated as hostile (real ones are a few MiB at most). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

export interface SafetensorsHeader {
  tensors: TensorInfo[];
  metadata: Record<string, string>;
}

// ---------------------------------------------------------------------------------------
// Shared helpers: open with error mapping, exact bounded reads, JSON with error positions.

/** Maps a Node fs error to the contract's error codes. */
export function fsError(err: unknown, file: string, what = 'read'): ModelReadError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ModelReadError('model/not-found', `${file}: no such file or directory`, file);
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new ModelReadError('model/unreadable', `${file}: cannot ${what} (${code ?? reason})`, file);
}

/** An open file descriptor with the file's size, for bounded header reads. */
export interface OpenFile {
  fd: number;
  size: number;
  file: string;
}

/** Opens a regular file for reading, mapping fs errors to ModelReadError. Caller closes. */
export function openModelFile(file: string): OpenFile {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw fsError(err, file, 'open');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new ModelReadError('model/unreadable', `${file}: not a regular file`, file);
    }
    return { fd, size: st.size, file };
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof ModelReadError) throw err;
    throw fsError(err, file, 'stat');
  }
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

/**
 * JSON.parse with a precise error: V8's messages do not always carry a position (and may
 * echo the whole input), so on failure we locate the first bad character ourselves.
 */
export function parseJsonText(text: string, file: string, what = 'JSON'): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const at = jsonErrorOffset(text);
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1) + 1;
    const found =
      at >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(text.slice(at, at + 12))}`;
    throw new ModelReadError(
      'model/bad-json',
      `${file}: invalid ${what} at line ${line}, column ${column} (position ${at}): ${found}`,
      file,
    );
  }
}

/** Offset of the first character where `s` stops being valid JSON (s.length for a cut-off input). */
function jsonErrorOffset(s: string): number {
  let i = 0;
  const stack: string[] = [];
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = (): boolean => {
    i++; // opening quote
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = s[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
          continue;
        }
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          i += 6;
          continue;
        }
        i++;
        return false;
      }
      i++;
    }
    return false;
  };
  const key = (): boolean => {
    ws();
    if (s[i] !== '"' || !str()) return false;
    ws();
    if (s[i] !== ':') return false;
    i++;
    return true;
  };
  const numberRe = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  for (;;) {
    // Expecting a value.
    ws();
    if (i >= s.length) return s.length;
    const c = s[i];
    let closedEmpty = false;
    if (c === '{' || c === '[') {
      i++;
      ws();
      if (s[i] === (c === '{' ? '}' : ']')) {
        i++;
        closedEmpty = true;
      } else {
        stack.push(c);
        if (c === '{' && !key()) return i;
        continue;
      }
    }
    if (!closedEmpty) {
      if (c === '"') {
        if (!str()) return i;
      } else if (s.startsWith('true', i)) i += 4;
      else if (s.startsWith('false', i)) i += 5;
      else if (s.startsWith('null', i)) i += 4;
      else {
        numberRe.lastIndex = i;
        const m = numberRe.exec(s);
        if (!m) return i;
        i += m[0].length;
      }
    }
    // After a value: close containers or continue with a separator.
    for (;;) {
      ws();
      if (stack.length === 0) return i < s.length ? i : 0;
      const top = stack[stack.length - 1];
      if (s[i] === ',') {
        i++;
        if (top === '{' && !key()) return i;
        break;
      }
      if (s[i] === (top === '{' ? '}' : ']')) {
        i++;
        stack.pop();
        continue;
      }
      return i;
    }
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
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw new ModelReadError('model/bad-json', `${abs}: safetensors header is not valid UTF-8`, abs);
    }
    const json = parseJsonText(text, abs, 'safetensors JSON header');
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

  for (const [name, entry] of Object.entries(json)) {
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
    if (!isPlainObject(entry)) {
      throw new ModelReadError('model/bad-header', `${where}: entry must be an object`, file);
    }
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') {
      throw new ModelReadError('model/bad-header', `${where}: missing string "dtype"`, file);
    }
    const bits = DTYPE_BITS[dtype];
    if (bits === undefined || !Object.prototype.hasOwnProperty.call(DTYPE_BITS, dtype)) {
      throw new ModelReadError('model/unknown-dtype', `${where}: unknown dtype "${dtype}"`, file);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ModelReadError(
        'model/bad-shape',
        `${where}: shape must be a list of non-negative integers, got ${short(shape)}`,
        file,
      );
    }
    const elements = safeProduct(shape as number[]);
    const bytes = elements === undefined ? undefined : (elements * bits) / 8;
    if (elements === undefined || bytes === undefined || !Number.isSafeInteger(bytes)) {
      throw new ModelReadError(
        'model/bad-shape',
        `${where}: shape ${short(shape)} has too many elements (over 2^53)`,
        file,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new ModelReadError(
        'model/bad-offsets',
        `${where}: data_offsets must be [begin, end] non-negative integers, got ${short(offsets)}`,
        file,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) {
      throw new ModelReadError('model/bad-offsets', `${where}: data_offsets [${begin}, ${end}] end before begin`, file);
    }
    if (end - begin !== bytes) {
      throw new ModelReadError(
        'model/bad-shape',
        `${where}: shape ${short(shape)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
        file,
      );
    }
    if (end > dataSize) {
      throw new ModelReadError(
        'model/bad-offsets',
        `${where}: data_offsets [${begin}, ${end}] run past the end of the file (data section is ${Math.max(dataSize, 0)} bytes; truncated?)`,
        file,
      );
    }
    ranges.push({ begin, end, name });
    tensors.push({
      name,
      shape: [...(shape as number[])],
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

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
