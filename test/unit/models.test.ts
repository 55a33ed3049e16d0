// Model header readers: the stories260K fixture in three layouts, synthetic files written
// to a temp folder, and hostile inputs that must fail with a precise ModelReadError.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeModel, modelFingerprint, readModelHeader } from '../../core/src/models/load';
import { readSafetensorsHeader } from '../../core/src/models/safetensors';
import { GGML_TYPES, readGgufHeader } from '../../core/src/models/gguf';
import { readLlama2cHeader } from '../../core/src/models/llama2c';
import { readHfFolder } from '../../core/src/models/hfFolder';
import { ModelErrorCode, ModelReadError, TensorInfo } from '../../core/src/models/types';
import { pushAll } from '../../core/src/arrays';

const FIXTURE = path.resolve(__dirname, '../../examples/stories260K');

let tmp: string;
let counter = 0;
/** A fresh path inside the test temp folder. */
function tmpPath(name: string): string {
  return path.join(tmp, `${counter++}-${name}`);
}
function tmpDir(name: string): string {
  const d = tmpPath(name);
  fs.mkdirSync(d);
  return d;
}

/** Asserts fn throws a ModelReadError with this code whose message contains every fragment. */
function expectError(fn: () => unknown, code: ModelErrorCode, ...fragments: string[]): ModelReadError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ModelReadError, `expected ModelReadError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const f of fragments) assert.ok(caught.message.includes(f), `message "${caught.message}" lacks "${f}"`);
  return caught;
}

// ---------------------------------------------------------------- safetensors writer

function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** Writes a safetensors file from a header (object or raw JSON text) and `dataBytes` of data. */
function writeSafetensors(file: string, header: unknown, dataBytes: number, headerLen?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  fs.writeFileSync(file, Buffer.concat([u64(headerLen ?? BigInt(json.length)), json, Buffer.alloc(dataBytes)]));
  return file;
}

// ---------------------------------------------------------------- GGUF writer

const T = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

function gStr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(b.length), b]);
}

function gScalar(type: number, v: unknown): Buffer {
  const b = Buffer.alloc(8);
  switch (type) {
    case T.u8:
      b.writeUInt8(v as number);
      return b.subarray(0, 1);
    case T.i8:
      b.writeInt8(v as number);
      return b.subarray(0, 1);
    case T.u16:
      b.writeUInt16LE(v as number);
      return b.subarray(0, 2);
    case T.i16:
      b.writeInt16LE(v as number);
      return b.subarray(0, 2);
    case T.u32:
      b.writeUInt32LE(v as number);
      return b.subarray(0, 4);
    case T.i32:
      b.writeInt32LE(v as number);
      return b.subarray(0, 4);
    case T.f32:
      b.writeFloatLE(v as number);
      return b.subarray(0, 4);
    case T.bool:
      b.writeUInt8(v ? 1 : 0);
      return b.subarray(0, 1);
    case T.string:
      return gStr(v as string);
    case T.u64:
      b.writeBigUInt64LE(BigInt(v as number | bigint));
      return b;
    case T.i64:
      b.writeBigInt64LE(BigInt(v as number | bigint));
      return b;
    case T.f64:
      b.writeDoubleLE(v as number);
      return b;
    default:
      throw new Error(`gScalar: type ${type}`);
  }
}

interface GArray {
  elemType: number;
  values: unknown[];
}
type KV = [key: string, type: number, value: unknown];

function gValue(type: number, v: unknown): Buffer {
  if (type !== T.array) return gScalar(type, v);
  const a = v as GArray;
  return Buffer.concat([
    gScalar(T.u32, a.elemType),
    u64(a.values.length),
    ...a.values.map((x) => gValue(a.elemType, x)),
  ]);
}

interface GTensor {
  name: string;
  ne: number[];
  type: number;
  offset?: number;
}

/** Bytes a tensor occupies given its ggml type. */
function ggmlBytes(ne: number[], type: number): number {
  const t = GGML_TYPES[type];
  const elements = ne.reduce((a, b) => a * b, 1);
  return (elements / t.blockSize) * t.typeSize;
}

/** Builds a valid little-endian GGUF v3 file (data zero-filled) unless told otherwise. */
function buildGguf(opts: {
  kv?: KV[];
  tensors?: GTensor[];
  version?: number;
  alignment?: number;
  magic?: string;
}): Buffer {
  const align = opts.alignment ?? 32;
  const kv = opts.kv ?? [];
  const tensors = opts.tensors ?? [];
  const parts: Buffer[] = [
    Buffer.from(opts.magic ?? 'GGUF', 'latin1'),
    gScalar(T.u32, opts.version ?? 3),
    u64(tensors.length),
    u64(kv.length),
  ];
  for (const [key, type, value] of kv) parts.push(gStr(key), gScalar(T.u32, type), gValue(type, value));
  let rel = 0;
  let dataEnd = 0;
  for (const t of tensors) {
    const bytes = ggmlBytes(t.ne, t.type);
    const offset = t.offset ?? rel;
    pushAll(
      parts,
      [gStr(t.name), gScalar(T.u32, t.ne.length)],
      t.ne.map((d) => u64(d)),
      [gScalar(T.u32, t.type), u64(offset)],
    );
    rel = Math.ceil((offset + bytes) / align) * align;
    dataEnd = Math.max(dataEnd, offset + bytes);
  }
  const head = Buffer.concat(parts);
  const dataStart = Math.ceil(head.length / align) * align;
  return Buffer.concat([head, Buffer.alloc(dataStart - head.length), Buffer.alloc(dataEnd)]);
}

function writeGguf(name: string, opts: Parameters<typeof buildGguf>[0]): string {
  const file = tmpPath(name);
  fs.writeFileSync(file, buildGguf(opts));
  return file;
}

/** Raw GGUF prefix: magic, version 3, tensor and kv counts. */
function ggufPrefix(tensorCount: number | bigint, kvCount: number | bigint): Buffer {
  return Buffer.concat([Buffer.from('GGUF'), gScalar(T.u32, 3), u64(tensorCount), u64(kvCount)]);
}

// ---------------------------------------------------------------- llama2.c writer

function llama2cHeader(v: number[]): Buffer {
  const b = Buffer.alloc(28);
  v.forEach((x, i) => b.writeInt32LE(x, i * 4));
  return b;
}

/** Expected float count of a llama2.c file for these header values. */
function llama2cFloats(
  dim: number,
  hidden: number,
  layers: number,
  heads: number,
  kvHeads: number,
  vocab: number,
  seq: number,
): number {
  const kvDim = (dim * kvHeads) / heads;
  const perLayer = 2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hidden * dim;
  const freq = 2 * seq * Math.floor(dim / heads / 2);
  return Math.abs(vocab) * dim * (vocab < 0 ? 2 : 1) + layers * perLayer + dim + freq;
}

// ---------------------------------------------------------------------------------------

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-models-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('models: stories260K fixture', () => {
  const byName = (ts: TensorInfo[]): Map<string, TensorInfo> => new Map(ts.map((t) => [t.name, t]));

  it('reads the HF folder (config.json + model.safetensors)', () => {
    const h = readModelHeader(FIXTURE);
    assert.equal(h.format, 'hf-folder');
    assert.equal(h.path, FIXTURE);
    assert.equal(h.architecture, 'llama');
    assert.equal(h.tensors.length, 1 + 5 * 9 + 1);
    assert.equal(h.dtype, 'F32');
    assert.equal(h.parameters, 260032);
    assert.equal(h.bytes, 260032 * 4);
    assert.equal(h.config.hidden_size, 64);
    assert.deepEqual(h.files, [path.join(FIXTURE, 'config.json'), path.join(FIXTURE, 'model.safetensors')]);
    const t = byName(h.tensors);
    assert.deepEqual(t.get('model.layers.0.self_attn.k_proj.weight')?.shape, [32, 64]);
    assert.deepEqual(t.get('model.layers.4.mlp.down_proj.weight')?.shape, [64, 172]);
    assert.deepEqual(t.get('model.embed_tokens.weight')?.shape, [512, 64]);
    assert.equal(t.has('lm_head.weight'), false, 'tied embeddings: no lm_head');
    for (const x of h.tensors) {
      assert.equal(x.bitsPerElement, 32);
      assert.equal(x.bytes, x.elements * 4);
      assert.equal(x.file, path.join(FIXTURE, 'model.safetensors'));
    }
    // JSON order is kept (the fixture's JSON is name-sorted).
    assert.equal(h.tensors[0].name, 'model.embed_tokens.weight');
    assert.equal(h.tensors[0].offset, 8 + 4856);
  });

  it('reads the lone .safetensors with the config.json beside it', () => {
    const h = readModelHeader(path.join(FIXTURE, 'model.safetensors'));
    assert.equal(h.format, 'safetensors');
    assert.equal(h.architecture, 'llama');
    assert.equal(h.tensors.length, 47);
    assert.ok(h.files.includes(path.join(FIXTURE, 'config.json')));
  });

  it('reads the llama2.c .bin under HF names with the same shapes and parameters', () => {
    const bin = readModelHeader(path.join(FIXTURE, 'stories260K.bin'));
    const st = readModelHeader(FIXTURE);
    assert.equal(bin.format, 'llama2c');
    assert.equal(bin.architecture, 'llama');
    assert.equal(bin.dtype, 'F32');
    assert.equal(bin.parameters, st.parameters);
    assert.equal(bin.bytes, st.bytes);
    assert.deepEqual(bin.config, {
      dim: 64,
      hidden_dim: 172,
      n_layers: 5,
      n_heads: 8,
      n_kv_heads: 4,
      vocab_size: 512,
      seq_len: 512,
      shared_classifier: true,
      rope_interleaved: true,
    });
    const a = byName(bin.tensors);
    const b = byName(st.tensors);
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, t] of a) assert.deepEqual(t.shape, b.get(name)?.shape, name);
    // HF order per layer, embeddings first, final norm last.
    assert.equal(bin.tensors[0].name, 'model.embed_tokens.weight');
    assert.equal(bin.tensors[1].name, 'model.layers.0.input_layernorm.weight');
    assert.equal(bin.tensors[2].name, 'model.layers.0.self_attn.q_proj.weight');
    assert.equal(bin.tensors.at(-1)?.name, 'model.norm.weight');
  });

  it('llama2.c offsets point at the same weights as the safetensors (unpermuted tensors)', () => {
    const bin = byName(readLlama2cHeader(path.join(FIXTURE, 'stories260K.bin')).tensors);
    const st = byName(readSafetensorsHeader(path.join(FIXTURE, 'model.safetensors')).tensors);
    const peek = (t: TensorInfo): Buffer => {
      const fd = fs.openSync(t.file, 'r');
      try {
        const n = Math.min(t.bytes, 256);
        const buf = Buffer.alloc(n);
        fs.readSync(fd, buf, 0, n, t.offset + t.bytes - n); // the tail catches slice-offset errors
        return buf;
      } finally {
        fs.closeSync(fd);
      }
    };
    for (const name of [
      'model.embed_tokens.weight',
      'model.layers.2.self_attn.v_proj.weight',
      'model.layers.3.self_attn.o_proj.weight',
      'model.layers.4.mlp.down_proj.weight',
      'model.layers.1.post_attention_layernorm.weight',
      'model.norm.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.4.mlp.gate_proj.weight',
    ]) {
      assert.deepEqual(peek(bin.get(name)!), peek(st.get(name)!), name);
    }
  });

  it('fingerprints change when a file is touched; describeModel is one line', () => {
    const dir = tmpDir('fixture-copy');
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
    const h = readModelHeader(dir);
    const fp = modelFingerprint(h);
    assert.match(fp, /^[0-9a-f]{64}$/);
    assert.equal(modelFingerprint(readModelHeader(dir)), fp);
    fs.utimesSync(path.join(dir, 'model.safetensors'), new Date(), new Date(Date.now() + 5000));
    assert.notEqual(modelFingerprint(h), fp);
    const line = describeModel(h);
    assert.ok(!line.includes('\n'));
    assert.ok(
      line.includes('llama') && line.includes('260.03K') && line.includes('47 tensors') && line.includes('F32'),
      line,
    );
  });
});

describe('models: safetensors', () => {
  it('reads a valid file: absolute offsets, metadata, JSON order, dtypes', () => {
    const file = writeSafetensors(
      tmpPath('ok.safetensors'),
      {
        __metadata__: { format: 'pt' },
        'b.weight': { dtype: 'BF16', shape: [2, 3], data_offsets: [8, 20] },
        'a.weight': { dtype: 'I8', shape: [8], data_offsets: [0, 8] },
        empty: { dtype: 'F32', shape: [0, 4], data_offsets: [20, 20] },
      },
      20,
    );
    const h = readSafetensorsHeader(file);
    assert.deepEqual(h.metadata, { format: 'pt' });
    assert.deepEqual(
      h.tensors.map((t) => t.name),
      ['b.weight', 'a.weight', 'empty'],
    );
    const hdrLen = fs.readFileSync(file).readBigUInt64LE(0);
    assert.equal(h.tensors[0].offset, 8 + Number(hdrLen) + 8);
    assert.equal(h.tensors[0].bitsPerElement, 16);
    assert.equal(h.tensors[0].elements, 6);
    assert.equal(h.tensors[1].bytes, 8);
    assert.equal(h.tensors[2].elements, 0);
    const m = readModelHeader(file);
    assert.equal(m.architecture, 'unknown');
    assert.equal(m.dtype, 'I8');
  });

  it('rejects a huge header length without allocating it', () => {
    const file = writeSafetensors(tmpPath('huge.safetensors'), '{}', 0, 1n << 60n);
    expectError(() => readSafetensorsHeader(file), 'model/header-too-large', file);
  });

  it('rejects a header length past the end of the file', () => {
    const file = writeSafetensors(tmpPath('short.safetensors'), '{}', 0, 5000n);
    expectError(() => readSafetensorsHeader(file), 'model/truncated', file);
  });

  it('rejects a file shorter than the length prefix', () => {
    const file = tmpPath('tiny.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectError(() => readSafetensorsHeader(file), 'model/truncated', file);
  });

  it('rejects a truncated copy of the real fixture', () => {
    const file = tmpPath('cut.safetensors');
    fs.writeFileSync(file, fs.readFileSync(path.join(FIXTURE, 'model.safetensors')).subarray(0, 3000));
    expectError(() => readSafetensorsHeader(file), 'model/truncated', file);
    const file2 = tmpPath('cut-data.safetensors');
    fs.writeFileSync(file2, fs.readFileSync(path.join(FIXTURE, 'model.safetensors')).subarray(0, 600000));
    expectError(() => readSafetensorsHeader(file2), 'model/truncated', file2, 'truncated');
  });

  it('rejects non-JSON with the parse position', () => {
    const file = writeSafetensors(tmpPath('nojson.safetensors'), '{"a": {"dtype": "F32",\n  oops}', 0);
    expectError(() => readSafetensorsHeader(file), 'model/bad-json', file, 'line 2, column 3');
  });

  it('rejects invalid UTF-8 and non-object headers', () => {
    const bad = tmpPath('utf8.safetensors');
    fs.writeFileSync(bad, Buffer.concat([u64(3), Buffer.from([0x7b, 0xff, 0x7d])]));
    expectError(() => readSafetensorsHeader(bad), 'model/bad-json', bad, 'UTF-8');
    const arr = writeSafetensors(tmpPath('array.safetensors'), '[1, 2]', 0);
    expectError(() => readSafetensorsHeader(arr), 'model/bad-header', arr);
  });

  it('rejects an unknown dtype naming the tensor', () => {
    const file = writeSafetensors(
      tmpPath('dtype.safetensors'),
      { w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } },
      16,
    );
    expectError(() => readSafetensorsHeader(file), 'model/unknown-dtype', file, '"w"', 'F128');
    const proto = writeSafetensors(
      tmpPath('proto.safetensors'),
      { w: { dtype: 'toString', shape: [1], data_offsets: [0, 1] } },
      1,
    );
    expectError(() => readSafetensorsHeader(proto), 'model/unknown-dtype', proto, 'toString');
  });

  it('rejects a shape/size mismatch naming the tensor', () => {
    const file = writeSafetensors(
      tmpPath('mismatch.safetensors'),
      { 'x.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } },
      24,
    );
    expectError(() => readSafetensorsHeader(file), 'model/bad-shape', file, '"x.weight"', '24', '20');
  });

  it('rejects negative, fractional, NaN-like and overflowing dims', () => {
    for (const shape of [[-1, 4], [1.5], ['4'], [null], [2 ** 30, 2 ** 30, 2 ** 30], [2 ** 53 + 2]]) {
      const file = writeSafetensors(
        tmpPath('dims.safetensors'),
        { w: { dtype: 'F32', shape, data_offsets: [0, 4] } },
        4,
      );
      expectError(() => readSafetensorsHeader(file), 'model/bad-shape', file, '"w"');
    }
  });

  it('rejects offsets past the end of the file', () => {
    const file = writeSafetensors(
      tmpPath('past.safetensors'),
      { w: { dtype: 'F32', shape: [4], data_offsets: [100, 116] } },
      16,
    );
    expectError(() => readSafetensorsHeader(file), 'model/truncated', file, '"w"', 'past the end');
  });

  it('rejects overlapping, reversed and negative offsets', () => {
    const overlap = writeSafetensors(
      tmpPath('overlap.safetensors'),
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      },
      24,
    );
    expectError(() => readSafetensorsHeader(overlap), 'model/bad-offsets', overlap, '"a"', '"b"', 'overlaps');
    const reversed = writeSafetensors(
      tmpPath('rev.safetensors'),
      { r: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } },
      8,
    );
    expectError(() => readSafetensorsHeader(reversed), 'model/bad-offsets', reversed, '"r"');
    const negative = writeSafetensors(
      tmpPath('neg.safetensors'),
      { n: { dtype: 'U8', shape: [4], data_offsets: [-4, 0] } },
      8,
    );
    expectError(() => readSafetensorsHeader(negative), 'model/bad-offsets', negative, '"n"');
  });

  it('rejects non-string __metadata__ values', () => {
    const file = writeSafetensors(tmpPath('meta.safetensors'), { __metadata__: { n: 3 } }, 0);
    expectError(() => readSafetensorsHeader(file), 'model/bad-header', file, '__metadata__');
  });
});

describe('models: gguf', () => {
  const tokens = Array.from({ length: 1500 }, (_, i) => `tok${i}`);
  const validOpts = {
    kv: [
      ['general.architecture', T.string, 'llama'],
      ['general.name', T.string, 'tiny'],
      ['llama.block_count', T.u32, 2],
      ['llama.rope.freq_base', T.f32, 10000],
      ['general.file_type', T.u64, 7n],
      ['big', T.u64, 1n << 60n],
      ['neg', T.i64, -5n],
      ['flag', T.bool, true],
      ['small.list', T.array, { elemType: T.i32, values: [1, -2, 3] }],
      ['nested', T.array, { elemType: T.array, values: [{ elemType: T.u8, values: [1, 2] }] }],
      ['tokenizer.ggml.tokens', T.array, { elemType: T.string, values: tokens }],
      ['tokenizer.ggml.scores', T.array, { elemType: T.f32, values: tokens.map(() => 0.5) }],
    ] as KV[],
    tensors: [
      { name: 'token_embd.weight', ne: [8, 4], type: 0 },
      { name: 'blk.0.attn_norm.weight', ne: [16], type: 1 },
      { name: 'blk.0.attn_q.weight', ne: [64, 2], type: 2 },
      { name: 'blk.0.ffn_down.weight', ne: [256, 3], type: 14 },
    ],
  };

  it('reads metadata, shapes (ne reversed), types, offsets', () => {
    const file = writeGguf('ok.gguf', validOpts);
    const h = readGgufHeader(file);
    assert.equal(h.version, 3);
    assert.equal(h.alignment, 32);
    assert.equal(h.dataOffset % 32, 0);
    assert.equal(h.metadata['general.architecture'], 'llama');
    assert.equal(h.metadata['llama.block_count'], 2);
    assert.equal(h.metadata['general.file_type'], 7);
    assert.equal(h.metadata.big, (1n << 60n).toString());
    assert.equal(h.metadata.neg, -5);
    assert.equal(h.metadata.flag, true);
    assert.deepEqual(h.metadata['small.list'], [1, -2, 3]);
    assert.deepEqual(h.metadata.nested, [[1, 2]]);
    assert.deepEqual(h.metadata['tokenizer.ggml.tokens'], { type: 'string', length: 1500 });
    assert.deepEqual(h.metadata['tokenizer.ggml.scores'], { type: 'f32', length: 1500 });
    const [emb, norm, q, down] = h.tensors;
    assert.deepEqual(emb.shape, [4, 8]);
    assert.equal(emb.dtype, 'F32');
    assert.equal(emb.offset, h.dataOffset);
    assert.equal(norm.dtype, 'F16');
    assert.equal(norm.bytes, 32);
    assert.deepEqual(q.shape, [2, 64]);
    assert.equal(q.dtype, 'Q4_0');
    assert.equal(q.bitsPerElement, 4.5);
    assert.equal(q.bytes, 4 * 18);
    assert.equal(down.dtype, 'Q6_K');
    assert.equal(down.bytes, 3 * 210);
    assert.equal(down.bitsPerElement, 6.5625);
    for (const t of h.tensors) assert.equal((t.offset - h.dataOffset) % 32, 0);

    const m = readModelHeader(file);
    assert.equal(m.format, 'gguf');
    assert.equal(m.architecture, 'llama');
    assert.equal(m.parameters, 32 + 16 + 128 + 768);
    assert.equal(m.dtype, 'Q6_K');
  });

  it('recognises GGUF by magic whatever the extension, and honours general.alignment', () => {
    const file = tmpPath('model.weights');
    fs.writeFileSync(
      file,
      buildGguf({
        alignment: 64,
        kv: [['general.alignment', T.u32, 64]],
        tensors: [
          { name: 'a', ne: [3], type: 0 },
          { name: 'b', ne: [32], type: 8 },
        ],
      }),
    );
    const h = readModelHeader(file);
    assert.equal(h.format, 'gguf');
    assert.equal(h.tensors[1].offset % 64, 0);
    assert.equal(h.tensors[1].offset - h.tensors[0].offset, 64);
  });

  it('has the ggml block table right for common types', () => {
    const bpe = (id: number): number => (GGML_TYPES[id].typeSize * 8) / GGML_TYPES[id].blockSize;
    assert.equal(bpe(12), 4.5); // Q4_K
    assert.equal(bpe(13), 5.5); // Q5_K
    assert.equal(bpe(11), 3.4375); // Q3_K
    assert.equal(bpe(10), 2.625); // Q2_K
    assert.equal(bpe(8), 8.5); // Q8_0
    assert.equal(GGML_TYPES[30].name, 'BF16');
    assert.equal(GGML_TYPES[35].name, 'TQ2_0');
  });

  it('rejects a bad magic and unsupported versions', () => {
    const file = writeGguf('magic.gguf', { magic: 'GGUX' });
    expectError(() => readGgufHeader(file), 'model/bad-header', file, 'magic');
    const v1 = writeGguf('v1.gguf', { version: 1 });
    expectError(() => readGgufHeader(v1), 'model/bad-header', v1, 'version 1');
    const be = writeGguf('be.gguf', { version: 0x03000000 });
    expectError(() => readGgufHeader(be), 'model/bad-header', be, 'big-endian');
  });

  it('rejects a string length of 2^62', () => {
    const file = tmpPath('str.gguf');
    fs.writeFileSync(file, Buffer.concat([ggufPrefix(0, 1), u64(1n << 62n), Buffer.from('key'), Buffer.alloc(32)]));
    expectError(() => readGgufHeader(file), 'model/header-too-large', file, String(1n << 62n));
  });

  it('rejects a string running past the end of the file', () => {
    const file = tmpPath('strend.gguf');
    fs.writeFileSync(file, Buffer.concat([ggufPrefix(0, 1), u64(1000), Buffer.from('key')]));
    expectError(() => readGgufHeader(file), 'model/truncated', file);
  });

  it('rejects huge array counts before looping or allocating', () => {
    const huge = tmpPath('arr.gguf');
    fs.writeFileSync(
      huge,
      Buffer.concat([ggufPrefix(0, 1), gStr('a'), gScalar(T.u32, T.array), gScalar(T.u32, T.u8), u64(1n << 61n)]),
    );
    expectError(() => readGgufHeader(huge), 'model/header-too-large', huge, '"a"');
    const past = tmpPath('arr2.gguf');
    fs.writeFileSync(
      past,
      Buffer.concat([
        ggufPrefix(0, 1),
        gStr('s'),
        gScalar(T.u32, T.array),
        gScalar(T.u32, T.string),
        u64(1_000_000),
        gStr('x'),
      ]),
    );
    expectError(() => readGgufHeader(past), 'model/truncated', past, '"s"');
  });

  it('rejects huge tensor / kv counts', () => {
    const file = tmpPath('counts.gguf');
    fs.writeFileSync(file, ggufPrefix(1n << 50n, 0));
    expectError(() => readGgufHeader(file), 'model/header-too-large', file, 'tensor count');
    const file2 = tmpPath('counts2.gguf');
    fs.writeFileSync(file2, Buffer.concat([ggufPrefix(0, 1000), Buffer.alloc(100)]));
    expectError(() => readGgufHeader(file2), 'model/truncated', file2, 'key/value count');
  });

  it('rejects a truncated file', () => {
    const whole = buildGguf(validOpts);
    const file = tmpPath('trunc.gguf');
    fs.writeFileSync(file, whole.subarray(0, 200));
    expectError(() => readGgufHeader(file), 'model/truncated', file);
    const noData = tmpPath('nodata.gguf');
    fs.writeFileSync(noData, whole.subarray(0, whole.length - 10));
    expectError(() => readGgufHeader(noData), 'model/truncated', noData, 'blk.0.ffn_down.weight');
  });

  it('rejects n_dims > 4 naming the tensor', () => {
    const file = writeGguf('dims.gguf', { tensors: [{ name: 'five.d', ne: [1, 1, 1, 1, 1], type: 0 }] });
    expectError(() => readGgufHeader(file), 'model/bad-shape', file, '"five.d"', '5 dimensions');
  });

  it('rejects ne[0] not a multiple of the block size', () => {
    const file = tmpPath('block.gguf');
    // Write the tensor info by hand: the writer cannot size a partial block.
    fs.writeFileSync(
      file,
      Buffer.concat([
        ggufPrefix(1, 0),
        gStr('blk.0.attn_k.weight'),
        gScalar(T.u32, 2),
        u64(48),
        u64(2),
        gScalar(T.u32, 2),
        u64(0),
        Buffer.alloc(256),
      ]),
    );
    expectError(() => readGgufHeader(file), 'model/bad-shape', file, '"blk.0.attn_k.weight"', 'Q4_0', '32');
  });

  it('rejects unknown ggml types', () => {
    const file = tmpPath('type.gguf');
    fs.writeFileSync(
      file,
      Buffer.concat([
        ggufPrefix(1, 0),
        gStr('w'),
        gScalar(T.u32, 1),
        u64(4),
        gScalar(T.u32, 99),
        u64(0),
        Buffer.alloc(64),
      ]),
    );
    expectError(() => readGgufHeader(file), 'model/unknown-dtype', file, '"w"', '99');
  });

  it('rejects element counts beyond 2^53 and absurd dims', () => {
    const file = tmpPath('overflow.gguf');
    fs.writeFileSync(
      file,
      Buffer.concat([
        ggufPrefix(1, 0),
        gStr('w'),
        gScalar(T.u32, 2),
        u64(1n << 27n),
        u64(1n << 27n),
        gScalar(T.u32, 0),
        u64(0),
        Buffer.alloc(64),
      ]),
    );
    expectError(() => readGgufHeader(file), 'model/bad-shape', file, '"w"', '2^53');
    const file2 = tmpPath('dim64.gguf');
    fs.writeFileSync(
      file2,
      Buffer.concat([
        ggufPrefix(1, 0),
        gStr('w'),
        gScalar(T.u32, 1),
        u64(1n << 63n),
        gScalar(T.u32, 0),
        u64(0),
        Buffer.alloc(64),
      ]),
    );
    expectError(() => readGgufHeader(file2), 'model/bad-shape', file2, '"w"');
  });

  it('rejects data offsets past the end, misaligned or overlapping', () => {
    const past = writeGguf('past.gguf', { tensors: [{ name: 'w', ne: [4], type: 0 }] });
    const buf = fs.readFileSync(past);
    fs.writeFileSync(past, buf.subarray(0, buf.length - 4)); // zero-length tail for the tensor
    expectError(() => readGgufHeader(past), 'model/truncated', past, '"w"', 'past the end');
    const far = tmpPath('far.gguf');
    fs.writeFileSync(
      far,
      Buffer.concat([
        ggufPrefix(1, 0),
        gStr('w'),
        gScalar(T.u32, 1),
        u64(4),
        gScalar(T.u32, 0),
        u64(1n << 40n),
        Buffer.alloc(64),
      ]),
    );
    expectError(() => readGgufHeader(far), 'model/truncated', far, '"w"');
    const misaligned = writeGguf('mis.gguf', { tensors: [{ name: 'm', ne: [4], type: 0, offset: 4 }] });
    expectError(() => readGgufHeader(misaligned), 'model/bad-offsets', misaligned, '"m"', 'alignment');
    const overlap = writeGguf('ov.gguf', {
      tensors: [
        { name: 'a', ne: [64], type: 0 },
        { name: 'b', ne: [8], type: 0, offset: 32 },
      ],
    });
    expectError(() => readGgufHeader(overlap), 'model/bad-offsets', overlap, '"a"', '"b"', 'overlaps');
  });

  it('rejects bad alignment, duplicate keys and unknown value types', () => {
    const align = writeGguf('align.gguf', { kv: [['general.alignment', T.u32, 3]] });
    expectError(() => readGgufHeader(align), 'model/bad-header', align, 'general.alignment');
    const dup = writeGguf('dup.gguf', {
      kv: [
        ['k', T.u8, 1],
        ['k', T.u8, 2],
      ],
    });
    expectError(() => readGgufHeader(dup), 'model/bad-header', dup, 'duplicate', '"k"');
    const vt = tmpPath('vt.gguf');
    fs.writeFileSync(vt, Buffer.concat([ggufPrefix(0, 1), gStr('odd'), gScalar(T.u32, 42), Buffer.alloc(16)]));
    expectError(() => readGgufHeader(vt), 'model/bad-header', vt, '"odd"', '42');
  });
});

describe('models: llama2.c', () => {
  function writeBin(name: string, header: number[], floats: number): string {
    const file = tmpPath(name);
    fs.writeFileSync(file, Buffer.concat([llama2cHeader(header), Buffer.alloc(floats * 4)]));
    return file;
  }

  it('reads an unshared classifier stored after freq_cis', () => {
    const hdr = [16, 24, 2, 4, 2, -32, 8];
    const floats = llama2cFloats(16, 24, 2, 4, 2, -32, 8);
    const file = writeBin('unshared.bin', hdr, floats);
    const h = readLlama2cHeader(file);
    assert.equal(h.config.shared_classifier, false);
    assert.equal(h.config.vocab_size, 32);
    const head = h.tensors.find((t) => t.name === 'lm_head.weight');
    assert.ok(head);
    assert.deepEqual(head.shape, [32, 16]);
    assert.equal(head.offset + head.bytes, 28 + floats * 4, 'lm_head is the last array');
    assert.equal(h.tensors.at(-1)?.name, 'lm_head.weight');
    assert.deepEqual(h.tensors.find((t) => t.name === 'model.layers.1.self_attn.k_proj.weight')?.shape, [8, 16]);
    assert.equal(h.tensors.length, 1 + 2 * 9 + 1 + 1);
  });

  it('rejects zero and negative header fields', () => {
    for (const hdr of [
      [0, 24, 2, 4, 2, 32, 8],
      [-16, 24, 2, 4, 2, 32, 8],
      [16, 24, 2, 4, 2, 0, 8],
      [16, 24, -1, 4, 2, 32, 8],
    ]) {
      const file = writeBin('neg.bin', hdr, 10000);
      expectError(() => readLlama2cHeader(file), 'model/bad-header', file, 'must be positive');
    }
  });

  it('rejects inconsistent head counts', () => {
    const a = writeBin('heads.bin', [16, 24, 2, 5, 5, 32, 8], 10000);
    expectError(() => readLlama2cHeader(a), 'model/bad-header', a, 'n_heads');
    const b = writeBin('kvheads.bin', [16, 24, 2, 4, 3, 32, 8], 10000);
    expectError(() => readLlama2cHeader(b), 'model/bad-header', b, 'n_kv_heads');
  });

  it('rejects a file smaller than its header implies', () => {
    const file = writeBin('small.bin', [16, 24, 2, 4, 2, 32, 8], llama2cFloats(16, 24, 2, 4, 2, 32, 8) - 1);
    expectError(() => readLlama2cHeader(file), 'model/truncated', file, 'needs');
    const tiny = tmpPath('tiny.bin');
    fs.writeFileSync(tiny, Buffer.alloc(10));
    expectError(() => readLlama2cHeader(tiny), 'model/truncated', tiny);
    const real = tmpPath('real-cut.bin');
    fs.writeFileSync(real, fs.readFileSync(path.join(FIXTURE, 'stories260K.bin')).subarray(0, 500000));
    expectError(() => readModelHeader(real), 'model/truncated', real);
  });

  it('rejects sizes overflowing 2^53 and the ak42 format', () => {
    const big = writeBin('big.bin', [2 ** 30, 2 ** 30, 64, 1, 1, 1, 1], 0);
    expectError(() => readLlama2cHeader(big), 'model/bad-header', big, 'overflow');
    const ak = tmpPath('ak42.bin');
    const b = llama2cHeader([0x616b3432, 2, 64, 172, 5, 8, 4]);
    fs.writeFileSync(ak, Buffer.concat([b, Buffer.alloc(100)]));
    expectError(() => readLlama2cHeader(ak), 'model/bad-header', ak, 'ak42');
  });

  it('refuses PyTorch zip checkpoints named .bin', () => {
    const file = tmpPath('pytorch_model.bin');
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100)]));
    expectError(() => readModelHeader(file), 'model/unknown-format', file, 'PyTorch');
  });
});

describe('models: HF folders', () => {
  const cfg = { architectures: ['MistralForCausalLM'], hidden_size: 4 };

  function shard(dir: string, name: string, tensors: Record<string, number[]>): void {
    const header: Record<string, unknown> = {};
    let pos = 0;
    for (const [t, shape] of Object.entries(tensors)) {
      const bytes = shape.reduce((a, b) => a * b, 1) * 2;
      header[t] = { dtype: 'F16', shape, data_offsets: [pos, pos + bytes] };
      pos += bytes;
    }
    writeSafetensors(path.join(dir, name), header, pos);
  }

  function sharded(index: Record<string, string>): string {
    const dir = tmpDir('sharded');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    shard(dir, 'model-00001-of-00002.safetensors', {
      'model.embed_tokens.weight': [8, 4],
      'model.layers.0.mlp.up_proj.weight': [6, 4],
    });
    shard(dir, 'model-00002-of-00002.safetensors', { 'model.norm.weight': [4], 'lm_head.weight': [8, 4] });
    fs.writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: index }),
    );
    return dir;
  }
  const goodIndex = {
    'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
    'model.layers.0.mlp.up_proj.weight': 'model-00001-of-00002.safetensors',
    'model.norm.weight': 'model-00002-of-00002.safetensors',
    'lm_head.weight': 'model-00002-of-00002.safetensors',
  };

  it('reads a sharded folder through its index', () => {
    const dir = sharded(goodIndex);
    const h = readModelHeader(dir);
    assert.equal(h.format, 'hf-folder');
    assert.equal(h.architecture, 'MistralForCausalLM');
    assert.equal(h.tensors.length, 4);
    assert.equal(h.parameters, 32 + 24 + 4 + 32);
    assert.equal(h.dtype, 'F16');
    assert.deepEqual(
      h.files.map((f) => path.basename(f)),
      [
        'config.json',
        'model.safetensors.index.json',
        'model-00001-of-00002.safetensors',
        'model-00002-of-00002.safetensors',
      ],
    );
    assert.ok(h.files.every((f) => path.isAbsolute(f)));
    assert.equal(
      h.tensors.find((t) => t.name === 'lm_head.weight')?.file,
      path.join(dir, 'model-00002-of-00002.safetensors'),
    );
  });

  it('reads every *.safetensors when there is no index', () => {
    const dir = sharded(goodIndex);
    fs.unlinkSync(path.join(dir, 'model.safetensors.index.json'));
    const h = readHfFolder(dir);
    assert.equal(h.tensors.length, 4);
    assert.equal(h.files.length, 3);
  });

  it('rejects an index pointing at a missing shard', () => {
    const dir = sharded({ ...goodIndex, 'model.norm.weight': 'model-00003-of-00003.safetensors' });
    const index = path.join(dir, 'model.safetensors.index.json');
    expectError(
      () => readModelHeader(dir),
      'model/bad-index',
      index,
      '"model.norm.weight"',
      'model-00003-of-00003.safetensors',
      'does not exist',
    );
  });

  it('rejects an index naming a tensor its shard lacks', () => {
    const dir = sharded({ ...goodIndex, 'model.layers.9.mlp.up_proj.weight': 'model-00001-of-00002.safetensors' });
    expectError(
      () => readHfFolder(dir),
      'model/bad-index',
      'model.safetensors.index.json',
      '"model.layers.9.mlp.up_proj.weight"',
    );
  });

  it('rejects a tensor stored in two shards', () => {
    const dir = sharded(goodIndex);
    shard(dir, 'model-00002-of-00002.safetensors', {
      'model.norm.weight': [4],
      'lm_head.weight': [8, 4],
      'model.embed_tokens.weight': [8, 4],
    });
    expectError(() => readHfFolder(dir), 'model/bad-index', '"model.embed_tokens.weight"', 'both');
    fs.unlinkSync(path.join(dir, 'model.safetensors.index.json'));
    expectError(() => readHfFolder(dir), 'model/bad-header', '"model.embed_tokens.weight"');
  });

  it('rejects malformed indexes and shards outside the folder', () => {
    const dir = sharded({ ...goodIndex, 'model.norm.weight': '../elsewhere.safetensors' });
    expectError(() => readHfFolder(dir), 'model/bad-index', 'outside the model folder');
    const dir2 = sharded(goodIndex);
    const index = path.join(dir2, 'model.safetensors.index.json');
    fs.writeFileSync(index, JSON.stringify({ weights: {} }));
    expectError(() => readHfFolder(dir2), 'model/bad-index', index, 'weight_map');
    fs.writeFileSync(index, '{"weight_map": ');
    expectError(() => readHfFolder(dir2), 'model/bad-json', index, 'end of input');
  });

  it('rejects a bad config.json naming it with the parse position', () => {
    const dir = sharded(goodIndex);
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, '{\n  "model_type": "llama",\n  "hidden_size": 64,,\n}');
    expectError(() => readModelHeader(dir), 'model/bad-json', config, 'line 3, column 21');
    fs.writeFileSync(config, '[1]');
    expectError(() => readModelHeader(dir), 'model/bad-json', config, 'JSON object');
  });

  it('rejects a folder without weights', () => {
    const dir = tmpDir('empty');
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    expectError(() => readModelHeader(dir), 'model/unknown-format', dir, 'PyTorch');
  });
});

describe('models: readModelHeader detection', () => {
  it('reports a missing path as not-found', () => {
    const missing = path.join(tmp, 'does-not-exist.safetensors');
    expectError(() => readModelHeader(missing), 'model/not-found', missing);
  });

  it('reports unknown extensions as unknown-format', () => {
    const file = tmpPath('weights.onnx');
    fs.writeFileSync(file, Buffer.alloc(64));
    expectError(() => readModelHeader(file), 'model/unknown-format', file);
  });
});
