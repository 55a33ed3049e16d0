// Reads the header of a GGUF (v2/v3, little-endian) file: metadata key/values and tensor
// infos. Tensor data is never read.
//
// Hand-written rather than using the npm package @huggingface/gguf: that package is
// Promise-only (built around range fetches), materialises whole metadata arrays, and
// throws plain Errors; we need a synchronous reader with bounded allocations whose
// failures carry ModelReadError codes. The format is small enough (~250 lines here).
//
// Layout: "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv pairs, tensor infos,
// padding to general.alignment (default 32), then tensor data. Strings are u64 length +
// UTF-8 bytes. Every length and count is checked against the bytes left in the file (and
// a header cap) before anything is allocated or looped over.

import * as path from 'path';
import { MAX_TENSORS, ModelReadError, TensorInfo } from './types';
import { OpenFile, readExact, safeProduct, withModelFile } from './safetensors';

/** ggml tensor types: block size (elements) and bytes per block. */
export interface GgmlType {
  name: string;
  blockSize: number;
  typeSize: number;
}

// Values from ggml's type_traits / ggml-common.h block structs (QK_K = 256).
// Q8_1 is 36 bytes (two fp16 + 32 int8) as in ggml-common.h; gguf-py's table says 40 (an old
// two-float layout), but Q8_1 never appears in model files anyway.
export const GGML_TYPES: Readonly<Record<number, GgmlType>> = Object.freeze({
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  17: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  18: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  19: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  20: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  21: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  22: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  23: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  29: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
  34: { name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  35: { name: 'TQ2_0', blockSize: 256, typeSize: 66 },
});

/** Caps: the whole header (metadata + tensor infos), one string, array nesting, dims. */
export const MAX_GGUF_HEADER = 256 * 1024 * 1024;
export const MAX_GGUF_STRING = 16 * 1024 * 1024;
/** Arrays longer than this are summarised as {type, length} instead of materialised. */
export const GGUF_ARRAY_KEEP = 1024;
const MAX_ARRAY_DEPTH = 8;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const DEFAULT_ALIGNMENT = 32;

const VALUE_TYPE_NAMES = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
];
const FIXED_SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const T_STRING = 8;
const T_ARRAY = 9;

/** Summary stored in place of a long metadata array. */
export interface GgufArraySummary {
  type: string;
  length: number;
}

export interface GgufHeader {
  version: number;
  /** Metadata as plain values: 64-bit integers become numbers when exact, else decimal strings. */
  metadata: Record<string, unknown>;
  tensors: TensorInfo[];
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Sequential little-endian reader over a file, refilling a small window as it goes. */
class Cursor {
  pos = 0;
  /** Keep every array's values (readGgufHeader's keepArrays), not only short ones. */
  keepArrays = false;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  private static readonly CHUNK = 1 << 20;

  constructor(
    private readonly f: OpenFile,
    private readonly limit: number,
  ) {}

  get file(): string {
    return this.f.file;
  }

  get remaining(): number {
    return this.f.size - this.pos;
  }

  /** Throws unless n more header bytes exist (within the cap and the file). */
  check(n: number, what: string): void {
    if (this.pos + n > this.limit) {
      throw new ModelReadError(
        'model/header-too-large',
        `${this.file}: GGUF header exceeds ${this.limit} bytes while reading ${what} at byte ${this.pos}`,
        this.file,
      );
    }
    if (n > this.remaining) {
      throw new ModelReadError(
        'model/truncated',
        `${this.file}: file ends while reading ${what} at byte ${this.pos} (needs ${n} bytes, ${this.remaining} left)`,
        this.file,
      );
    }
  }

  private take(n: number, what: string): { buf: Buffer; at: number } {
    this.check(n, what);
    let at = this.pos - this.bufStart;
    if (at < 0 || at + n > this.buf.length) {
      const len = Math.min(Math.max(n, Cursor.CHUNK), this.f.size - this.pos);
      this.buf = readExact(this.f, this.pos, len, what);
      this.bufStart = this.pos;
      at = 0;
    }
    this.pos += n;
    return { buf: this.buf, at };
  }

  skip(n: number, what: string): void {
    this.check(n, what);
    this.pos += n;
  }

  u8(what: string): number {
    const { buf, at } = this.take(1, what);
    return buf.readUInt8(at);
  }
  i8(what: string): number {
    const { buf, at } = this.take(1, what);
    return buf.readInt8(at);
  }
  u16(what: string): number {
    const { buf, at } = this.take(2, what);
    return buf.readUInt16LE(at);
  }
  i16(what: string): number {
    const { buf, at } = this.take(2, what);
    return buf.readInt16LE(at);
  }
  u32(what: string): number {
    const { buf, at } = this.take(4, what);
    return buf.readUInt32LE(at);
  }
  i32(what: string): number {
    const { buf, at } = this.take(4, what);
    return buf.readInt32LE(at);
  }
  f32(what: string): number {
    const { buf, at } = this.take(4, what);
    return buf.readFloatLE(at);
  }
  f64(what: string): number {
    const { buf, at } = this.take(8, what);
    return buf.readDoubleLE(at);
  }
  u64(what: string): bigint {
    const { buf, at } = this.take(8, what);
    return buf.readBigUInt64LE(at);
  }
  i64(what: string): bigint {
    const { buf, at } = this.take(8, what);
    return buf.readBigInt64LE(at);
  }

  /**
   * A u64 count of items each taking at least `minSize` bytes: absurd counts (beyond the
   * header cap) are header-too-large, counts the rest of the file cannot hold are truncated.
   */
  count(what: string, minSize: number): number {
    const at = this.pos;
    const n = this.u64(what);
    const need = n * BigInt(minSize);
    if (BigInt(this.pos) + need > BigInt(this.limit)) {
      throw new ModelReadError(
        'model/header-too-large',
        `${this.file}: ${what} at byte ${at} is ${n}, which cannot fit in a ${this.limit}-byte header`,
        this.file,
      );
    }
    if (need > BigInt(this.remaining)) {
      throw new ModelReadError(
        'model/truncated',
        `${this.file}: ${what} at byte ${at} is ${n}, but only ${this.remaining} bytes remain in the file`,
        this.file,
      );
    }
    return Number(n);
  }

  /** A string; `strict` ones (keys, tensor names) must be valid UTF-8, since a replacement
   * character would make a name differ from the one the native reader sees. */
  string(what: string, strict = false): string {
    const len = this.stringLength(what);
    const { buf, at } = this.take(len, what);
    if (!strict) return buf.toString('utf8', at, at + len);
    try {
      return UTF8.decode(buf.subarray(at, at + len));
    } catch {
      throw new ModelReadError('model/bad-header', `${this.file}: ${what} is not valid UTF-8`, this.file);
    }
  }

  /** Reads a string's length prefix and validates it against the cap and the file. */
  stringLength(what: string): number {
    const at = this.pos;
    const len = this.u64(`length of ${what}`);
    if (len > BigInt(MAX_GGUF_STRING)) {
      throw new ModelReadError(
        'model/header-too-large',
        `${this.file}: length of ${what} at byte ${at} is ${len} (limit ${MAX_GGUF_STRING})`,
        this.file,
      );
    }
    this.check(Number(len), what);
    return Number(len);
  }
}

/** 64-bit integers as plain JS values: a number when exact, else a decimal string. */
function plainInt(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function readValue(c: Cursor, type: number, key: string, depth: number): unknown {
  const what = `value of "${key}"`;
  switch (type) {
    case 0:
      return c.u8(what);
    case 1:
      return c.i8(what);
    case 2:
      return c.u16(what);
    case 3:
      return c.i16(what);
    case 4:
      return c.u32(what);
    case 5:
      return c.i32(what);
    case 6:
      return c.f32(what);
    case 7:
      return c.u8(what) !== 0;
    case 8:
      return c.string(what);
    case 9:
      return readArray(c, key, depth + 1);
    case 10:
      return plainInt(c.u64(what));
    case 11:
      return plainInt(c.i64(what));
    case 12:
      return c.f64(what);
    default:
      throw new ModelReadError(
        'model/bad-header',
        `${c.file}: metadata "${key}" has unknown value type ${type}`,
        c.file,
      );
  }
}

function readArray(c: Cursor, key: string, depth: number): unknown[] | GgufArraySummary {
  if (depth > MAX_ARRAY_DEPTH) {
    throw new ModelReadError(
      'model/bad-header',
      `${c.file}: metadata "${key}" nests arrays deeper than ${MAX_ARRAY_DEPTH}`,
      c.file,
    );
  }
  const elemType = c.u32(`array element type of "${key}"`);
  const typeName = VALUE_TYPE_NAMES[elemType];
  if (typeName === undefined) {
    throw new ModelReadError(
      'model/bad-header',
      `${c.file}: metadata "${key}" is an array of unknown type ${elemType}`,
      c.file,
    );
  }
  // Every element takes at least this many bytes, so the count is bounded by the file.
  const minSize = FIXED_SIZES[elemType] ?? (elemType === T_STRING ? 8 : 12);
  const n = c.count(`element count of ${typeName} array "${key}"`, minSize);
  if (n <= GGUF_ARRAY_KEEP || c.keepArrays) {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(readValue(c, elemType, `${key}[${i}]`, depth));
    return out;
  }
  // Long arrays (token lists, scores, merges): step over them without keeping values.
  const fixed = FIXED_SIZES[elemType];
  if (fixed !== undefined) {
    c.skip(n * fixed, `array "${key}"`);
  } else if (elemType === T_STRING) {
    for (let i = 0; i < n; i++) c.skip(c.stringLength(`"${key}"[${i}]`), `"${key}"[${i}]`);
  } else {
    for (let i = 0; i < n; i++) readArray(c, `${key}[${i}]`, depth + 1);
  }
  return { type: typeName, length: n };
}

/** Reads and validates a GGUF header. Tensor shapes are PyTorch order (ne reversed). Arrays
 *  longer than GGUF_ARRAY_KEEP are summarized unless `keepArrays` (tests, checks of a
 *  written tokenizer: every token, type, score and merge). */
export function readGgufHeader(file: string, opts: { keepArrays?: boolean } = {}): GgufHeader {
  const abs = path.resolve(file);
  return withModelFile(abs, (f) => {
    const c = new Cursor(f, MAX_GGUF_HEADER);
    c.keepArrays = opts.keepArrays === true;
    const bad = (msg: string): ModelReadError => new ModelReadError('model/bad-header', `${abs}: ${msg}`, abs);

    const magic = readExact(f, 0, Math.min(4, f.size), 'the GGUF magic');
    if (magic.length < 4 || magic.toString('latin1') !== 'GGUF') {
      throw bad(`not a GGUF file (magic ${JSON.stringify(magic.toString('latin1'))}, expected "GGUF")`);
    }
    c.skip(4, 'magic');
    const version = c.u32('version');
    if (version !== 2 && version !== 3) {
      // A big-endian file reads as 0x02000000 / 0x03000000 here.
      const hint = version === 0x02000000 || version === 0x03000000 ? ' (big-endian GGUF is not supported)' : '';
      throw bad(`unsupported GGUF version ${version}${hint}; only little-endian v2/v3 are read`);
    }
    // Each tensor info takes at least 24 bytes and each kv at least 13: bound counts by the file.
    const tensorCount = c.count('tensor count', 24);
    if (tensorCount > MAX_TENSORS) {
      throw new ModelReadError(
        'model/header-too-large',
        `${abs}: GGUF header declares ${tensorCount} tensors (limit ${MAX_TENSORS})`,
        abs,
      );
    }
    const kvCount = c.count('metadata key/value count', 13);

    const metadata: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i < kvCount; i++) {
      const key = c.string(`metadata key #${i}`, true);
      if (Object.prototype.hasOwnProperty.call(metadata, key)) throw bad(`duplicate metadata key "${key}"`);
      const type = c.u32(`value type of "${key}"`);
      if (type === T_ARRAY) metadata[key] = readArray(c, key, 1);
      else metadata[key] = readValue(c, type, key, 0);
    }

    const alignment = readAlignment(metadata, bad);

    interface RawInfo {
      name: string;
      ne: number[];
      type: number;
      rel: number;
    }
    const infos: RawInfo[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const name = c.string(`name of tensor #${i}`, true);
      const where = `${abs}: tensor "${name}"`;
      if (name === '')
        throw new ModelReadError('model/bad-header', `${abs}: tensor #${i} has an empty name`, abs, name);
      if (seen.has(name))
        throw new ModelReadError('model/bad-header', `${abs}: duplicate tensor name "${name}"`, abs, name);
      seen.add(name);
      const nDims = c.u32(`n_dims of tensor "${name}"`);
      if (nDims > MAX_DIMS) {
        throw new ModelReadError(
          'model/bad-shape',
          `${where}: ${nDims} dimensions (GGUF allows at most ${MAX_DIMS})`,
          abs,
          name,
        );
      }
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) {
        const v = c.u64(`ne[${d}] of tensor "${name}"`);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new ModelReadError('model/bad-shape', `${where}: dimension ne[${d}] = ${v} is too large`, abs, name);
        }
        ne.push(Number(v));
      }
      const type = c.u32(`type of tensor "${name}"`);
      const relBig = c.u64(`data offset of tensor "${name}"`);
      if (relBig > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new ModelReadError('model/bad-offsets', `${where}: data offset ${relBig} is beyond any file`, abs, name);
      }
      infos.push({ name, ne, type, rel: Number(relBig) });
    }

    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors = infos.map((t) => toTensorInfo(t.name, t.ne, t.type, t.rel, abs, dataOffset, alignment, f.size));
    checkNoOverlap(tensors, abs);
    return { version, metadata: { ...metadata }, tensors, alignment, dataOffset };
  });
}

function readAlignment(metadata: Record<string, unknown>, bad: (m: string) => ModelReadError): number {
  const a = metadata['general.alignment'];
  if (a === undefined) return DEFAULT_ALIGNMENT;
  if (typeof a !== 'number' || !Number.isSafeInteger(a) || a <= 0 || (a & (a - 1)) !== 0 || a > 1 << 30) {
    throw bad(`general.alignment must be a power of two, got ${JSON.stringify(a)}`);
  }
  return a;
}

function toTensorInfo(
  name: string,
  ne: number[],
  typeId: number,
  rel: number,
  file: string,
  dataOffset: number,
  alignment: number,
  fileSize: number,
): TensorInfo {
  const where = `${file}: tensor "${name}"`;
  const t = GGML_TYPES[typeId];
  if (t === undefined) {
    throw new ModelReadError('model/unknown-dtype', `${where}: unknown ggml type ${typeId}`, file, name);
  }
  const elements = safeProduct(ne);
  if (elements === undefined) {
    throw new ModelReadError(
      'model/bad-shape',
      `${where}: shape ne=[${ne.join(', ')}] has more than 2^53 elements`,
      file,
      name,
    );
  }
  const rowLen = ne.length > 0 ? ne[0] : 1;
  if (rowLen % t.blockSize !== 0) {
    throw new ModelReadError(
      'model/bad-shape',
      `${where}: ne[0] = ${rowLen} is not a multiple of the ${t.name} block size ${t.blockSize}`,
      file,
      name,
    );
  }
  const bytes = (elements / t.blockSize) * t.typeSize;
  if (!Number.isSafeInteger(bytes)) {
    throw new ModelReadError('model/bad-shape', `${where}: byte size exceeds 2^53`, file, name);
  }
  if (rel % alignment !== 0) {
    throw new ModelReadError(
      'model/bad-offsets',
      `${where}: data offset ${rel} is not a multiple of the alignment ${alignment}`,
      file,
      name,
    );
  }
  const offset = dataOffset + rel;
  if (offset + bytes > fileSize) {
    throw new ModelReadError(
      'model/truncated',
      `${where}: data [${offset}, ${offset + bytes}) runs past the end of the file (${fileSize} bytes; truncated?)`,
      file,
      name,
    );
  }
  return {
    name,
    shape: [...ne].reverse(),
    dtype: t.name,
    bitsPerElement: (t.typeSize * 8) / t.blockSize,
    elements,
    bytes,
    file,
    offset,
  };
}

function checkNoOverlap(tensors: TensorInfo[], file: string): void {
  const sorted = tensors.filter((t) => t.bytes > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.offset < prev.offset + prev.bytes) {
      throw new ModelReadError(
        'model/bad-offsets',
        `${file}: tensor "${cur.name}" data at ${cur.offset} overlaps tensor "${prev.name}" [${prev.offset}, ${prev.offset + prev.bytes})`,
        file,
      );
    }
  }
}
