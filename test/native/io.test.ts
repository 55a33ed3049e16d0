// The native model readers (safetensors, sharded folders, GGUF, llama2.c) and the
// fake-quant safetensors writer, through the addon: the stories260K fixture, files written
// to a temp folder, hostile and truncated inputs (an Error with a `code`, never a crash),
// and round trips of the writer checked with an independent safetensors parser.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readModelHeader, type ProgressEvent } from '../../core/src/index';

const root = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(root, 'examples/stories260K');
const FIXTURE_ST = path.join(FIXTURE, 'model.safetensors');
const FIXTURE_BIN = path.join(FIXTURE, 'stories260K.bin');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

interface TensorInfo {
  name: string;
  shape: number[];
  dtype: string;
  elements: number;
  bytes: number;
  file: string;
  offset: number;
}
interface Hist {
  min: number;
  max: number;
  counts: number[];
}
interface Ev {
  type: string;
  index?: number;
  name?: string;
  code?: string;
  message?: string;
  tensor?: string;
  action?: string;
  bpw?: number;
  bytesOut?: number;
  bytes?: Record<string, number>;
  relError?: number;
  sqnrDb?: number;
  maxAbsError?: number;
  cosine?: number;
  weightHist?: Hist;
  errorHist?: Hist;
  dequantHist?: Hist;
  chunks?: number;
  shape?: number[];
  totals?: Record<string, number>;
}
interface JobTensor {
  name: string;
  shape: number[];
  action: 'quantize' | 'keep';
  config?: Record<string, unknown>;
}
interface Job {
  model: string;
  tensors: JobTensor[];
  output?: { kind: 'fake'; path: string; metadata?: Record<string, string> };
  threads?: number;
  chunkElements?: number;
  calibration?: { kind: string; samples?: number; length?: number };
}
interface Addon {
  modelInfo(p: string): {
    path: string;
    format: string;
    architecture: string;
    tensors: TensorInfo[];
    metadata: Record<string, string>;
  };
  readTensor(p: string, name: string): Float32Array;
  startRun(job: Job, onEvent: (e: Ev) => void): { cancel(): void; done: Promise<Ev> };
}
type CodedError = Error & { code?: string; tensor?: string };

let addon: Addon;
let tmp: string;
let counter = 0;
const tmpPath = (name: string) => path.join(tmp, `${counter++}-${name}`);
const tmpDir = (name: string) => {
  const d = tmpPath(name);
  fs.mkdirSync(d);
  return d;
};

// ---- an independent safetensors parser and writer ---------------------------------------

interface ParsedTensor {
  dtype: string;
  shape: number[];
  data: Buffer;
  begin: number;
  end: number;
}
function parseSafetensors(file: string) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const text = buf.toString('utf8', 8, 8 + n);
  const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const tensors = new Map<string, ParsedTensor>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = v.data_offsets;
    tensors.set(name, { dtype: v.dtype, shape: v.shape, data: buf.subarray(8 + n + b, 8 + n + e), begin: b, end: e });
  }
  return {
    headerLength: n,
    headerText: text,
    fileSize: buf.length,
    metadata,
    tensors,
    order: Object.keys(header).filter((k) => k !== '__metadata__'),
  };
}

function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** Writes a valid safetensors file of the given tensors (data as raw bytes). */
function writeSafetensors(
  file: string,
  tensors: { name: string; dtype: string; shape: number[]; data: Buffer }[],
  metadata?: Record<string, string>,
) {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  fs.writeFileSync(file, Buffer.concat([u64(json.length), json, ...tensors.map((t) => t.data)]));
  return file;
}

/** A raw safetensors file from header text/object, header length override and data size. */
function rawSafetensors(file: string, header: unknown, dataBytes: number, headerLen?: bigint) {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  fs.writeFileSync(file, Buffer.concat([u64(headerLen ?? BigInt(json.length)), json, Buffer.alloc(dataBytes)]));
  return file;
}

const f32buf = (xs: ArrayLike<number>) => Buffer.from(new Float32Array(Array.from(xs)).buffer);
const f32scratch = new Float32Array(1);
const u32scratch = new Uint32Array(f32scratch.buffer);
function toBf16(x: number): number {
  f32scratch[0] = x;
  const u = u32scratch[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
const fromBf16 = (h: number) => {
  u32scratch[0] = h << 16;
  return f32scratch[0];
};
function bf16buf(xs: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(xs.length * 2);
  for (let i = 0; i < xs.length; i++) b.writeUInt16LE(toBf16(xs[i]), 2 * i);
  return b;
}
function f16buf(xs: number[]): Buffer {
  const b = Buffer.alloc(xs.length * 2);
  // Values chosen exactly representable in f16; encode via the exponent/mantissa split.
  xs.forEach((x, i) => {
    let h: number;
    if (Object.is(x, -0)) h = 0x8000;
    else if (x === 0) h = 0;
    else {
      const s = x < 0 ? 0x8000 : 0;
      const a = Math.abs(x);
      let e = Math.floor(Math.log2(a));
      if (e < -14)
        h = s | Math.round(a / 2 ** -24); // subnormal
      else {
        const m = Math.round((a / 2 ** e - 1) * 1024);
        if (m === 1024) e++;
        h = s | ((e + 15) << 10) | (m & 1023);
      }
    }
    b.writeUInt16LE(h, 2 * i);
  });
  return b;
}
function readF32(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}
function readBf16(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = fromBf16(buf.readUInt16LE(2 * i));
  return out;
}

/** Deterministic heavy-ish tailed values (sum of uniforms, a few large columns). */
function weights(rows: number, cols: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const r = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = (r() + r() + r() - 1.5) * 0.04 * (i % cols === 3 ? 10 : 1);
  return out;
}

// ---- GGUF writer ---------------------------------------------------------------------------

const GT = { u8: 0, u32: 4, f32: 6, string: 8, array: 9, u64: 10 };
function ggufString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(b.length), b]);
}
const u32b = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
interface GgufTensor {
  name: string;
  ne: number[];
  type: number;
  data: Buffer;
  offset?: number;
}
/** A GGUF v3 file: a few metadata kinds (string, u32, arrays, nested array), then tensors. */
function ggufBytes(
  tensors: GgufTensor[],
  opts: { version?: number; alignment?: number; extraKv?: Buffer[]; tensorCount?: bigint } = {},
): Buffer {
  const align = opts.alignment ?? 32;
  const kvs: Buffer[] = [
    Buffer.concat([ggufString('general.architecture'), u32b(GT.string), ggufString('llama')]),
    Buffer.concat([ggufString('llama.block_count'), u32b(GT.u32), u32b(1)]),
    Buffer.concat([
      ggufString('tokenizer.ggml.tokens'),
      u32b(GT.array),
      u32b(GT.string),
      u64(2),
      ggufString('a'),
      ggufString('bc'),
    ]),
    Buffer.concat([
      ggufString('nested'),
      u32b(GT.array),
      u32b(GT.array),
      u64(1),
      u32b(GT.u8),
      u64(3),
      Buffer.from([1, 2, 3]),
    ]),
    ...(opts.alignment ? [Buffer.concat([ggufString('general.alignment'), u32b(GT.u32), u32b(opts.alignment)])] : []),
    ...(opts.extraKv ?? []),
  ];
  let off = 0;
  const infos: Buffer[] = [];
  const datas: { at: number; data: Buffer }[] = [];
  for (const t of tensors) {
    const at = t.offset ?? off;
    infos.push(
      Buffer.concat([ggufString(t.name), u32b(t.ne.length), ...t.ne.map((d) => u64(d)), u32b(t.type), u64(at)]),
    );
    datas.push({ at, data: t.data });
    off = Math.ceil((at + t.data.length) / align) * align;
  }
  const head = Buffer.concat([
    Buffer.from('GGUF'),
    u32b(opts.version ?? 3),
    u64(opts.tensorCount ?? BigInt(tensors.length)),
    u64(kvs.length),
    ...kvs,
    ...infos,
  ]);
  const dataStart = Math.ceil(head.length / align) * align;
  const end = datas.reduce((a, d) => Math.max(a, d.at + d.data.length), 0);
  const out = Buffer.alloc(dataStart + end);
  head.copy(out, 0);
  for (const d of datas) d.data.copy(out, dataStart + d.at);
  return out;
}

// ---- llama2.c writer -----------------------------------------------------------------------

/** A tiny llama2.c checkpoint: dim 8, hidden 16, 1 layer, 2 heads / 1 kv head, vocab 4 (negative: unshared). */
function llama2cBytes(h = [8, 16, 1, 2, 1, -4, 4]): Buffer {
  const [dim, hidden, L, heads, kv, v, seq] = h;
  const vocab = Math.abs(v);
  const kvDim = (dim / heads) * kv;
  const hs = dim / heads;
  const n =
    vocab * dim +
    L * dim +
    L * dim * dim +
    2 * L * kvDim * dim +
    L * dim * dim +
    L * dim +
    3 * L * hidden * dim +
    dim +
    2 * seq * Math.floor(hs / 2) +
    (v < 0 ? vocab * dim : 0);
  const b = Buffer.alloc(28 + 4 * n);
  h.forEach((x, i) => b.writeInt32LE(x, 4 * i));
  for (let i = 0; i < n; i++) b.writeFloatLE(((i * 37) % 101) / 100 - 0.5, 28 + 4 * i);
  return b;
}

// ---- helpers -------------------------------------------------------------------------------

/** fn throws an Error whose `code` is `code` and whose message names every fragment. */
function expectCode(fn: () => unknown, code: string, ...fragmentLists: (string | string[])[]): CodedError {
  const fragments = fragmentLists.flat();
  let caught: CodedError | undefined;
  try {
    fn();
  } catch (e) {
    caught = e as CodedError;
  }
  assert.ok(caught instanceof Error, `expected an Error with code ${code}, got none`);
  assert.equal(caught.code, code, caught.message);
  for (const f of fragments) assert.ok(caught.message.includes(f), `message "${caught.message}" lacks "${f}"`);
  return caught;
}

/** Any outcome but a crash: success, or an Error with a string code. */
function survives(file: string): string {
  try {
    addon.modelInfo(file);
    return 'ok';
  } catch (e) {
    const err = e as CodedError;
    assert.ok(err instanceof Error, String(e));
    assert.equal(typeof err.code, 'string', `no code on: ${err.message}`);
    assert.ok(/^model\//.test(err.code!), err.code);
    return err.code!;
  }
}

async function run(job: Job, onEvent?: (e: Ev, h: { cancel(): void }) => void) {
  const events: Ev[] = [];
  let handle: { cancel(): void; done: Promise<Ev> } | undefined;
  // Assigned after the declaration: the callback may run before startRun returns.
  // eslint-disable-next-line prefer-const
  handle = addon.startRun(job, (e) => {
    events.push(e);
    onEvent?.(e, handle!);
  });
  try {
    const done = await handle.done;
    return { events, done, error: undefined as CodedError | undefined };
  } catch (e) {
    return { events, done: undefined, error: e as CodedError };
  }
}

function keepAll(model: string): JobTensor[] {
  return addon.modelInfo(model).tensors.map((t) => ({ name: t.name, shape: t.shape, action: 'keep' as const }));
}
function quantizeAll(model: string, config: Record<string, unknown>): JobTensor[] {
  return addon
    .modelInfo(model)
    .tensors.map((t) =>
      t.shape.length >= 2
        ? { name: t.name, shape: t.shape, action: 'quantize' as const, config }
        : { name: t.name, shape: t.shape, action: 'keep' as const },
    );
}
const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('.tmp'));

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    w += a[i] ** 2;
  }
  return Math.sqrt(e / w);
}

/** A small bf16 model: three matrices with 172 rows (not a multiple of the 40-row chunk unit), a norm. */
function bf16Model(dir: string): string {
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, [
    { name: 'a.weight', dtype: 'BF16', shape: [172, 128], data: bf16buf(weights(172, 128, 1)) },
    { name: 'b.weight', dtype: 'BF16', shape: [96, 256], data: bf16buf(weights(96, 256, 2)) },
    { name: 'c.weight', dtype: 'BF16', shape: [2, 43, 64], data: bf16buf(weights(86, 64, 3)) },
    { name: 'norm.weight', dtype: 'BF16', shape: [128], data: bf16buf(new Float32Array(128).fill(1)) },
  ]);
  return file;
}

before(() => {
  addon = require(path.join(root, 'native')) as Addon;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-io-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('native model readers', () => {
  it('reads the stories260K folder, .safetensors and llama2.c .bin as the TypeScript readers do', () => {
    for (const p of [FIXTURE, FIXTURE_ST, FIXTURE_BIN]) {
      const native = addon.modelInfo(p);
      const ts = readModelHeader(p);
      assert.equal(native.format, ts.format);
      const key = (t: {
        name: string;
        shape: number[];
        dtype: string;
        elements: number;
        bytes: number;
        file: string;
        offset: number;
      }) => JSON.stringify([t.name, t.shape, t.dtype, t.elements, t.bytes, t.file, t.offset]);
      assert.deepEqual(native.tensors.map(key).sort(), ts.tensors.map(key).sort(), p);
      assert.equal(native.tensors.length, 47);
    }
    assert.equal(addon.modelInfo(FIXTURE).architecture, 'llama');
    // llama2.c tensors get Hugging Face names (and lm_head only when unshared).
    const names = addon.modelInfo(FIXTURE_BIN).tensors.map((t) => t.name);
    for (const n of [
      'model.embed_tokens.weight',
      'model.layers.4.mlp.down_proj.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.norm.weight',
    ])
      assert.ok(names.includes(n), n);
    assert.ok(!names.includes('lm_head.weight'));
  });

  it('the .bin and the .safetensors hold the same weights (q/k rows in the Hugging Face order)', () => {
    const names = addon.modelInfo(FIXTURE_ST).tensors.map((t) => t.name);
    for (const name of names) {
      const a = addon.readTensor(FIXTURE_ST, name);
      const b = addon.readTensor(FIXTURE_BIN, name);
      assert.deepEqual(b, a, name);
    }
    // Without the rotary permutation q_proj would differ (the file stores interleaved pairs).
    const q = addon.readTensor(FIXTURE_BIN, 'model.layers.0.self_attn.q_proj.weight');
    const raw = fs.readFileSync(FIXTURE_BIN);
    const t = addon.modelInfo(FIXTURE_BIN).tensors.find((x) => x.name === 'model.layers.0.self_attn.q_proj.weight')!;
    const stored = readF32(raw.subarray(t.offset, t.offset + t.bytes));
    assert.notDeepEqual(stored, q);
    // Row 1 of the HF layout (head 0, first half, i = 1) is stored row 2 (pair 1, element 0).
    assert.deepEqual(q.subarray(64, 128), stored.subarray(128, 192));
  });

  it('readTensor agrees with an independent parse of the safetensors file', () => {
    const p = parseSafetensors(FIXTURE_ST);
    for (const name of [
      'model.embed_tokens.weight',
      'model.layers.2.self_attn.v_proj.weight',
      'model.layers.3.mlp.down_proj.weight',
      'model.norm.weight',
    ]) {
      assert.deepEqual(addon.readTensor(FIXTURE, name), readF32(p.tensors.get(name)!.data), name);
    }
  });

  it('converts F16 and BF16 exactly (zeros, subnormals, extremes)', () => {
    const vals = [0, -0, 1, -2.5, 65504, -65504, 2 ** -24, 2 ** -14, 0.333251953125, 1024];
    const file = writeSafetensors(tmpPath('dtypes.safetensors'), [
      { name: 'h', dtype: 'F16', shape: [2, 5], data: f16buf(vals) },
      { name: 'b', dtype: 'BF16', shape: [10], data: bf16buf(vals) },
      { name: 'f', dtype: 'F32', shape: [10], data: f32buf(vals) },
      { name: 'd', dtype: 'F64', shape: [2], data: Buffer.from(new Float64Array([0.5, -3]).buffer) },
      { name: 'i', dtype: 'I32', shape: [2], data: Buffer.alloc(8) },
    ]);
    assert.deepEqual(Array.from(addon.readTensor(file, 'h')), vals);
    assert.deepEqual(Array.from(addon.readTensor(file, 'f')), Array.from(new Float32Array(vals)));
    assert.deepEqual(
      Array.from(addon.readTensor(file, 'b')),
      vals.map((v) => fromBf16(toBf16(v))),
    );
    assert.deepEqual(Array.from(addon.readTensor(file, 'd')), [0.5, -3]);
    expectCode(() => addon.readTensor(file, 'i'), 'model/unsupported-dtype', '"i"', 'I32');
    assert.ok(Object.is(addon.readTensor(file, 'h')[1], -0));
  });

  it('reads a sharded folder through model.safetensors.index.json', () => {
    const src = parseSafetensors(FIXTURE_ST);
    const dir = tmpDir('sharded');
    const names = src.order;
    const half = Math.ceil(names.length / 2);
    const shard = (list: string[], file: string) =>
      writeSafetensors(
        path.join(dir, file),
        list.map((n) => ({ name: n, ...src.tensors.get(n)! })),
      );
    shard(names.slice(0, half), 'model-00001-of-00002.safetensors');
    shard(names.slice(half), 'model-00002-of-00002.safetensors');
    const weightMap: Record<string, string> = {};
    names.forEach((n, i) => {
      weightMap[n] = i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors';
    });
    fs.writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    fs.copyFileSync(path.join(FIXTURE, 'config.json'), path.join(dir, 'config.json'));
    const info = addon.modelInfo(dir);
    assert.equal(info.format, 'hf-folder');
    assert.equal(info.tensors.length, 47);
    assert.equal(new Set(info.tensors.map((t) => t.file)).size, 2);
    for (const n of ['model.embed_tokens.weight', names[half], names[names.length - 1]])
      assert.deepEqual(addon.readTensor(dir, n), addon.readTensor(FIXTURE, n), n);
    const ts = readModelHeader(dir);
    assert.deepEqual(info.tensors.map((t) => t.name).sort(), ts.tensors.map((t) => t.name).sort());
  });

  it('reads GGUF F32/F16/BF16 and ggml block tensors with PyTorch-order shapes; ggml types without a decoder are refused', () => {
    const w = [1, 2, 3, 4, 5, 6];
    const file = tmpPath('model.gguf');
    fs.writeFileSync(
      file,
      ggufBytes([
        { name: 'f32', ne: [3, 2], type: 0, data: f32buf(w) },
        { name: 'f16', ne: [6], type: 1, data: f16buf(w) },
        { name: 'bf16', ne: [2, 3], type: 30, data: bf16buf(w) },
        { name: 'q4', ne: [32, 2], type: 2, data: Buffer.alloc(36) },
        { name: 'q8k', ne: [256], type: 15, data: Buffer.alloc(292) },
      ]),
    );
    const info = addon.modelInfo(file);
    assert.equal(info.format, 'gguf');
    assert.equal(info.architecture, 'llama');
    const byName = new Map(info.tensors.map((t) => [t.name, t]));
    assert.deepEqual(byName.get('f32')!.shape, [2, 3]);
    assert.deepEqual(byName.get('bf16')!.shape, [3, 2]);
    assert.deepEqual(byName.get('q4')!.shape, [2, 32]);
    assert.equal(byName.get('q4')!.dtype, 'Q4_0');
    assert.equal(byName.get('q4')!.bytes, 36);
    const ts = readModelHeader(file);
    assert.deepEqual(
      info.tensors.map((t) => [t.name, t.shape, t.dtype, t.offset]),
      ts.tensors.map((t) => [t.name, t.shape, t.dtype, t.offset]),
    );
    for (const n of ['f32', 'f16', 'bf16']) assert.deepEqual(Array.from(addon.readTensor(file, n)), w, n);
    // All-zero q4_0 blocks: d = 0, so every weight decodes to 0 (the block decoders are tested in gguf-source.test.ts).
    const q4 = addon.readTensor(file, 'q4');
    assert.equal(q4.length, 64);
    assert.ok(q4.every((v) => v === 0));
    expectCode(() => addon.readTensor(file, 'q8k'), 'model/unsupported-dtype', 'Q8_K', 'cannot decode', '"q8k"', file);
  });

  it('zero-size tensors are read like any other (0 elements, 0 bytes), as the TypeScript readers read them', () => {
    const st = rawSafetensors(
      tmpPath('zero.safetensors'),
      {
        w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        e: { dtype: 'F32', shape: [0, 4], data_offsets: [4, 4] },
        s: { dtype: 'BF16', shape: [3, 0], data_offsets: [4, 4] },
      },
      4,
    );
    const g = tmpPath('zero.gguf');
    fs.writeFileSync(
      g,
      ggufBytes([
        { name: 'w', ne: [4, 2], type: 0, data: Buffer.alloc(32) },
        { name: 'e', ne: [4, 0], type: 0, data: Buffer.alloc(0), offset: 32 },
        { name: 'q', ne: [32, 0], type: 2, data: Buffer.alloc(0), offset: 32 },
      ]),
    );
    for (const f of [st, g]) {
      const info = addon.modelInfo(f);
      const ts = readModelHeader(f).tensors;
      assert.deepEqual(
        info.tensors.map((t) => [t.name, t.shape, t.elements, t.bytes]),
        ts.map((t) => [t.name, t.shape, t.elements, t.bytes]),
      );
      const empty = info.tensors.filter((t) => t.elements === 0);
      assert.equal(empty.length, 2, f);
      for (const t of empty) {
        assert.equal(t.bytes, 0);
        if (t.dtype !== 'Q4_0') assert.equal(addon.readTensor(f, t.name).length, 0);
      }
    }
  });

  describe('hostile safetensors', () => {
    const cases: [string, () => string, string, string[]][] = [
      [
        'empty file',
        () => {
          const f = tmpPath('e.safetensors');
          fs.writeFileSync(f, '');
          return f;
        },
        'model/truncated',
        [],
      ],
      [
        '5 bytes',
        () => {
          const f = tmpPath('5.safetensors');
          fs.writeFileSync(f, Buffer.alloc(5));
          return f;
        },
        'model/truncated',
        [],
      ],
      [
        'header length past the end',
        () => rawSafetensors(tmpPath('len.safetensors'), {}, 0, 1000n),
        'model/truncated',
        ['1000'],
      ],
      [
        'header length of 2^63',
        () => rawSafetensors(tmpPath('huge.safetensors'), {}, 0, 1n << 63n),
        'model/header-too-large',
        [],
      ],
      ['invalid JSON', () => rawSafetensors(tmpPath('json.safetensors'), '{"a": [1, 2', 0), 'model/bad-json', []],
      [
        'a tensor name that is not UTF-8',
        () => {
          const f = tmpPath('utf8.safetensors');
          const j = Buffer.from([0x7b, 0x22, 0x61, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
          fs.writeFileSync(f, Buffer.concat([u64(j.length), j]));
          return f;
        },
        'model/bad-json',
        ['tensor name "a\\xff"', 'at byte 9', 'not valid UTF-8'],
      ],
      [
        'invalid UTF-8 in a value',
        () => {
          const f = tmpPath('utf8v.safetensors');
          const j = Buffer.concat([Buffer.from('{"w":{"dtype":"'), Buffer.from([0xc0, 0x80]), Buffer.from('"}}')]);
          fs.writeFileSync(f, Buffer.concat([u64(j.length), j]));
          return f;
        },
        'model/bad-json',
        ['"w"', 'in the entry of tensor', 'not valid UTF-8', 'at byte 15'],
      ],
      [
        'a tensor name with a lone surrogate',
        () =>
          rawSafetensors(
            tmpPath('sur.safetensors'),
            '{"q\\ud800x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
            4,
          ),
        'model/bad-json',
        ['tensor name "q\\ud800x"', 'unpaired surrogate'],
      ],
      [
        'an empty tensor name',
        () =>
          rawSafetensors(tmpPath('noname.safetensors'), { '': { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4),
        'model/bad-header',
        ['empty name'],
      ],
      [
        'a dimension written 2.0',
        () => rawSafetensors(tmpPath('two.safetensors'), '{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', 8),
        'model/bad-shape',
        ['"w"', 'dimension 0 is written as a fraction', 'not 2.0'],
      ],
      [
        '65 dimensions',
        () =>
          rawSafetensors(
            tmpPath('dims.safetensors'),
            { w: { dtype: 'F32', shape: new Array(65).fill(1), data_offsets: [0, 4] } },
            4,
          ),
        'model/bad-shape',
        ['"w"', '65 dimensions'],
      ],
      [
        'a header of more than 2M JSON values',
        () => rawSafetensors(tmpPath('values.safetensors'), '[' + '0,'.repeat(1 << 21) + '0]', 0),
        'model/header-too-large',
        ['2097152 values'],
      ],
      [
        'nesting 10,000 deep',
        () => rawSafetensors(tmpPath('deep.safetensors'), '['.repeat(10000) + ']'.repeat(10000), 0),
        'model/bad-json',
        [],
      ],
      ['array at the top', () => rawSafetensors(tmpPath('arr.safetensors'), '[]', 0), 'model/bad-header', []],
      [
        'entry not an object',
        () => rawSafetensors(tmpPath('ent.safetensors'), { w: 3 }, 0),
        'model/bad-header',
        ['"w"'],
      ],
      [
        'unknown dtype',
        () => rawSafetensors(tmpPath('dt.safetensors'), { w: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, 2),
        'model/unknown-dtype',
        ['"w"', 'F12'],
      ],
      [
        'negative dimension',
        () =>
          rawSafetensors(
            tmpPath('neg.safetensors'),
            { w: { dtype: 'F32', shape: [-1, 4], data_offsets: [0, 16] } },
            16,
          ),
        'model/bad-shape',
        ['"w"'],
      ],
      [
        'fractional dimension',
        () =>
          rawSafetensors(tmpPath('frac.safetensors'), { w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4),
        'model/bad-shape',
        ['"w"'],
      ],
      [
        'shape overflowing 2^64',
        () =>
          rawSafetensors(
            tmpPath('ovf.safetensors'),
            { w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 2 ** 40], data_offsets: [0, 4] } },
            4,
          ),
        'model/bad-shape',
        ['"w"'],
      ],
      [
        'offsets not matching the shape',
        () =>
          rawSafetensors(
            tmpPath('span.safetensors'),
            { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } },
            16,
          ),
        'model/bad-shape',
        ['"w"', '16'],
      ],
      [
        'offsets reversed',
        () => rawSafetensors(tmpPath('rev.safetensors'), { w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 16),
        'model/bad-offsets',
        ['"w"'],
      ],
      [
        'offsets not integers',
        () =>
          rawSafetensors(tmpPath('offs.safetensors'), { w: { dtype: 'F32', shape: [1], data_offsets: ['0', 4] } }, 4),
        'model/bad-offsets',
        ['"w"'],
      ],
      [
        'data past the end of the file',
        () =>
          rawSafetensors(tmpPath('past.safetensors'), { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8),
        'model/truncated',
        ['"w"'],
      ],
      [
        'overlapping tensors',
        () =>
          rawSafetensors(
            tmpPath('ovl.safetensors'),
            {
              a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
              b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
            },
            12,
          ),
        'model/bad-offsets',
        ['"b"', '"a"'],
      ],
      [
        'duplicate tensor name',
        () =>
          rawSafetensors(
            tmpPath('dup.safetensors'),
            '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            8,
          ),
        'model/bad-header',
        ['"a"', 'appears twice'],
      ],
      [
        'metadata not strings',
        () => rawSafetensors(tmpPath('meta.safetensors'), { __metadata__: { a: 1 } }, 0),
        'model/bad-header',
        ['__metadata__'],
      ],
    ];
    for (const [what, make, code, fragments] of cases) {
      it(`${what}: ${code}`, () => {
        const f = make();
        const err = expectCode(() => addon.modelInfo(f), code, f, fragments);
        if (fragments[0]?.startsWith('"')) assert.equal(err.tensor, fragments[0].slice(1, -1));
      });
    }
  });

  it('every truncation of the fixture, a GGUF and a llama2.c file fails with a code, never a crash', function () {
    this.timeout(180000); // ~1,600 files written and read: slow on a loaded 2-core machine
    const st = fs.readFileSync(FIXTURE_ST);
    const gguf = ggufBytes([
      { name: 'f32', ne: [3, 2], type: 0, data: f32buf([1, 2, 3, 4, 5, 6]) },
      { name: 'q', ne: [32], type: 2, data: Buffer.alloc(18) },
    ]);
    const bin = llama2cBytes();
    const file = tmpPath('cut');
    for (const [bytes, ext] of [
      [st, '.safetensors'],
      [gguf, '.gguf'],
      [bin, '.bin'],
    ] as const) {
      const f = file + ext;
      // Every prefix of the small files; of the fixture every one through 64 bytes, every
      // 5th through its header; then 100 cuts spread over the data.
      const cuts = new Set<number>();
      for (let n = 0; n < Math.min(bytes.length, 5000); n += n < 64 || bytes.length < 5000 ? 1 : 5) cuts.add(n);
      for (let k = 0; k < 100; k++) cuts.add(Math.floor((bytes.length * k) / 100));
      cuts.add(bytes.length - 1);
      for (const n of cuts) {
        fs.writeFileSync(f, bytes.subarray(0, n));
        const code = survives(f);
        assert.notEqual(code, 'ok', `${ext} cut at ${n} of ${bytes.length} was accepted`);
      }
      fs.writeFileSync(f, bytes);
      assert.equal(survives(f), 'ok', ext);
    }
  });

  it('random byte corruption of headers never crashes', () => {
    const st = fs.readFileSync(FIXTURE_ST).subarray(0, 8 + 4856 + 4096);
    const gguf = ggufBytes([
      { name: 'f32', ne: [3, 2], type: 0, data: f32buf([1, 2, 3, 4, 5, 6]) },
      { name: 'bf', ne: [4], type: 30, data: Buffer.alloc(8) },
    ]);
    const bin = llama2cBytes();
    let s = 12345;
    const r = (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s % n;
    };
    const codes = new Set<string>();
    for (const [bytes, ext, span] of [
      [st, '.safetensors', 4864],
      [gguf, '.gguf', 400],
      [bin, '.bin', 28],
    ] as const) {
      const f = tmpPath('fuzz') + ext;
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(bytes);
        const edits = 1 + r(4);
        for (let k = 0; k < edits; k++) b[r(Math.min(span, b.length))] = r(256);
        fs.writeFileSync(f, b);
        codes.add(survives(f));
      }
    }
    assert.ok(codes.size > 3, [...codes].join(', '));
  });

  describe('hostile GGUF', () => {
    const t = (o: Partial<GgufTensor> = {}): GgufTensor => ({
      name: 'w',
      ne: [4, 2],
      type: 0,
      data: Buffer.alloc(32),
      ...o,
    });
    const cases: [string, () => Buffer, string, string[]][] = [
      ['version 1', () => ggufBytes([t()], { version: 1 }), 'model/bad-header', ['version 1']],
      ['big-endian', () => ggufBytes([t()], { version: 0x03000000 }), 'model/bad-header', ['big-endian']],
      ['a tensor count of 2^60', () => ggufBytes([t()], { tensorCount: 1n << 60n }), 'model/header-too-large', []],
      [
        'a string length of 2^62',
        () => {
          const b = ggufBytes([t()]);
          b.writeBigUInt64LE(1n << 62n, 24);
          return b;
        },
        'model/header-too-large',
        [],
      ],
      ['5 dimensions', () => ggufBytes([t({ ne: [1, 1, 1, 1, 8] })]), 'model/bad-shape', ['"w"']],
      ['unknown ggml type', () => ggufBytes([t({ type: 99 })]), 'model/unknown-dtype', ['"w"', '99']],
      [
        'a row not a multiple of the block',
        () => ggufBytes([t({ type: 2, ne: [16, 2], data: Buffer.alloc(18) })]),
        'model/bad-shape',
        ['"w"', 'Q4_0'],
      ],
      ['a misaligned offset', () => ggufBytes([t({ offset: 4 })]), 'model/bad-offsets', ['"w"']],
      [
        'data past the end',
        () => {
          const b = ggufBytes([t()]);
          return b.subarray(0, b.length - 4);
        },
        'model/truncated',
        ['"w"'],
      ],
      [
        'overlapping tensors',
        () => ggufBytes([t({ ne: [8, 2], data: Buffer.alloc(64) }), t({ name: 'v', offset: 32 })]),
        'model/bad-offsets',
        ['"v"'],
      ],
      ['alignment 3', () => ggufBytes([t()], { alignment: 3 }), 'model/bad-header', ['alignment']],
      [
        'duplicate tensor names',
        () => ggufBytes([t(), t({ offset: 32 })]),
        'model/bad-header',
        ['duplicate tensor name "w"'],
      ],
      ['an empty tensor name', () => ggufBytes([t({ name: '' })]), 'model/bad-header', ['empty name']],
      [
        'a tensor name that is not UTF-8',
        () => {
          const b = ggufBytes([t({ name: 'wxy' })]);
          const at = b.indexOf(Buffer.from('wxy'));
          b[at + 1] = 0xfe;
          return b;
        },
        'model/bad-header',
        ['"w\\xfe', 'not valid UTF-8'],
      ],
      [
        'an unknown metadata type',
        () => ggufBytes([t()], { extraKv: [Buffer.concat([ggufString('x'), u32b(77), u32b(0)])] }),
        'model/bad-header',
        ['"x"'],
      ],
      [
        'arrays nested 20 deep',
        () =>
          ggufBytes([t()], {
            extraKv: [
              Buffer.concat([
                ggufString('deep'),
                u32b(GT.array),
                ...Array.from({ length: 20 }, () => Buffer.concat([u32b(GT.array), u64(1)])),
              ]),
            ],
          }),
        'model/bad-header',
        ['deep'],
      ],
    ];
    for (const [what, make, code, fragments] of cases) {
      it(`${what}: ${code}`, () => {
        const f = tmpPath('hostile.gguf');
        fs.writeFileSync(f, make());
        expectCode(() => addon.modelInfo(f), code, f, fragments);
      });
    }
  });

  describe('hostile llama2.c', () => {
    const cases: [string, number[], string, string[]][] = [
      ['dim 0', [0, 16, 1, 2, 1, 4, 4], 'model/bad-header', ['dim']],
      ['negative layers', [8, 16, -1, 2, 1, 4, 4], 'model/bad-header', ['n_layers']],
      ['heads not dividing dim', [8, 16, 1, 3, 1, 4, 4], 'model/bad-header', ['n_heads']],
      ['kv heads not dividing heads', [8, 16, 1, 4, 3, 4, 4], 'model/bad-header', ['n_kv_heads']],
      [
        'sizes beyond any file',
        [2147483647, 2147483647, 2147483647, 1, 1, 2147483647, 2147483647],
        'model/bad-header',
        [],
      ],
      ['a header larger than the file', [64, 172, 5, 8, 4, 512, 512], 'model/truncated', ['needs']],
      // Tiny dimensions: a layer is a few bytes, so only the layer bound stops ~1.8M tensors.
      ['200,000 layers', [1, 1, 200000, 1, 1, 1, 1], 'model/bad-header', ['n_layers = 200000', 'at most 4096']],
    ];
    for (const [what, h, code, fragments] of cases) {
      it(`${what}: ${code}`, () => {
        const f = tmpPath('hostile.bin');
        const b = llama2cBytes([8, 16, 1, 2, 1, 4, 4]);
        h.forEach((x, i) => b.writeInt32LE(x, 4 * i));
        fs.writeFileSync(f, b);
        expectCode(() => addon.modelInfo(f), code, f, fragments);
      });
    }
    it('the ak42 (v1/v2) export is refused by name', () => {
      const f = tmpPath('ak42.bin');
      const b = llama2cBytes();
      b.writeUInt32LE(0x616b3432, 0);
      fs.writeFileSync(f, b);
      expectCode(() => addon.modelInfo(f), 'model/bad-header', 'ak42');
    });
    it('an unshared classifier becomes lm_head.weight', () => {
      const f = tmpPath('unshared.bin');
      fs.writeFileSync(f, llama2cBytes());
      const info = addon.modelInfo(f);
      assert.deepEqual(info.tensors.find((x) => x.name === 'lm_head.weight')?.shape, [4, 8]);
      assert.deepEqual(
        info.tensors.map((x) => x.name),
        readModelHeader(f).tensors.map((x) => x.name),
      );
    });
  });

  describe('hostile folders and indexes', () => {
    const folder = (index: unknown, shards: Record<string, Buffer | string> = {}) => {
      const d = tmpDir('idx');
      fs.writeFileSync(
        path.join(d, 'model.safetensors.index.json'),
        typeof index === 'string' ? index : JSON.stringify(index),
      );
      for (const [n, b] of Object.entries(shards)) fs.writeFileSync(path.join(d, n), b);
      return d;
    };
    const shard = () => {
      const f = tmpPath('s.safetensors');
      writeSafetensors(f, [{ name: 'a', dtype: 'F32', shape: [1], data: f32buf([1]) }]);
      return fs.readFileSync(f);
    };
    it('a missing shard', () =>
      expectCode(
        () => addon.modelInfo(folder({ weight_map: { a: 'nope.safetensors' } })),
        'model/bad-index',
        'nope.safetensors',
      ));
    it('a shard outside the folder', () =>
      expectCode(
        () => addon.modelInfo(folder({ weight_map: { a: '../evil.safetensors' } })),
        'model/bad-index',
        '../evil.safetensors',
      ));
    it('a tensor the shard does not hold', () =>
      expectCode(
        () =>
          addon.modelInfo(
            folder({ weight_map: { a: 's.safetensors', b: 's.safetensors' } }, { 's.safetensors': shard() }),
          ),
        'model/bad-index',
        '"b"',
      ));
    it('an empty or repeated name in weight_map', () => {
      expectCode(
        () => addon.modelInfo(folder({ weight_map: { '': 's.safetensors' } })),
        'model/bad-index',
        'empty name',
      );
      expectCode(
        () => addon.modelInfo(folder('{"weight_map": {"a": "s.safetensors", "a": "s.safetensors"}}')),
        'model/bad-index',
        '"a" is listed twice',
      );
    });
    it('no weight_map', () =>
      expectCode(() => addon.modelInfo(folder({ weights: {} })), 'model/bad-index', 'weight_map'));
    it('invalid index JSON', () => expectCode(() => addon.modelInfo(folder('{"weight_map": ')), 'model/bad-json'));
    it('a folder without weights', () => expectCode(() => addon.modelInfo(tmpDir('empty')), 'model/unknown-format'));
    it('a path that does not exist', () =>
      expectCode(() => addon.modelInfo(path.join(tmp, 'no-such-model')), 'model/not-found'));
    it('an unknown extension', () => {
      const f = tmpPath('model.pt');
      fs.writeFileSync(f, 'PK');
      expectCode(() => addon.modelInfo(f), 'model/unknown-format');
    });
  });
});

describe('inputs that are not regular files', function () {
  // A reader that opened a FIFO without O_NONBLOCK would block forever, so each probe runs
  // in a child process; the spawn timeout only turns such a hang into a failure.
  this.timeout(120000);
  const probe = (call: string, arg: string) => {
    const script = `const a = require(${JSON.stringify(path.join(root, 'native'))});
      try { const r = ${call}(${JSON.stringify(arg)}); process.stdout.write(JSON.stringify({ ok: true, arch: r && r.architecture })); }
      catch (e) { process.stdout.write(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.signal, null, `the probe hung or crashed (${r.signal}): ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { ok?: boolean; arch?: string; code?: string; message?: string };
  };
  const fifo = (p: string) => {
    const r = spawnSync('mkfifo', [p]);
    assert.equal(r.status, 0, `mkfifo ${p}: ${r.stderr}`);
    return p;
  };
  before(function () {
    if (process.platform === 'win32') this.skip(); // no FIFOs or /dev/zero
  });

  it('a FIFO named model.safetensors is refused by name, without blocking', () => {
    const f = fifo(path.join(tmpDir('fifo'), 'model.safetensors'));
    const r = probe('a.modelInfo', f);
    assert.equal(r.code, 'model/unreadable', r.message);
    assert.ok(r.message!.includes(f) && r.message!.includes('FIFO'), r.message);
  });
  it('a folder whose model.safetensors is a FIFO names it', () => {
    const d = tmpDir('fifo-folder');
    const f = fifo(path.join(d, 'model.safetensors'));
    const r = probe('a.modelInfo', d);
    assert.equal(r.code, 'model/unreadable', r.message);
    assert.ok(r.message!.includes(f), r.message);
  });
  it('a FIFO as model.safetensors.index.json is refused by name', () => {
    const d = tmpDir('fifo-index');
    const f = fifo(path.join(d, 'model.safetensors.index.json'));
    const r = probe('a.modelInfo', d);
    assert.equal(r.code, 'model/unreadable', r.message);
    assert.ok(r.message!.includes(f), r.message);
  });
  it('a FIFO as config.json: the model still opens, the forward pass refuses it by name', () => {
    const d = tmpDir('fifo-config');
    fs.copyFileSync(FIXTURE_ST, path.join(d, 'model.safetensors'));
    const cfg = fifo(path.join(d, 'config.json'));
    const info = probe('a.modelInfo', d);
    assert.equal(info.ok, true, info.message);
    assert.equal(info.arch, '');
    const r = probe('a.forward.config', d);
    assert.equal(r.code, 'model/unreadable', r.message);
    assert.ok(r.message!.includes(cfg) && r.message!.includes('FIFO'), r.message);
  });
  it('a FIFO as the imatrix is refused by name', () => {
    const f = fifo(path.join(tmpDir('fifo-imatrix'), 'imatrix.dat'));
    const r = probe('a.readImatrix', f);
    assert.equal(r.code, 'calibration/bad-imatrix', r.message);
    assert.ok(r.message!.includes(f) && r.message!.includes('FIFO'), r.message);
  });
  it('/dev/zero, also behind a .safetensors or .gguf symlink, is refused as a device', () => {
    expectCode(() => addon.modelInfo('/dev/zero'), 'model/unreadable', ['/dev/zero', 'character device']);
    const dev = tmpPath('zero.safetensors');
    fs.symlinkSync('/dev/zero', dev);
    expectCode(() => addon.modelInfo(dev), 'model/unreadable', [dev, 'character device']);
    const gguf = tmpPath('zero.gguf');
    fs.symlinkSync('/dev/zero', gguf);
    expectCode(() => addon.modelInfo(gguf), 'model/unreadable', [gguf, 'character device']);
  });
});

describe('fake-quant safetensors writer (startRun)', () => {
  it('keeping every tensor copies them byte for byte into a valid, padded safetensors file', async () => {
    const out = path.join(tmpDir('keep'), 'copy.safetensors');
    const { events, error, done } = await run({
      model: FIXTURE,
      tensors: keepAll(FIXTURE),
      output: { kind: 'fake', path: out, metadata: { 'bitsmith.recipe': 'copy' } },
    });
    assert.equal(error, undefined, error?.message);
    assert.equal(done!.type, 'done');
    const src = parseSafetensors(FIXTURE_ST);
    const dst = parseSafetensors(out);
    assert.equal((8 + dst.headerLength) % 8, 0, 'data starts 8-byte aligned');
    assert.match(dst.headerText, /^\{.*\} *$/s, 'the header is JSON padded with spaces');
    assert.equal(dst.tensors.size, 47);
    let expectBegin = 0;
    for (const name of dst.order) {
      const t = dst.tensors.get(name)!;
      assert.equal(t.begin, expectBegin, `${name} offsets are contiguous`);
      expectBegin = t.end;
      assert.equal(t.dtype, 'F32');
      assert.deepEqual(t.shape, src.tensors.get(name)!.shape);
      assert.ok(t.data.equals(src.tensors.get(name)!.data), name);
    }
    assert.equal(dst.fileSize, 8 + dst.headerLength + expectBegin);
    assert.equal(dst.metadata.format, 'pt');
    assert.equal(dst.metadata['bitsmith.version'], pkg.version);
    assert.equal(dst.metadata['bitsmith.recipe'], 'copy');
    const formats = JSON.parse(dst.metadata['bitsmith.tensors']) as Record<string, unknown>;
    assert.equal(formats['model.embed_tokens.weight'], 'keep');
    assert.equal(events.filter((e) => e.type === 'tensor').length, 47);
  });

  it('writes quantized tensors dequantized in the source dtype, kept ones unchanged', async () => {
    const out = path.join(tmpDir('int8'), 'int8.safetensors');
    const { events, error } = await run({
      model: FIXTURE,
      tensors: quantizeAll(FIXTURE, { format: 'int8', group: 32 }),
      output: { kind: 'fake', path: out },
    });
    assert.equal(error, undefined, error?.message);
    const src = parseSafetensors(FIXTURE_ST);
    const dst = parseSafetensors(out);
    const formats = JSON.parse(dst.metadata['bitsmith.tensors']) as Record<
      string,
      { format: string; group: number } | string
    >;
    for (const e of events.filter((x) => x.type === 'tensor')) {
      const a = src.tensors.get(e.name!)!;
      const b = dst.tensors.get(e.name!)!;
      assert.equal(b.dtype, 'F32');
      assert.deepEqual(b.shape, a.shape);
      if (e.action === 'keep') {
        assert.ok(b.data.equals(a.data), e.name);
        continue;
      }
      assert.equal((formats[e.name!] as { format: string }).format, 'int8');
      const rel = relError(readF32(a.data), readF32(b.data));
      assert.ok(Math.abs(rel - e.relError!) <= 1e-6 * e.relError!, `${e.name}: file ${rel} vs event ${e.relError}`);
      assert.ok(e.relError! > 0 && e.relError! < 0.01, `${e.name} int8 rel error ${e.relError}`);
      const cols = e.shape![e.shape!.length - 1];
      assert.equal(e.bpw, 8 + (16 * Math.ceil(cols / 32)) / cols, e.name);
    }
  });

  it('a bf16 model is written back in bf16', async () => {
    const dir = tmpDir('bf16');
    const model = bf16Model(dir);
    const out = path.join(dir, 'out.safetensors');
    const { events, error } = await run({
      model,
      tensors: quantizeAll(model, { format: 'int4', group: 64, symmetric: false }),
      output: { kind: 'fake', path: out },
    });
    assert.equal(error, undefined, error?.message);
    const src = parseSafetensors(model);
    const dst = parseSafetensors(out);
    for (const e of events.filter((x) => x.type === 'tensor' && x.action === 'quantize')) {
      assert.equal(dst.tensors.get(e.name!)!.dtype, 'BF16');
      const rel = relError(readBf16(src.tensors.get(e.name!)!.data), readBf16(dst.tensors.get(e.name!)!.data));
      // The figures are of the f32 reconstruction; the file holds it rounded to bf16.
      assert.ok(Math.abs(rel - e.relError!) < 0.05 * e.relError!, `${e.name}: ${rel} vs ${e.relError}`);
    }
    assert.ok(dst.tensors.get('norm.weight')!.data.equals(src.tensors.get('norm.weight')!.data));
  });

  it('row-chunked and whole-tensor runs write the same bytes and count the same bits', async () => {
    const dir = tmpDir('chunks');
    const model = bf16Model(dir);
    const configs: Record<string, unknown>[] = [
      { format: 'int4', group: 32 },
      { format: 'int3', group: 64, symmetric: false, zero: 'int', clip: 'mse' },
      { format: 'nf4', group: 64 },
      { format: 'ternary', groupKind: 'channel', group: 1 },
      { format: 'mxfp4' },
      { format: 'int4', group: 64, rotate: 'hadamard' },
      { format: 'int2', groupKind: 'channel', group: 1, symmetric: false },
    ];
    for (const config of configs) {
      const outs: string[] = [];
      const tensorEvents: Ev[][] = [];
      for (const chunkElements of [0, 40 * 64, 1 << 18]) {
        const out = path.join(dir, `out-${outs.length}.safetensors`);
        const { events, error } = await run({
          model,
          tensors: quantizeAll(model, config),
          output: { kind: 'fake', path: out },
          chunkElements,
          threads: 2,
        });
        assert.equal(error, undefined, `${JSON.stringify(config)}: ${error?.message}`);
        outs.push(out);
        tensorEvents.push(events.filter((e) => e.type === 'tensor' && e.action === 'quantize'));
      }
      const bytes = outs.map((f) => fs.readFileSync(f));
      assert.ok(bytes[1].equals(bytes[0]), `${JSON.stringify(config)}: chunked output differs`);
      assert.ok(bytes[2].equals(bytes[0]), `${JSON.stringify(config)}: output differs`);
      assert.ok(
        tensorEvents[1].some((e) => e.chunks! > 1),
        'the small chunk size really chunks',
      );
      for (let i = 0; i < tensorEvents[0].length; i++) {
        const [a, b] = [tensorEvents[0][i], tensorEvents[1][i]];
        assert.deepEqual(b.bytes, a.bytes, `${a.name} ${JSON.stringify(config)}`);
        assert.equal(b.bpw, a.bpw);
        assert.ok(
          Math.abs(b.relError! - a.relError!) <= 1e-6 * a.relError!,
          `${a.name}: ${b.relError} vs ${a.relError}`,
        );
        assert.ok(Math.abs(b.maxAbsError! - a.maxAbsError!) <= 1e-6 * a.maxAbsError!, a.name);
        const elements = a.shape!.reduce((x, y) => x * y, 1);
        for (const e of [a, b]) {
          assert.equal(e.weightHist!.counts.length, 64);
          assert.equal(
            e.weightHist!.counts.reduce((x, y) => x + y, 0),
            elements,
          );
          assert.equal(
            e.errorHist!.counts.reduce((x, y) => x + y, 0),
            elements,
          );
          assert.equal(
            e.dequantHist!.counts.reduce((x, y) => x + y, 0),
            elements,
          );
          assert.equal(e.dequantHist!.min, e.weightHist!.min);
        }
        // Streamed reconstructions are binned at bf16 resolution: only values within a bf16
        // rounding of a bin edge may move to the neighbouring bin.
        const moved = a.dequantHist!.counts.reduce((acc, c, k) => acc + Math.abs(c - b.dequantHist!.counts[k]), 0) / 2;
        assert.ok(moved <= 0.02 * elements, `${a.name}: ${moved} of ${elements} reconstructed values in another bin`);
        // Binned at bf16 resolution when streamed: exact for bf16 weights.
        assert.deepEqual(b.weightHist, a.weightHist, a.name);
      }
    }
  });

  it('delivers events in order and resolves after the last one', async () => {
    const { events, done, error } = await run({
      model: FIXTURE_BIN,
      tensors: quantizeAll(FIXTURE_BIN, { format: 'nf4', group: 32 }),
    });
    assert.equal(error, undefined, error?.message);
    assert.equal(events[0].type, 'start');
    assert.equal(events[events.length - 1].type, 'done');
    assert.deepEqual(events[events.length - 1], done);
    // Progress events interleave (run/events.h): well-formed, their fraction never going back.
    const progress = events.filter((e) => e.type === 'progress') as ProgressEvent[];
    assert.ok(progress.length >= 2, 'progress events');
    let last = 0;
    for (const p of progress) {
      assert.equal(p.phase, 'quantize');
      assert.ok(p.step >= 0 && p.step <= p.steps, `${p.step}/${p.steps}`);
      assert.ok(p.fraction >= last && p.fraction <= 1, `fraction ${p.fraction} after ${last}`);
      last = p.fraction;
    }
    assert.equal(progress[progress.length - 1].fraction, 1);
    const body = events.slice(1, -1).filter((e) => e.type !== 'progress');
    assert.equal(body.length, 2 * 47);
    body.forEach((e, i) => {
      assert.equal(e.type, i % 2 === 0 ? 'tensor-start' : 'tensor');
      assert.equal(e.index, Math.floor(i / 2));
    });
    assert.equal(done!.totals!.tensors, 47);
    assert.ok(done!.totals!.peakRssBytes > 0);
  });

  it('cancel() stops between chunks and leaves no output file', async () => {
    const dir = tmpDir('cancel');
    const model = path.join(dir, 'big.safetensors');
    // Streamed int4 with a clip search, in small chunks: slow enough that the cancel
    // (delivered through the event loop) arrives while the run is still going.
    writeSafetensors(
      model,
      Array.from({ length: 6 }, (_, i) => ({
        name: `w${i}`,
        dtype: 'F32',
        shape: [2048, 1024],
        data: f32buf(weights(2048, 1024, i + 1)),
      })),
    );
    const out = path.join(dir, 'out.safetensors');
    let cancelledAt = -1;
    const { events, error } = await run(
      {
        model,
        tensors: quantizeAll(model, { format: 'int4', group: 32, clip: 'mse' }),
        output: { kind: 'fake', path: out },
        chunkElements: 4096,
        threads: 1,
      },
      (e, h) => {
        if (e.type === 'tensor-start' && e.index === 1) {
          cancelledAt = 1;
          h.cancel();
        }
      },
    );
    assert.ok(error, 'the run was cancelled');
    assert.equal(error.code, 'run/cancelled');
    assert.ok(cancelledAt > 0);
    const last = events[events.length - 1];
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'run/cancelled');
    assert.ok(!events.some((e) => e.type === 'done'));
    assert.ok(events.filter((e) => e.type === 'tensor').length < 6);
    assert.ok(!fs.existsSync(out), 'no output');
    assert.deepEqual(leftovers(dir), [], 'no temporary file');
  });

  it('a NaN in a quantized tensor is an error naming the tensor and the element; nothing is written', async () => {
    const dir = tmpDir('nan');
    const w = weights(8, 32, 9);
    w[3 * 32 + 5] = NaN;
    const model = writeSafetensors(path.join(dir, 'nan.safetensors'), [
      { name: 'ok.weight', dtype: 'F32', shape: [8, 32], data: f32buf(weights(8, 32, 1)) },
      { name: 'bad.weight', dtype: 'BF16', shape: [8, 32], data: bf16buf(w) },
    ]);
    const out = path.join(dir, 'out.safetensors');
    fs.writeFileSync(out, 'previous output');
    const { events, error } = await run({
      model,
      tensors: quantizeAll(model, { format: 'int4', group: 32 }),
      output: { kind: 'fake', path: out },
    });
    assert.equal(error?.code, 'run/non-finite');
    assert.equal(error?.tensor, 'bad.weight');
    assert.match(error!.message, /"bad\.weight" has a NaN weight at \[3, 5\]/);
    assert.equal(events[events.length - 1].tensor, 'bad.weight');
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous output', 'an existing file is left as it was');
    assert.deepEqual(leftovers(dir), []);
    // Kept, the same tensor is copied as it is.
    const keep = await run({ model, tensors: keepAll(model), output: { kind: 'fake', path: out } });
    assert.equal(keep.error, undefined);
    assert.ok(
      parseSafetensors(out)
        .tensors.get('bad.weight')!
        .data.equals(parseSafetensors(model).tensors.get('bad.weight')!.data),
    );
  });

  it('re-validates the plan against the model before writing anything', async () => {
    const dir = tmpDir('validate');
    const out = path.join(dir, 'out.safetensors');
    const tensors = keepAll(FIXTURE);
    const missing = await run({
      model: FIXTURE,
      tensors: [...tensors, { name: 'model.layers.9.mlp.up_proj.weight', shape: [172, 64], action: 'keep' }],
      output: { kind: 'fake', path: out },
    });
    assert.equal(missing.error?.code, 'run/tensor-missing');
    assert.equal(missing.error?.tensor, 'model.layers.9.mlp.up_proj.weight');
    assert.equal(missing.events.length, 1);
    assert.equal(missing.events[0].type, 'error');
    const shape = await run({
      model: FIXTURE,
      tensors: tensors.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [65] } : t)),
      output: { kind: 'fake', path: out },
    });
    assert.equal(shape.error?.code, 'run/shape-mismatch');
    assert.match(shape.error!.message, /model\.norm\.weight.*\[64\].*\[65\]/);
    assert.ok(!fs.existsSync(out));
    assert.deepEqual(leftovers(dir), []);
    const self = await run({ model: FIXTURE_ST, tensors, output: { kind: 'fake', path: FIXTURE_ST } });
    assert.equal(self.error?.code, 'run/output-is-input');
    const noDir = await run({
      model: FIXTURE,
      tensors,
      output: { kind: 'fake', path: path.join(dir, 'missing', 'out.safetensors') },
    });
    assert.equal(noDir.error?.code, 'run/write-failed');
    const q4 = tmpPath('q.gguf');
    fs.writeFileSync(q4, ggufBytes([{ name: 'q', ne: [256, 1], type: 15, data: Buffer.alloc(292) }]));
    const gg = await run({
      model: q4,
      tensors: [{ name: 'q', shape: [1, 256], action: 'quantize', config: { format: 'int4' } }],
    });
    assert.equal(gg.error?.code, 'model/unsupported-dtype');
    assert.match(gg.error!.message, /Q8_K, which bitsmith cannot decode/);
    const method = await run({
      model: FIXTURE,
      tensors: [
        {
          name: 'model.embed_tokens.weight',
          shape: [512, 64],
          action: 'quantize',
          config: { format: 'int4', method: 'kmeans' },
        },
      ],
    });
    assert.equal(method.error?.code, 'run/unsupported');
    const awq = await run({
      model: FIXTURE,
      tensors: [
        {
          name: 'model.embed_tokens.weight',
          shape: [512, 64],
          action: 'quantize',
          config: { format: 'int4', method: 'awq' },
        },
      ],
    });
    assert.equal(awq.error?.code, 'run/needs-calibration');
    const awqNoSite = await run({
      model: FIXTURE,
      calibration: { kind: 'generated', samples: 2, length: 16 },
      tensors: [
        {
          name: 'model.embed_tokens.weight',
          shape: [512, 64],
          action: 'quantize',
          config: { format: 'int4', method: 'awq' },
        },
      ],
    });
    assert.equal(awqNoSite.error?.code, 'run/needs-calibration');
    assert.match(awqNoSite.error!.message, /method awq needs the activations of the tensor's input/);
    const gptq = await run({
      model: FIXTURE,
      tensors: [
        {
          name: 'model.embed_tokens.weight',
          shape: [512, 64],
          action: 'quantize',
          config: { format: 'int4', method: 'gptq' },
        },
      ],
    });
    assert.equal(gptq.error?.code, 'run/needs-calibration');
  });

  it('rejects malformed jobs with a TypeError', () => {
    assert.throws(() => addon.startRun({} as Job, () => {}), TypeError);
    assert.throws(
      () =>
        addon.startRun({ model: FIXTURE, tensors: [{ name: 'x', shape: [1], action: 'squash' as 'keep' }] }, () => {}),
      /action/,
    );
    assert.throws(() => addon.startRun({ model: FIXTURE, tensors: [] }, undefined as unknown as () => void), /onEvent/);
    assert.throws(
      () =>
        addon.startRun(
          {
            model: FIXTURE,
            tensors: [{ name: 'x', shape: [1], action: 'quantize', config: { format: 'int4', groupKind: 'rows' } }],
          },
          () => {},
        ),
      /groupKind/,
    );
  });
});
