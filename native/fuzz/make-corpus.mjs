#!/usr/bin/env node
// Writes the seed corpus of the native fuzzers (native/fuzz/corpus/<target>/): small valid
// inputs of every kind each reader handles, and every hostile input found by hand or by a
// tester, as regression cases. Deterministic: running it again rewrites the same bytes.
// Inputs the fuzzers found later are added by `node scripts/fuzz.mjs --merge` (or by hand,
// named after what they broke) and are not written here.
//
//   node native/fuzz/make-corpus.mjs
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const corpus = path.join(here, 'corpus');

function put(target, name, data) {
  const dir = path.join(corpus, target);
  fs.mkdirSync(dir, { recursive: true });
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (bytes.length > 65536) throw new Error(`${target}/${name}: ${bytes.length} bytes (max_len is 65536)`);
  fs.writeFileSync(path.join(dir, name), bytes);
}

// ---- byte helpers ------------------------------------------------------------------------

const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const i32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const f32 = (xs) => Buffer.from(new Float32Array(xs).buffer);
let seed = 12345;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const randomBytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
/** An f16 with a small positive value: block scales that decode to finite weights. */
const f16Scale = () => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(0x2000 + Math.floor(rand() * 0x0800)); // ~0.008 .. 0.03
  return b;
};

// ---- safetensors ---------------------------------------------------------------------------

function safetensors(header, data, headerLen) {
  const json = Buffer.isBuffer(header)
    ? header
    : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  return Buffer.concat([u64(headerLen ?? json.length), json, data]);
}
function validSafetensors(tensors, metadata) {
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  return safetensors(header, Buffer.concat(tensors.map((t) => t.data)));
}

put(
  'safetensors',
  'valid-dtypes.safetensors',
  validSafetensors(
    [
      { name: 'a.weight', dtype: 'F32', shape: [2, 3], data: f32([1, -2, 3.5, 0, 1e-3, -7]) },
      { name: 'b.weight', dtype: 'BF16', shape: [4, 4], data: randomBytes(32).map((x, i) => (i % 2 ? 0x3c : x)) },
      {
        name: 'c.weight',
        dtype: 'F16',
        shape: [2, 2, 2],
        data: Buffer.from([0, 0x3c, 0, 0xbc, 0, 0x40, 1, 0, 0, 0x7c, 0, 0, 0, 0x80, 0xff, 0x7b]),
      },
      { name: 'd.bias', dtype: 'F64', shape: [3], data: Buffer.from(new Float64Array([0.5, -1e300, 3]).buffer) },
      { name: 'e.scalar', dtype: 'F32', shape: [], data: f32([42]) },
      { name: 'ids', dtype: 'I8', shape: [5], data: Buffer.from([1, 2, 3, 4, 5]) },
      { name: 'mask', dtype: 'BOOL', shape: [2], data: Buffer.from([0, 1]) },
      { name: 'fp8', dtype: 'F8_E4M3', shape: [3], data: Buffer.from([0x38, 0x7f, 0x01]) },
    ],
    { format: 'pt', note: 'é ü 日本' },
  ),
);
put(
  'safetensors',
  'valid-nan.safetensors',
  validSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 2], data: f32([1, NaN, Infinity, 0]) }]),
);
put(
  'safetensors',
  'valid-unicode-name.safetensors',
  validSafetensors([{ name: 'emb.日本.weight', dtype: 'F32', shape: [1], data: f32([1]) }]),
);
const w = (extra = {}) => ({ dtype: 'F32', shape: [1], data_offsets: [0, 4], ...extra });
put(
  'safetensors',
  'dup-name.safetensors',
  safetensors(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    Buffer.alloc(8),
  ),
);
put(
  'safetensors',
  'lone-surrogate-name.safetensors',
  safetensors('{"q\\ud800x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4)),
);
put(
  'safetensors',
  'low-surrogate-name.safetensors',
  safetensors('{"\\udc00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4)),
);
put(
  'safetensors',
  'non-utf8-name.safetensors',
  safetensors(
    Buffer.concat([
      Buffer.from('{"a'),
      Buffer.from([0xff, 0xc0, 0x80]),
      Buffer.from('":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    ]),
    Buffer.alloc(4),
  ),
);
put(
  'safetensors',
  'non-utf8-value.safetensors',
  safetensors(
    Buffer.concat([
      Buffer.from('{"w":{"dtype":"F3'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('","shape":[1],"data_offsets":[0,4]}}'),
    ]),
    Buffer.alloc(4),
  ),
);
put('safetensors', 'empty-name.safetensors', safetensors({ '': w() }, Buffer.alloc(4)));
put(
  'safetensors',
  'zero-size.safetensors',
  safetensors({ w: w(), e: { dtype: 'F32', shape: [0, 4], data_offsets: [4, 4] } }, Buffer.alloc(4)),
);
put(
  'safetensors',
  'shape-2.0.safetensors',
  safetensors('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', Buffer.alloc(8)),
);
put(
  'safetensors',
  'shape-1e0.safetensors',
  safetensors('{"w":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}', Buffer.alloc(4)),
);
put('safetensors', 'shape-negative.safetensors', safetensors({ w: w({ shape: [-1, 4] }) }, Buffer.alloc(16)));
put('safetensors', 'shape-string.safetensors', safetensors({ w: w({ shape: ['1'] }) }, Buffer.alloc(4)));
put(
  'safetensors',
  'shape-65-dims.safetensors',
  safetensors({ w: w({ shape: new Array(65).fill(1) }) }, Buffer.alloc(4)),
);
put(
  'safetensors',
  'shape-overflow.safetensors',
  safetensors({ w: w({ shape: [2 ** 40, 2 ** 40, 2 ** 40] }) }, Buffer.alloc(4)),
);
put(
  'safetensors',
  'offsets-mismatch.safetensors',
  safetensors({ w: w({ shape: [2, 2], data_offsets: [0, 12] }) }, Buffer.alloc(16)),
);
put('safetensors', 'offsets-reversed.safetensors', safetensors({ w: w({ data_offsets: [8, 4] }) }, Buffer.alloc(16)));
put(
  'safetensors',
  'offsets-past-end.safetensors',
  safetensors({ w: w({ shape: [4], data_offsets: [0, 16] }) }, Buffer.alloc(8)),
);
put(
  'safetensors',
  'overlap.safetensors',
  safetensors(
    { a: w({ shape: [2], data_offsets: [0, 8] }), b: w({ shape: [2], data_offsets: [4, 12] }) },
    Buffer.alloc(12),
  ),
);
put('safetensors', 'header-length-huge.safetensors', safetensors({}, Buffer.alloc(0), 1n << 63n));
put('safetensors', 'header-length-past-end.safetensors', safetensors({}, Buffer.alloc(0), 1000));
put('safetensors', 'deep-nesting.safetensors', safetensors('['.repeat(10000) + ']'.repeat(10000), Buffer.alloc(0)));
put('safetensors', 'not-an-object.safetensors', safetensors('[]', Buffer.alloc(0)));
put('safetensors', 'metadata-not-strings.safetensors', safetensors({ __metadata__: { a: 1 } }, Buffer.alloc(0)));
put('safetensors', 'unknown-dtype.safetensors', safetensors({ w: w({ dtype: 'F12' }) }, Buffer.alloc(4)));
put('safetensors', 'truncated-5-bytes.safetensors', Buffer.alloc(5));
put('safetensors', 'empty.safetensors', Buffer.alloc(0));

// ---- GGUF ----------------------------------------------------------------------------------

const GT = {
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
const gstr = (s) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  return Buffer.concat([u64(b.length), b]);
};
const kv = (key, type, value) => Buffer.concat([gstr(key), u32(type), value]);
function gguf(tensors, { kvs = [], version = 3, alignment = 32, tensorCount, kvCount } = {}) {
  const allKvs = [kv('general.architecture', GT.string, gstr('llama')), ...kvs];
  let off = 0;
  const infos = [];
  const datas = [];
  for (const t of tensors) {
    const at = t.offset ?? off;
    infos.push(Buffer.concat([gstr(t.name), u32(t.ne.length), ...t.ne.map((d) => u64(d)), u32(t.type), u64(at)]));
    datas.push({ at, data: t.data });
    off = Math.ceil((at + t.data.length) / alignment) * alignment;
  }
  const head = Buffer.concat([
    Buffer.from('GGUF'),
    u32(version),
    u64(tensorCount ?? tensors.length),
    u64(kvCount ?? allKvs.length),
    ...allKvs,
    ...infos,
  ]);
  const dataStart = Math.ceil(head.length / alignment) * alignment;
  const end = datas.reduce((a, d) => Math.max(a, d.at + d.data.length), 0);
  const out = Buffer.alloc(dataStart + end);
  head.copy(out, 0);
  for (const d of datas) d.data.copy(out, dataStart + d.at);
  return out;
}
// ggml block types: [id, weights per block, bytes per block, f16 scale offsets in a block].
const blockTypes = {
  q4_0: [2, 32, 18, [0]],
  q4_1: [3, 32, 20, [0, 2]],
  q5_0: [6, 32, 22, [0]],
  q5_1: [7, 32, 24, [0, 2]],
  q8_0: [8, 32, 34, [0]],
  q2_k: [10, 256, 84, [80, 82]],
  q3_k: [11, 256, 110, [108]],
  q4_k: [12, 256, 144, [0, 2]],
  q5_k: [13, 256, 176, [0, 2]],
  q6_k: [14, 256, 210, [208]],
  iq4_nl: [20, 32, 18, [0]],
  iq4_xs: [23, 256, 136, [0]],
};
function blocks(type, n) {
  const [, , bytes, scales] = blockTypes[type];
  const out = randomBytes(bytes * n);
  for (let b = 0; b < n; b++) for (const s of scales) f16Scale().copy(out, b * bytes + s);
  return out;
}
for (const [type, [id, weights]] of Object.entries(blockTypes)) {
  put(
    'gguf',
    `valid-${type}.gguf`,
    gguf([{ name: `blk.0.${type}.weight`, ne: [weights, 2], type: id, data: blocks(type, 2) }]),
  );
  // Random bytes everywhere, scales included: the decoder must not care what they hold.
  put(
    'gguf',
    `random-${type}.gguf`,
    gguf([{ name: 'w', ne: [weights * 2], type: id, data: randomBytes(blockTypes[type][2] * 2) }]),
  );
}
const t = (o = {}) => ({ name: 'w', ne: [4, 2], type: 0, data: f32([1, 2, 3, 4, 5, 6, 7, 8]), ...o });
put(
  'gguf',
  'valid-plain-and-metadata.gguf',
  gguf(
    [
      t({ name: 'token_embd.weight' }),
      { name: 'f16', ne: [4], type: 1, data: Buffer.from([0, 0x3c, 0, 0x40, 0, 0xc0, 0, 0]) },
      { name: 'bf16', ne: [2, 2], type: 30, data: Buffer.from([0x80, 0x3f, 0, 0x40, 0, 0, 0x80, 0x7f]) },
      { name: 'f64', ne: [2], type: 28, data: Buffer.from(new Float64Array([1, -2]).buffer) },
      { name: 'i8', ne: [4], type: 24, data: Buffer.from([1, 2, 3, 4]) },
      { name: 'iq2', ne: [256], type: 16, data: randomBytes(66) },
    ],
    {
      kvs: [
        kv('llama.block_count', GT.u32, u32(1)),
        kv('general.alignment', GT.u32, u32(64)),
        kv(
          'tokenizer.ggml.tokens',
          GT.array,
          Buffer.concat([u32(GT.string), u64(3), gstr('a'), gstr('bc'), gstr('日')]),
        ),
        kv('tokenizer.ggml.scores', GT.array, Buffer.concat([u32(GT.f32), u64(3), f32([0, -1, -2])])),
        kv(
          'nested',
          GT.array,
          Buffer.concat([
            u32(GT.array),
            u64(2),
            u32(GT.u8),
            u64(2),
            Buffer.from([1, 2]),
            u32(GT.string),
            u64(1),
            gstr('x'),
          ]),
        ),
        kv('x.bool', GT.bool, Buffer.from([1])),
        kv('x.i64', GT.i64, u64(5)),
        kv('x.f64', GT.f64, Buffer.from(new Float64Array([2.5]).buffer)),
      ],
      alignment: 64,
    },
  ),
);
put('gguf', 'dup-name.gguf', gguf([t(), t({ offset: 32 })]));
put('gguf', 'empty-name.gguf', gguf([t({ name: '' })]));
put('gguf', 'non-utf8-name.gguf', gguf([t({ name: Buffer.from([0x77, 0xfe, 0x78]) })]));
put('gguf', 'zero-size.gguf', gguf([t({ ne: [4, 0], data: Buffer.alloc(0) })]));
put('gguf', 'tensor-count-2^60.gguf', gguf([t()], { tensorCount: 1n << 60n }));
put('gguf', 'kv-count-2^40.gguf', gguf([t()], { kvCount: 1n << 40n }));
const longString = gguf([t()]);
longString.writeBigUInt64LE(1n << 62n, 24);
put('gguf', 'string-length-2^62.gguf', longString);
put('gguf', 'five-dims.gguf', gguf([t({ ne: [1, 1, 1, 1, 8] })]));
put('gguf', 'unknown-type.gguf', gguf([t({ type: 99 })]));
put('gguf', 'row-not-whole-blocks.gguf', gguf([t({ type: 2, ne: [16, 2], data: Buffer.alloc(18) })]));
put('gguf', 'misaligned-offset.gguf', gguf([t({ offset: 4 })]));
const pastEnd = gguf([t()]);
put('gguf', 'data-past-end.gguf', pastEnd.subarray(0, pastEnd.length - 4));
put('gguf', 'overlap.gguf', gguf([t({ ne: [8, 2], data: Buffer.alloc(64) }), t({ name: 'v', offset: 32 })]));
put('gguf', 'alignment-3.gguf', gguf([t()], { kvs: [kv('general.alignment', GT.u32, u32(3))] }));
put('gguf', 'unknown-metadata-type.gguf', gguf([t()], { kvs: [Buffer.concat([gstr('x'), u32(77), u32(0)])] }));
put(
  'gguf',
  'arrays-nested-20-deep.gguf',
  gguf([t()], {
    kvs: [
      Buffer.concat([
        gstr('deep'),
        u32(GT.array),
        ...Array.from({ length: 20 }, () => Buffer.concat([u32(GT.array), u64(1)])),
      ]),
    ],
  }),
);
put(
  'gguf',
  'array-count-huge.gguf',
  gguf([t()], { kvs: [kv('big', GT.array, Buffer.concat([u32(GT.string), u64(1n << 50n)]))] }),
);
put(
  'gguf',
  'dup-metadata-key.gguf',
  gguf([t()], { kvs: [kv('a', GT.u8, Buffer.from([1])), kv('a', GT.u8, Buffer.from([2]))] }),
);
put('gguf', 'big-endian.gguf', gguf([t()], { version: 0x03000000 }));
put('gguf', 'version-1.gguf', gguf([t()], { version: 1 }));
put('gguf', 'magic-only.gguf', Buffer.from('GGUF'));

// ---- llama2.c ------------------------------------------------------------------------------

/** A tiny checkpoint (dim 8, hidden 16, 1 layer, 2 heads / 1 kv head, vocab 4, seq 4). */
function llama2c(h = [8, 16, 1, 2, 1, -4, 4], data = true) {
  const [dim, hidden, L, heads, kvh, v, seq] = h;
  const vocab = Math.abs(v);
  const hs = dim / heads;
  const kvDim = hs * kvh;
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
  const head = Buffer.concat(h.map(i32));
  if (!data) return head;
  return Buffer.concat([head, f32(Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 100 - 0.5))]);
}
put('llama2c', 'valid-unshared.bin', llama2c());
put('llama2c', 'valid-shared.bin', llama2c([8, 16, 2, 2, 2, 4, 4]));
put('llama2c', 'valid-odd-head.bin', llama2c([6, 8, 1, 2, 1, 3, 2]));
put('llama2c', 'layers-200000.bin', Buffer.concat([llama2c([1, 1, 200000, 1, 1, 1, 1], false), Buffer.alloc(4096)]));
put('llama2c', 'layers-4097.bin', llama2c([1, 1, 4097, 1, 1, 1, 1], false));
put(
  'llama2c',
  'sizes-beyond-any-file.bin',
  llama2c([2147483647, 2147483647, 2147483647, 1, 1, 2147483647, 2147483647], false),
);
put('llama2c', 'header-larger-than-file.bin', llama2c([64, 172, 5, 8, 4, 512, 512], false));
put('llama2c', 'dim-0.bin', llama2c([0, 16, 1, 2, 1, 4, 4], false));
put('llama2c', 'vocab-int-min.bin', llama2c([8, 16, 1, 2, 1, -2147483648, 4], false));
put('llama2c', 'kv-not-dividing.bin', llama2c([8, 16, 1, 4, 3, 4, 4], false));
const ak42 = llama2c();
ak42.writeUInt32LE(0x616b3432, 0);
put('llama2c', 'ak42.bin', ak42);
put('llama2c', 'short.bin', Buffer.alloc(20));

// ---- imatrix -------------------------------------------------------------------------------

function imatrixDat(entries, trailer = { chunks: 10, dataset: 'wiki.train.raw' }) {
  const parts = [i32(entries.length)];
  for (const e of entries) {
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name);
    parts.push(i32(e.nameLen ?? name.length), name, i32(e.ncall ?? 1), i32(e.nval ?? e.values.length), f32(e.values));
  }
  if (trailer) {
    parts.push(i32(trailer.chunks));
    if (trailer.dataset !== undefined) parts.push(i32(trailer.dataset.length), Buffer.from(trailer.dataset));
  }
  return Buffer.concat(parts);
}
put(
  'imatrix',
  'valid.dat',
  imatrixDat([
    { name: 'blk.0.attn_q.weight', ncall: 4, values: [4, 8, 0.5, 12] },
    { name: 'blk.0.ffn_down.weight', ncall: 2, values: [1, 2] },
  ]),
);
put('imatrix', 'valid-no-trailer.dat', imatrixDat([{ name: 'output.weight', values: [1, 2, 3] }], null));
put('imatrix', 'valid-chunks-only.dat', imatrixDat([{ name: 'a', values: [1] }], { chunks: 3 }));
put(
  'imatrix',
  'dup-entry.dat',
  imatrixDat([
    { name: 'a', values: [1] },
    { name: 'a', values: [2] },
  ]),
);
put('imatrix', 'non-utf8-name.dat', imatrixDat([{ name: Buffer.from([0x61, 0xff]), values: [1] }]));
put('imatrix', 'negative-value.dat', imatrixDat([{ name: 'a', values: [-1] }]));
put('imatrix', 'nan-value.dat', imatrixDat([{ name: 'a', values: [NaN] }]));
put('imatrix', 'nval-huge.dat', imatrixDat([{ name: 'a', nval: 2147483647, values: [1] }]));
put('imatrix', 'name-length-negative.dat', imatrixDat([{ name: 'a', nameLen: -5, values: [1] }]));
put('imatrix', 'count-huge.dat', Buffer.concat([i32(2147483647), Buffer.alloc(64)]));
put('imatrix', 'count-zero.dat', i32(0));
put('imatrix', 'trailing-garbage.dat', Buffer.concat([imatrixDat([{ name: 'a', values: [1] }]), Buffer.from('xyz')]));
const imatrixKv = kv('general.type', GT.string, gstr('imatrix'));
put(
  'imatrix',
  'valid-gguf.gguf',
  gguf(
    [
      { name: 'blk.0.attn_q.weight.in_sum2', ne: [4, 1], type: 0, data: f32([4, 8, 0, 12]) },
      { name: 'blk.0.attn_q.weight.counts', ne: [1], type: 0, data: f32([4]) },
      { name: 'blk.0.ffn_up_exps.weight.in_sum2', ne: [2, 3], type: 0, data: f32([1, 2, 3, 4, 5, 6]) },
      { name: 'blk.0.ffn_up_exps.weight.counts', ne: [3], type: 0, data: f32([1, 2, 3]) },
      { name: 'blk.0.ffn_up_exps.weight.in_sum', ne: [2, 3], type: 0, data: f32([1, 2, 3, 4, 5, 6]) },
    ],
    { kvs: [imatrixKv] },
  ),
);
put(
  'imatrix',
  'gguf-zero-count.gguf',
  gguf(
    [
      { name: 'a.in_sum2', ne: [2], type: 0, data: f32([1, 2]) },
      { name: 'a.counts', ne: [1], type: 0, data: f32([0]) },
    ],
    { kvs: [imatrixKv] },
  ),
);
put(
  'imatrix',
  'gguf-missing-counts.gguf',
  gguf([{ name: 'a.in_sum2', ne: [2], type: 0, data: f32([1, 2]) }], { kvs: [imatrixKv] }),
);
put(
  'imatrix',
  'gguf-f16-sums.gguf',
  gguf(
    [
      { name: 'a.in_sum2', ne: [2], type: 1, data: Buffer.from([0, 0x3c, 0, 0x40]) },
      { name: 'a.counts', ne: [1], type: 0, data: f32([1]) },
    ],
    { kvs: [imatrixKv] },
  ),
);
put('imatrix', 'gguf-a-model.gguf', gguf([t()]));

// ---- JSON ----------------------------------------------------------------------------------

const jsonSeeds = {
  'object.json': '{"a": [1, -2.5, 3e10, true, false, null], "b": {"c": "d"}, "": 0}',
  'escapes.json': '"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\u65e5 \\ud83d\\ude00"',
  'lone-high-surrogate.json': '["\\ud800"]',
  'lone-low-surrogate.json': '{"\\udc00": 1}',
  'surrogate-then-text.json': '"\\ud800abc"',
  'utf8.json': '["é", "日本", "😀"]',
  'numbers.json':
    '[0, -0, 1.5e308, 1e400, -1e400, 1e-400, 0.0000001e-400, 123456789012345678901234567890, -9223372036854775808, 9223372036854775807, 9223372036854775808]',
  'deep-64.json': '['.repeat(64) + ']'.repeat(64),
  'deep-65.json': '['.repeat(65) + ']'.repeat(65),
  'duplicate-keys.json': '{"a": 1, "a": 2}',
  'trailing.json': '{} x',
  'empty.json': '',
  'whitespace.json': ' \t\r\n ',
  'bad-escape.json': '"\\x"',
  'control-char.json': '"a\u0001b"',
  'unterminated.json': '{"a": "b',
  'leading-zero.json': '[01]',
  'true-prefix.json': 'tru',
};
for (const [name, text] of Object.entries(jsonSeeds)) put('json', name, text);
put(
  'json',
  'invalid-utf8-in-key.json',
  Buffer.concat([Buffer.from('{"'), Buffer.from([0xf0, 0x28, 0x8c, 0x28]), Buffer.from('": 1}')]),
);
put('json', 'overlong-utf8.json', Buffer.concat([Buffer.from('"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"')]));
put(
  'json',
  'encoded-surrogate.json',
  Buffer.concat([Buffer.from('"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"')]),
);
put('json', 'high-bytes-outside-string.json', Buffer.from([0x5b, 0xc3, 0xa9, 0x5d]));

// ---- config.json ---------------------------------------------------------------------------

put('config', 'stories260K.json', fs.readFileSync(path.join(root, 'examples/stories260K/config.json')));
const llama = JSON.parse(fs.readFileSync(path.join(root, 'examples/stories260K/config.json'), 'utf8'));
const cfg = (o) => JSON.stringify({ ...llama, ...o }, null, 1);
put(
  'config',
  'qwen2.json',
  cfg({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], use_sliding_window: false }),
);
put('config', 'qwen3.json', cfg({ model_type: 'qwen3', head_dim: 16, attention_bias: false }));
put('config', 'mistral.json', cfg({ model_type: 'mistral', sliding_window: 4096 }));
put('config', 'rope-default.json', cfg({ rope_scaling: { rope_type: 'default' } }));
put('config', 'rope-llama3.json', cfg({ rope_scaling: { rope_type: 'llama3', factor: 8 } }));
put('config', 'rope-null.json', cfg({ rope_scaling: null }));
put('config', 'gelu.json', cfg({ hidden_act: 'gelu' }));
put('config', 'gpt2.json', cfg({ model_type: 'gpt2' }));
put('config', 'heads-not-dividing.json', cfg({ num_attention_heads: 7 }));
put('config', 'kv-not-dividing.json', cfg({ num_key_value_heads: 3 }));
put('config', 'odd-head-dim.json', cfg({ head_dim: 7 }));
put('config', 'layers-huge.json', cfg({ num_hidden_layers: 1e12 }));
put('config', 'layers-float.json', cfg({ num_hidden_layers: 2.5 }));
put('config', 'eps-string.json', cfg({ rms_norm_eps: '1e-5' }));
put('config', 'theta-1e400.json', cfg({}).replace('10000', '1e400'));
put('config', 'bos-outside-vocab.json', cfg({ bos_token_id: 100000 }));
put('config', 'no-model-type.json', cfg({ model_type: undefined }));
put('config', 'missing-hidden.json', cfg({ hidden_size: undefined }));
put('config', 'not-an-object.json', '[1, 2]');
put('config', 'invalid.json', '{"model_type": "llama",');

// ---- token files ---------------------------------------------------------------------------

const tokenSeeds = {
  'valid.json': '[[1, 2, 3], [4, 5], [999, 0, 17, 3]]',
  'id-outside-vocab.json': '[[1, 1000]]',
  'negative-id.json': '[[1, -1]]',
  'fractional-id.json': '[[1, 2.5]]',
  'id-1e400.json': '[[1, 1e400]]',
  'too-long.json': JSON.stringify([Array.from({ length: 65 }, (_, i) => i)]),
  'one-token.json': '[[5]]',
  'empty.json': '[]',
  'not-nested.json': '[1, 2, 3]',
  'object.json': '{"tokens": [[1, 2]]}',
  'string-id.json': '[[1, "2"]]',
};
for (const [name, text] of Object.entries(tokenSeeds)) put('tokens', name, text);

console.log(`corpus written to ${path.relative(root, corpus)}`);
