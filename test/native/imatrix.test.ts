// llama.cpp importance matrices: the native reader (native/src/io/imatrix.cc) and the core
// header reader (core/src/models/imatrix.ts) on files written here from the layouts, in
// both formats; hostile files; and the importance-weighted searches (clip mse, ggml
// encoders, outliers): fast path == reference path, and the weighted error they minimise
// is lower than the unweighted search's on data with a few heavy channels.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readImatrixHeader, ImatrixReadError } from '../../core/src/models/imatrix';
import { ggufImatrixBytes, legacyImatrixBytes, writeFile, type LegacyEntry } from '../helpers/imatrixFile';
import { mulberry32 as rng, gauss } from '../../scripts/lib/rng';

interface Entry {
  name: string;
  nIn: number;
  nMat: number;
  mean: Float32Array;
}
interface QuantResult {
  dequant: Float32Array;
  stored?: Record<string, Uint8Array>;
  outlierCount: number;
}
interface Addon {
  readImatrix(path: string): { path: string; format: string; entries: Entry[] };
  quantize(data: Float32Array, rows: number, cols: number, config: Record<string, unknown>): QuantResult;
  ggmlEncode(
    type: string,
    data: Float32Array,
    rows: number,
    cols: number,
    options?: { reference?: boolean; importance?: Float32Array },
  ): Uint8Array;
  modelInfo(path: string): { tensors: { name: string; shape: number[] }[] };
  startRun(job: Record<string, unknown>, onEvent: (e: Ev) => void): { cancel(): void; done: Promise<Ev> };
}
type Ev = Record<string, unknown> & { type: string };
type CodedError = Error & { code?: string; tensor?: string };

const addon = require('../../native') as Addon;

/** Weights with heavy tails and importance with a few heavy channels (as activations have). */
function synthetic(rows: number, cols: number, seed: number) {
  const r = rng(seed);
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) w[i] = gauss(r) * (r() < 0.02 ? 6 : 1);
  const d = new Float32Array(cols);
  for (let j = 0; j < cols; j++) d[j] = 0.05 + r() * 0.1 + (j % 17 === 3 ? 50 + 50 * r() : 0);
  return { w, d };
}
function weightedError(w: Float32Array, q: Float32Array, d: Float32Array, cols: number): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += d[i % cols] * (w[i] - q[i]) ** 2;
  return s;
}
const sameBits = (a: Float32Array, b: Float32Array, what: string) => {
  assert.equal(a.length, b.length, what);
  assert.ok(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
    `${what}: reconstructions differ`,
  );
};

let tmp: string;
let n = 0;
const file = (name: string, bytes: Buffer) => writeFile(path.join(tmp, `${n++}-${name}`), bytes);

const entries: LegacyEntry[] = [
  { name: 'blk.0.attn_q.weight', values: [3, 6, 9, 12], ncall: 3 },
  { name: 'blk.0.ffn_down.weight', values: [1, 2, 3, 4, 5, 6], ncall: 2 },
];

describe('imatrix files', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-imatrix-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('legacy .dat', () => {
    it('reads names, sizes and mean x^2 = value / ncall, with and without the trailer', () => {
      for (const trailer of [{ lastChunk: 7, dataset: 'wiki.train.raw' }, false as const]) {
        const f = file('a.dat', legacyImatrixBytes(entries, trailer));
        const im = addon.readImatrix(f);
        assert.equal(im.format, 'dat');
        assert.deepEqual(
          im.entries.map((e) => [e.name, e.nIn, e.nMat]),
          [
            ['blk.0.attn_q.weight', 4, 1],
            ['blk.0.ffn_down.weight', 6, 1],
          ],
        );
        assert.deepEqual([...im.entries[0].mean], [1, 2, 3, 4]);
        assert.deepEqual([...im.entries[1].mean], [0.5, 1, 1.5, 2, 2.5, 3]);
        const h = readImatrixHeader(f);
        assert.equal(h.format, 'dat');
        assert.deepEqual(h.entries, [
          { name: 'blk.0.attn_q.weight', nIn: 4, nMat: 1 },
          { name: 'blk.0.ffn_down.weight', nIn: 6, nMat: 1 },
        ]);
      }
    });

    it('every truncation is refused by both readers, naming the file, except at the optional trailer', () => {
      const full = legacyImatrixBytes(entries, { lastChunk: 7, dataset: 'wiki' });
      const entriesEnd = full.length - 4 - 4 - 4; // before last chunk, dataset length and 'wiki'
      for (let cut = 0; cut < full.length; cut++) {
        const f = file('cut.dat', full.subarray(0, cut));
        const valid = cut === entriesEnd || cut === entriesEnd + 4;
        if (valid) {
          assert.equal(addon.readImatrix(f).entries.length, 2, `cut ${cut}`);
          assert.equal(readImatrixHeader(f).entries.length, 2, `cut ${cut}`);
          continue;
        }
        assert.throws(
          () => addon.readImatrix(f),
          (e: Error & { code?: string }) => e.code === 'calibration/bad-imatrix' && e.message.startsWith(f),
          `native, cut ${cut}`,
        );
        assert.throws(
          () => readImatrixHeader(f),
          (e: unknown) =>
            e instanceof ImatrixReadError && e.code === 'calibration/bad-imatrix' && e.message.startsWith(f),
          `core, cut ${cut}`,
        );
      }
    });

    it('refuses huge counts, negative and huge lengths, duplicates and trailing bytes', () => {
      const cases: [string, Buffer, RegExp][] = [
        ['huge entry count', legacyImatrixBytes(entries, false, 0x7fffffff), /entry count 2147483647 cannot fit/],
        ['zero entries', legacyImatrixBytes([], false, 0), /entry count 0/],
        ['negative name length', legacyImatrixBytes([{ ...entries[0], nameLength: -5 }], false), /name length -5/],
        [
          'huge name length',
          legacyImatrixBytes([{ ...entries[0], nameLength: 1 << 30 }], false),
          /name length 1073741824/,
        ],
        [
          'negative value count',
          legacyImatrixBytes([{ ...entries[0], nval: -1 }], false),
          /entry "blk.0.attn_q.weight": value count -1/,
        ],
        [
          'huge value count',
          legacyImatrixBytes([{ ...entries[0], nval: 1 << 28 }], false),
          /entry "blk.0.attn_q.weight": 268435456 values need/,
        ],
        ['negative ncall', legacyImatrixBytes([{ ...entries[0], ncall: -2 }], false), /ncall -2 is negative/],
        [
          'duplicate',
          legacyImatrixBytes([entries[0], entries[0]], false),
          /entry "blk.0.attn_q.weight": appears twice/,
        ],
        [
          'trailing bytes',
          Buffer.concat([legacyImatrixBytes(entries, { lastChunk: 1, dataset: 'x' }), Buffer.from([1, 2])]),
          /2 unexpected bytes/,
        ],
      ];
      for (const [what, bytes, re] of cases) {
        const f = file('bad.dat', bytes);
        assert.throws(
          () => addon.readImatrix(f),
          (e: Error & { code?: string }) => e.code === 'calibration/bad-imatrix' && re.test(e.message),
          `native: ${what}`,
        );
        assert.throws(
          () => readImatrixHeader(f),
          (e: Error) => e instanceof ImatrixReadError && re.test(e.message),
          `core: ${what}`,
        );
      }
    });

    it('rejects NaN, Inf and negative values, naming the entry and the value', () => {
      for (const [v, word] of [
        [NaN, 'NaN'],
        [Infinity, 'infinite'],
        [-1, '-1'],
      ] as const) {
        const f = file(
          'nan.dat',
          legacyImatrixBytes([entries[0], { name: 'blk.1.ffn_up.weight', values: [1, v, 2], ncall: 1 }]),
        );
        assert.throws(
          () => addon.readImatrix(f),
          (e: Error & { code?: string; tensor?: string }) =>
            e.code === 'calibration/bad-imatrix' &&
            e.tensor === 'blk.1.ffn_up.weight' &&
            e.message.includes(`entry "blk.1.ffn_up.weight": value[1] is ${word}`) &&
            e.message.startsWith(f),
        );
      }
    });
  });

  describe('GGUF', () => {
    const good = [
      { name: 'blk.0.attn_q.weight', nIn: 4, nMat: 1, sums: [10, 20, 30, 40], counts: [10] },
      { name: 'blk.0.ffn_down_exps.weight', nIn: 3, nMat: 2, sums: [2, 4, 6, 3, 6, 9], counts: [2, 3] },
    ];

    it('reads in_sum2 / counts per matrix (MoE experts kept apart), through the GGUF reader', () => {
      const f = file('a.gguf', ggufImatrixBytes(good));
      const im = addon.readImatrix(f);
      assert.equal(im.format, 'gguf');
      const byName = new Map(im.entries.map((e) => [e.name, e]));
      assert.deepEqual([...byName.get('blk.0.attn_q.weight')!.mean], [1, 2, 3, 4]);
      const moe = byName.get('blk.0.ffn_down_exps.weight')!;
      assert.equal(moe.nIn, 3);
      assert.equal(moe.nMat, 2);
      assert.deepEqual([...moe.mean], [1, 2, 3, 1, 2, 3]);
      const h = readImatrixHeader(f);
      assert.equal(h.format, 'gguf');
      assert.deepEqual(h.entries, [
        { name: 'blk.0.attn_q.weight', nIn: 4, nMat: 1 },
        { name: 'blk.0.ffn_down_exps.weight', nIn: 3, nMat: 2 },
      ]);
    });

    it('refuses a model GGUF, missing halves, wrong counts, counts below 1 and non-finite sums', () => {
      const cases: [string, Buffer, RegExp, boolean][] = [
        ['general.type model', ggufImatrixBytes(good, 'model'), /general\.type is "model", not "imatrix"/, true],
        ['no general.type', ggufImatrixBytes(good, null), /without general\.type = "imatrix"/, true],
        [
          'no counts',
          ggufImatrixBytes([{ ...good[0], omit: 'counts' }]),
          /entry "blk\.0\.attn_q\.weight": has blk\.0\.attn_q\.weight\.in_sum2 but no blk\.0\.attn_q\.weight\.counts/,
          true,
        ],
        [
          'no sums',
          ggufImatrixBytes([{ ...good[0], omit: 'sums' }]),
          /has blk\.0\.attn_q\.weight\.counts but no/,
          true,
        ],
        [
          'counts length',
          ggufImatrixBytes([{ ...good[1], counts: [1, 2, 3] }]),
          /\.counts has 3 values for 2 matrices/,
          true,
        ],
        ['zero count', ggufImatrixBytes([{ ...good[0], counts: [0] }]), /counts\[0\] is 0/, false],
        [
          'NaN sum',
          ggufImatrixBytes([{ ...good[0], sums: [1, NaN, 1, 1] }]),
          /entry "blk\.0\.attn_q\.weight": in_sum2\[1\] is NaN/,
          false,
        ],
        ['Inf count', ggufImatrixBytes([{ ...good[0], counts: [Infinity] }]), /counts\[0\] is infinite/, false],
        // Found by the imatrix fuzzer: a denormal count made sum / count overflow to inf.
        [
          'a count below 1',
          ggufImatrixBytes([{ ...good[0], counts: [8.4e-44] }]),
          /counts\[0\] is 8\.40779e-44 \(must be at least 1/,
          false,
        ],
        ['a fractional count', ggufImatrixBytes([{ ...good[0], counts: [0.5] }]), /counts\[0\] is 0\.5 /, false],
      ];
      for (const [what, bytes, re, header] of cases) {
        const f = file('bad.gguf', bytes);
        assert.throws(
          () => addon.readImatrix(f),
          (e: Error & { code?: string }) =>
            e.code === 'calibration/bad-imatrix' && re.test(e.message) && e.message.startsWith(f),
          `native: ${what}`,
        );
        // The header reader sees structure, not values.
        if (header)
          assert.throws(
            () => readImatrixHeader(f),
            (e: Error) => e instanceof ImatrixReadError && re.test(e.message),
            `core: ${what}`,
          );
        else assert.doesNotThrow(() => readImatrixHeader(f), `core: ${what}`);
      }
    });

    it('a truncated GGUF imatrix is refused by both readers, naming the file', () => {
      const full = ggufImatrixBytes(good);
      // The last tensor's 8 bytes are followed by 24 bytes of padding: cut into the data.
      for (const cut of [3, 10, 40, 100, full.length - 40, full.length - 25]) {
        const f = file('cut.gguf', full.subarray(0, cut));
        assert.throws(
          () => addon.readImatrix(f),
          (e: Error & { code?: string }) => e.code === 'calibration/bad-imatrix' && e.message.includes(f),
          `native, cut ${cut}`,
        );
        assert.throws(
          () => readImatrixHeader(f),
          (e: Error) => e instanceof ImatrixReadError && e.message.includes(f),
          `core, cut ${cut}`,
        );
      }
    });

    it('a missing file is calibration/not-found', () => {
      const f = path.join(tmp, 'nope.dat');
      assert.throws(
        () => addon.readImatrix(f),
        (e: Error & { code?: string }) => e.code === 'calibration/not-found',
      );
      assert.throws(
        () => readImatrixHeader(f),
        (e: Error) => e instanceof ImatrixReadError && e.code === 'calibration/not-found',
      );
    });
  });
});

describe('importance-weighted search', () => {
  it('fast path == reference path with importance: clip mse (int, nf4, fp8), every grouping, outliers, rotate, ggml', () => {
    const configs: Record<string, unknown>[] = [
      { format: 'int4', group: 32, clip: 'mse' },
      { format: 'int4', group: 32, clip: 'mse', symmetric: false, zero: 'int' },
      { format: 'int3', group: 20, clip: 'mse', symmetric: false },
      { format: 'int4', groupKind: 'channel', clip: 'mse' },
      { format: 'int4', groupKind: 'tensor', clip: 'mse' },
      { format: 'int2', group: 7, clip: 'mse' },
      { format: 'nf4', group: 32, clip: 'mse' },
      { format: 'fp8_e4m3', group: 16, clip: 'mse' },
      { format: 'fp4', group: 32, clip: 'mse' },
      { format: 'fp8_e5m2', groupKind: 'channel', clip: 'mse' },
      { format: 'int4', group: 32, clip: 'mse', outliers: 9 },
      { format: 'int4', group: 32, outliers: 9 },
      { format: 'int4', group: 32, clip: 'mse', rotate: 'hadamard', seed: 3 },
      { format: 'q4_0' },
      { format: 'q4_k' },
      { format: 'iq4_nl' },
    ];
    // 100 columns: tensor groups cross rows off the 16-lane grid (the scalar runs).
    for (const [rows, cols] of [
      [24, 256],
      [9, 512],
      [5, 256 * 3],
      [7, 100],
    ]) {
      const { w, d } = synthetic(rows, cols, rows * 1000 + cols);
      for (const c of configs) {
        if (/^(q|iq)\d/.test(String(c.format)) && cols % 256 !== 0) continue;
        const what = `${JSON.stringify(c)} ${rows}x${cols}`;
        const ref = addon.quantize(w, rows, cols, { ...c, importance: d, reference: true, stored: true });
        const fast = addon.quantize(w, rows, cols, { ...c, importance: d, threads: 2, stored: true });
        sameBits(fast.dequant, ref.dequant, what);
        for (const k of Object.keys(ref.stored!))
          assert.ok(Buffer.from(fast.stored![k]).equals(Buffer.from(ref.stored![k])), `${what}: stored ${k}`);
      }
    }
  });

  it('lowers the importance-weighted error against the unweighted search, and the plain error rises', () => {
    const rows = 64,
      cols = 256;
    const { w, d } = synthetic(rows, cols, 7);
    for (const c of [
      { format: 'int4', group: 64, clip: 'mse' },
      { format: 'int3', groupKind: 'channel', clip: 'mse', symmetric: false },
      { format: 'nf4', group: 64, clip: 'mse' },
      { format: 'int4', group: 64, outliers: 64 },
      { format: 'q4_k' },
      { format: 'q3_k' },
      { format: 'q4_0' },
    ]) {
      const plain = addon.quantize(w, rows, cols, c).dequant;
      const weighted = addon.quantize(w, rows, cols, { ...c, importance: d }).dequant;
      const ew = weightedError(w, weighted, d, cols),
        ep = weightedError(w, plain, d, cols);
      assert.ok(ew < ep, `${JSON.stringify(c)}: weighted ${ew} should be < unweighted ${ep}`);
      const ones = new Float32Array(cols).fill(1);
      assert.ok(
        weightedError(w, weighted, ones, cols) >= weightedError(w, plain, ones, cols) * 0.999,
        `${JSON.stringify(c)}: the unweighted error should not drop much`,
      );
    }
  });

  it('uniform importance is the unweighted search; the ggml family passes it on as quant_weights', () => {
    const rows = 16,
      cols = 256;
    const { w, d } = synthetic(rows, cols, 11);
    const ones = new Float32Array(cols).fill(2.5);
    for (const c of [
      { format: 'int4', group: 32, clip: 'mse' },
      { format: 'nf4', groupKind: 'tensor', clip: 'mse' },
    ]) {
      sameBits(
        addon.quantize(w, rows, cols, { ...c, importance: ones }).dequant,
        addon.quantize(w, rows, cols, c).dequant,
        JSON.stringify(c),
      );
    }
    for (const t of ['q4_0', 'q5_k', 'iq4_xs']) {
      const viaQuantize = addon.quantize(w, rows, cols, { format: t, importance: d, stored: true }).stored!.codes;
      assert.ok(Buffer.from(viaQuantize).equals(Buffer.from(addon.ggmlEncode(t, w, rows, cols, { importance: d }))), t);
      assert.ok(
        !Buffer.from(viaQuantize).equals(Buffer.from(addon.ggmlEncode(t, w, rows, cols))),
        `${t}: importance changes the blocks`,
      );
    }
  });

  it('a large tensor: weighted outlier selection on several threads and chunks == the reference', () => {
    const rows = 600,
      cols = 300; // 180,000 weights: several radix chunks, columns not aligned to them
    const { w, d } = synthetic(rows, cols, 21);
    for (let j = 0; j < cols; j += 7) d[j] = 0; // zero scores: many ties at the threshold
    for (const c of [
      { format: 'int4', group: 50, outliers: 5000 },
      { format: 'int3', group: 60, clip: 'mse', outliers: 20000, symmetric: false },
    ]) {
      const ref = addon.quantize(w, rows, cols, { ...c, importance: d, reference: true, stored: true });
      const fast = addon.quantize(w, rows, cols, { ...c, importance: d, threads: 2, stored: true });
      sameBits(fast.dequant, ref.dequant, JSON.stringify(c));
      assert.ok(Buffer.from(fast.stored!.outliers).equals(Buffer.from(ref.stored!.outliers)), JSON.stringify(c));
    }
  });

  it('outliers with importance keep the weights with the largest d_j (w - Q(w))^2', () => {
    const rows = 8,
      cols = 64,
      k = 10;
    const { w, d } = synthetic(rows, cols, 5);
    const base = addon.quantize(w, rows, cols, { format: 'int3', group: 16, importance: d, reference: true }).dequant;
    const score = Array.from(w, (x, i) => ({ i, s: Math.fround(Math.fround((x - base[i]) ** 2) * d[i % cols]) }));
    score.sort((a, b) => b.s - a.s || a.i - b.i);
    const want = score
      .slice(0, k)
      .map((x) => x.i)
      .sort((a, b) => a - b);
    const r = addon.quantize(w, rows, cols, {
      format: 'int3',
      group: 16,
      importance: d,
      outliers: k,
      reference: true,
      stored: true,
    });
    const idx = new Uint32Array(
      r.stored!.outliers.buffer.slice(r.stored!.outliers.byteOffset + 2 * k, r.stored!.outliers.byteOffset + 6 * k),
    );
    assert.deepEqual([...idx], want);
  });

  it('rejects importance of the wrong length or with negative / NaN values', () => {
    const w = new Float32Array(64).fill(0.5);
    assert.throws(
      () => addon.quantize(w, 2, 32, { format: 'int4', importance: new Float32Array(31) }),
      /config\.importance\.length \(31\) != cols \(32\)/,
    );
    const bad = new Float32Array(32);
    bad[4] = NaN;
    assert.throws(
      () => addon.quantize(w, 2, 32, { format: 'int4', clip: 'mse', importance: bad }),
      /importance\[4\] must be finite and >= 0/,
    );
    bad[4] = -1;
    assert.throws(
      () => addon.quantize(w, 2, 32, { format: 'int4', clip: 'mse', importance: bad }),
      /importance\[4\] must be finite and >= 0/,
    );
  });
});

describe('the runner with importance (startRun)', () => {
  const MODEL = path.join(__dirname, '../../examples/stories260K');
  const IMATRIX = path.join(__dirname, '../../examples/stories260K.imatrix');
  const hfToGguf = (hf: string) =>
    hf.replace(
      /^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.weight$/,
      (_m, l: string, _b, p: string) =>
        `blk.${l}.${({ q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output', gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down' } as Record<string, string>)[p]}.weight`,
    );
  const tensors = (method: string) =>
    addon.modelInfo(MODEL).tensors.map((t) =>
      t.shape.length === 2 && !t.name.includes('embed')
        ? {
            name: t.name,
            shape: t.shape,
            action: 'quantize',
            config: {
              format: 'int4',
              group: t.shape[1] === 172 ? 172 : 32,
              groupKind: t.shape[1] === 172 ? 'channel' : 'size',
              symmetric: true,
              scale: 'f16',
              zero: 'f16',
              clip: 'mse',
              outliers: 0,
              lowrank: 0,
              rotate: 'none',
              method,
            },
          }
        : { name: t.name, shape: t.shape, action: 'keep' },
    );
  const entryOf = () =>
    Object.fromEntries(
      tensors('rtn')
        .filter((t) => t.action === 'quantize')
        .map((t) => [t.name, hfToGguf(t.name)]),
    );
  async function run(job: Record<string, unknown>) {
    const events: Ev[] = [];
    try {
      await addon.startRun({ model: MODEL, threads: 2, ...job }, (e) => events.push(e)).done;
      return { events, error: undefined };
    } catch (e) {
      return { events, error: e as CodedError };
    }
  }

  it('calibration generated: the Hessian diagonal weights rtn tensors, with the full-Hessian output error', async () => {
    const { events, error } = await run({
      tensors: tensors('rtn'),
      calibration: { kind: 'generated', samples: 4, length: 32 },
    });
    assert.equal(error, undefined, error?.message);
    const q = events.filter((e) => e.type === 'tensor' && e.action === 'quantize');
    assert.equal(q.length, 35);
    for (const e of q) {
      assert.equal(e.importance, 'hessian', String(e.name));
      assert.equal(e.outputErrorKind, 'hessian');
    }
  });

  it('an imatrix: event, per-tensor weights and the diagonal error; gptq and a wrong length are refused', async () => {
    const ok = await run({ tensors: tensors('rtn'), imatrix: { path: IMATRIX, tensors: entryOf() } });
    assert.equal(ok.error, undefined, ok.error?.message);
    const ev = ok.events.find((e) => e.type === 'importance')!;
    assert.deepEqual(
      { ...ev, seconds: 0 },
      { type: 'importance', source: 'imatrix', path: IMATRIX, format: 'dat', entries: 35, tensors: 35, seconds: 0 },
    );
    assert.ok(ok.events.indexOf(ev) < ok.events.findIndex((e) => e.type === 'tensor'));
    for (const e of ok.events.filter((x) => x.type === 'tensor' && x.action === 'quantize'))
      assert.equal(e.outputErrorKind, 'diagonal');
    // Row chunks (the streamed path) measure the same diagonal error as whole tensors.
    const chunked = await run({
      tensors: tensors('rtn'),
      imatrix: { path: IMATRIX, tensors: entryOf() },
      chunkElements: 40 * 64,
    });
    assert.equal(chunked.error, undefined, chunked.error?.message);
    const whole = new Map(ok.events.filter((e) => e.type === 'tensor').map((e) => [e.name, e]));
    let streamed = 0;
    for (const e of chunked.events.filter((x) => x.type === 'tensor' && x.action === 'quantize')) {
      const o = whole.get(e.name)!;
      if ((e.chunks as number) > 1) streamed++;
      assert.ok(
        Math.abs((e.outputError as number) - (o.outputError as number)) <= 1e-12 * (o.outputError as number),
        String(e.name),
      );
    }
    assert.ok(streamed >= 10, `only ${streamed} tensors were streamed in row chunks`);

    const gptq = await run({ tensors: tensors('gptq'), imatrix: { path: IMATRIX, tensors: entryOf() } });
    assert.equal(gptq.error?.code, 'run/needs-hessian');
    assert.match(gptq.error!.message, /method gptq needs the full Hessian X\^T X; an imatrix has only its diagonal/);

    const wrong = entryOf();
    wrong['model.layers.0.self_attn.q_proj.weight'] = 'blk.0.ffn_down.weight';
    const bad = await run({ tensors: tensors('rtn'), imatrix: { path: IMATRIX, tensors: wrong } });
    assert.equal(bad.error?.code, 'calibration/bad-imatrix');
    assert.equal(bad.error?.tensor, 'model.layers.0.self_attn.q_proj.weight');
    assert.ok(
      bad.error!.message.startsWith(
        `${IMATRIX}: entry "blk.0.ffn_down.weight" has 172 values but tensor "model.layers.0.self_attn.q_proj.weight" has 64 input features`,
      ),
      bad.error!.message,
    );
  });
});
