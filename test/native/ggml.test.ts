// ggml block codecs (native/src/quant/ggml): the addon's bytes decoded by an independent
// TypeScript decoder written here from the public block layouts, hand-computed blocks,
// fast path == reference path, error against llama.cpp's own quantizer, argument checks,
// and q4_k through quantize() (the runner's entry point) with bits.ts's byte count.
import * as assert from 'node:assert/strict';

import { tensorBytes } from '../../core/src/analysis/bits';
import { FORMAT_BY_NAME } from '../../core/src/language/formats';
import { BLOCK, decodeTs } from '../helpers/ggmlDecode';
import { openUniform as rng } from '../../scripts/lib/rng';

interface GgmlAddon {
  ggmlEncode(
    type: string,
    data: Float32Array,
    rows: number,
    cols: number,
    options?: { reference?: boolean; importance?: Float32Array; threads?: number },
  ): Uint8Array;
  ggmlDecode(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array;
  ggmlTypes(): { name: string; blockWeights: number; blockBytes: number; ggmlId: number }[];
  quantize(
    data: Float32Array,
    rows: number,
    cols: number,
    config: { format: string; threads?: number; reference?: boolean; stored?: boolean },
  ): {
    dequant: Float32Array;
    bytes: Record<string, number>;
    metrics: { sqnrDb: number };
    stored?: { codes: Uint8Array };
  };
}

const addon = require('../../native') as GgmlAddon;

const TYPES = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_nl', 'iq4_xs'];
// The i-quants of 1 to 3 bits and the ternary blocks (their own tests: ggml-iq.test.ts).
const LOW = ['iq2_xxs', 'iq2_xs', 'iq2_s', 'iq3_xxs', 'iq3_s', 'iq1_s', 'iq1_m', 'tq1_0', 'tq2_0'];

// ---- data ------------------------------------------------------------------------------
/** Student-t (nu = 5, std-ish 0.02) with `hot` input columns scaled x10. */
function studentT(rows: number, cols: number, seed: number, hot = 8): Float32Array {
  const u = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    let chi = 0;
    for (let k = 0; k < 5; k++) chi += normal() ** 2;
    w[i] = (0.02 * normal()) / Math.sqrt(chi / 5);
  }
  for (let h = 0; h < hot; h++) {
    const c = Math.floor(u() * cols);
    for (let r = 0; r < rows; r++) w[r * cols + c] *= 10;
  }
  return w;
}
/** Rows of different kinds: heavy tails, zeros, constants, tiny, huge, sparse, one-sided. */
function mixed(rows: number, cols: number, seed: number): Float32Array {
  const u = rng(seed);
  const w = studentT(rows, cols, seed + 7, 2);
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols);
    switch (r % 9) {
      case 0:
        row.fill(0);
        break;
      case 1:
        row.fill(0.37);
        break;
      case 2:
        row.fill(-1.25e-3);
        break;
      case 3:
        for (let i = 0; i < cols; i++) row[i] *= 1e-6;
        break;
      case 4:
        for (let i = 0; i < cols; i++) row[i] *= 1e4;
        break;
      case 5:
        for (let i = 0; i < cols; i++) row[i] = u() < 0.9 ? 0 : row[i];
        break;
      case 6:
        for (let i = 0; i < cols; i++) row[i] = Math.abs(row[i]);
        break;
      case 7:
        for (let i = 0; i < cols; i++) row[i] = (i % 64 === 5 ? 50 : 1) * row[i];
        break;
      default:
        break;
    }
  }
  return w;
}

// ---- helpers ---------------------------------------------------------------------------
function sameFloats(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i]) && !(a[i] === 0 && b[i] === 0)) assert.fail(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
}
function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`${what}: byte ${i} differs: ${a[i]} vs ${b[i]}`);
}
function sqnrDb(x: Float32Array, y: Float32Array): number {
  let s = 0,
    e = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i] * x[i];
    e += (x[i] - y[i]) ** 2;
  }
  return 10 * Math.log10(s / e);
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ggml block codecs', function () {
  this.timeout(120000);

  it('lists the types with their ggml block sizes and type ids', () => {
    const t = addon.ggmlTypes();
    assert.deepEqual(
      t.map((x) => x.name),
      [...TYPES, ...LOW],
    );
    for (const x of t) {
      assert.deepEqual([x.blockWeights, x.blockBytes], BLOCK[x.name], x.name);
      assert.deepEqual(FORMAT_BY_NAME.get(x.name)?.block, { weights: x.blockWeights, bytes: x.blockBytes }, x.name);
    }
    assert.deepEqual(
      t.map((x) => x.ggmlId),
      [2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 16, 17, 22, 18, 21, 19, 29, 34, 35],
    );
  });

  describe('an independent decoder reads the encoded bytes exactly as the addon decodes them', () => {
    for (const type of TYPES) {
      it(type, () => {
        const rows = 18,
          cols = 512;
        const w = mixed(rows, cols, 11);
        const bytes = addon.ggmlEncode(type, w, rows, cols);
        assert.equal(bytes.length, (rows * cols * BLOCK[type][1]) / BLOCK[type][0]);
        const native = addon.ggmlDecode(type, bytes, rows, cols);
        sameFloats(decodeTs(type, bytes, rows, cols), native, type);
        // Zero and constant rows reconstruct closely; nothing is NaN.
        for (let i = 0; i < native.length; i++)
          assert.ok(Number.isFinite(native[i]), `${type}: element ${i} not finite`);
        for (let i = 0; i < cols; i++) assert.ok(native[i] === 0, `${type}: zero row: ${native[i]}`);
        for (let i = cols; i < 2 * cols; i++)
          assert.ok(Math.abs(native[i] - 0.37) < 0.37 * 0.02, `${type}: constant row ${native[i]}`);
      });
    }
  });

  describe('hand-computed blocks', () => {
    it('q8_0: weights k/16 for k = -128..127: d = 1/16 (f16 0x2c00), codes k', () => {
      const k = Array.from({ length: 32 }, (_, i) => (i === 0 ? -128 : ((i * 37) % 255) - 127));
      const w = new Float32Array(k.map((v) => v / 16));
      const expect = new Uint8Array([0x00, 0x2c, ...k.map((v) => v & 255)]);
      for (const reference of [true, false])
        assert.equal(hex(addon.ggmlEncode('q8_0', w, 1, 32, { reference })), hex(expect));
    });
    it('q4_0: weights k/8 for k in -8..7: d = 1/8 (0x3000), nibbles k + 8, element i low / i + 16 high', () => {
      const k = Array.from({ length: 32 }, (_, i) => (i === 3 ? -8 : i < 16 ? i - 8 : ((i + 5) % 16) - 8));
      const w = new Float32Array(k.map((v) => v / 8));
      const qs = Array.from({ length: 16 }, (_, i) => (k[i] + 8) | ((k[i + 16] + 8) << 4));
      const expect = new Uint8Array([0x00, 0x30, ...qs]);
      assert.equal(hex(addon.ggmlEncode('q4_0', w, 1, 32)), hex(expect));
      sameFloats(addon.ggmlDecode('q4_0', expect, 1, 32), w, 'q4_0 decode');
    });
    it('q4_1: weights k/4 - 1 for k in 0..15: d = 0.25 (0x3400), m = -1 (0xbc00), nibbles k', () => {
      const k = Array.from({ length: 32 }, (_, i) => (i * 7) % 16);
      const w = new Float32Array(k.map((v) => v / 4 - 1));
      const qs = Array.from({ length: 16 }, (_, i) => k[i] | (k[i + 16] << 4));
      const expect = new Uint8Array([0x00, 0x34, 0x00, 0xbc, ...qs]);
      assert.equal(hex(addon.ggmlEncode('q4_1', w, 1, 32)), hex(expect));
      sameFloats(addon.ggmlDecode('q4_1', expect, 1, 32), w, 'q4_1 decode');
    });
    it('q5_0: the fifth bit of element i is bit i of qh (little endian u32)', () => {
      // d = 1 (0x3c00), codes q_i = i (values i - 16): low nibbles i & 15, qh = 0xffff0000.
      const b = new Uint8Array(22);
      b.set([0x00, 0x3c, 0x00, 0x00, 0xff, 0xff]);
      for (let i = 0; i < 16; i++) b[6 + i] = i | (i << 4);
      const want = new Float32Array(Array.from({ length: 32 }, (_, i) => i - 16));
      sameFloats(addon.ggmlDecode('q5_0', b, 1, 32), want, 'q5_0');
    });
    it('q4_k: 6-bit scales and mins packed as ggml packs them', () => {
      // d = 1 (0x3c00), dmin = 0.5 (0x3800); sub-block j: sc = 10 + 7j (10..59), m = 3j + 1;
      // every code = 5 except element 37 (sub-block 1) = 15 and element 200 (sub-block 6) = 0.
      const sc = Array.from({ length: 8 }, (_, j) => 10 + 7 * j),
        m = Array.from({ length: 8 }, (_, j) => 3 * j + 1);
      const b = new Uint8Array(144);
      b.set([0x00, 0x3c, 0x00, 0x38]);
      for (let j = 0; j < 4; j++) {
        b[4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        b[4 + j + 4] = m[j] | ((m[j + 4] >> 4) << 6);
        b[4 + j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
      }
      const code = (e: number) => (e === 37 ? 15 : e === 200 ? 0 : 5);
      for (let e = 0; e < 256; e++) {
        const c = e >> 6,
          upper = (e >> 5) & 1,
          l = e & 31;
        b[16 + 32 * c + l] |= code(e) << (4 * upper);
      }
      const y = addon.ggmlDecode('q4_k', b, 1, 256);
      for (let e = 0; e < 256; e++) {
        const j = e >> 5;
        assert.equal(y[e], sc[j] * code(e) - 0.5 * m[j], `element ${e}`);
      }
      assert.equal(y[37], 17 * 15 - 2);
      assert.equal(y[200], -0.5 * 19);
    });
    it('q6_k: element 128h + 32t + l in ql / qh as ggml lays it out', () => {
      const b = new Uint8Array(210);
      b[208] = 0x00;
      b[209] = 0x3c; // d = 1
      for (let j = 0; j < 16; j++) b[192 + j] = (j - 8) & 255; // scales -8..7
      // element 165 = 128 + 32*1 + 5: code 45 = 0b101101: low nibble 13 in ql[64 + 32 + 5] low, bits 4..5 = 2 at qh[32 + 5] bits 2..3.
      b[64 + 32 + 5] = 13;
      b[128 + 32 + 5] = 2 << 2;
      const y = addon.ggmlDecode('q6_k', b, 1, 256);
      assert.equal(y[165], (Math.floor(165 / 16) - 8) * (45 - 32));
      assert.equal(y[0], (0 - 8) * -32);
    });
  });

  describe('fast path bytes == reference path bytes', () => {
    for (const type of TYPES) {
      it(type, () => {
        const rows = 27,
          cols = 1024;
        const w = mixed(rows, cols, 3);
        const ref = addon.ggmlEncode(type, w, rows, cols, { reference: true });
        for (const threads of [1, 2])
          sameBytes(addon.ggmlEncode(type, w, rows, cols, { threads }), ref, `${type} ${threads}T`);
        const imp = new Float32Array(cols).map((_, i) => (i % 13 === 0 ? 0 : 1 + (i % 7)));
        const refI = addon.ggmlEncode(type, w, rows, cols, { reference: true, importance: imp });
        sameBytes(addon.ggmlEncode(type, w, rows, cols, { importance: imp, threads: 2 }), refI, `${type} importance`);
      });
    }
  });

  // The 32-weight types' fast kernels work on chunks of 32 blocks, 8 blocks at a time in
  // places: rows of 37 blocks (a partial chunk and a partial group of 8), single blocks,
  // ties for the largest magnitude, and extreme magnitudes.
  describe('fast path bytes == reference path bytes, 32-weight blocks at chunk edges', () => {
    for (const type of ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'iq4_nl']) {
      it(type, () => {
        for (const [rows, cols] of [
          [9, 32 * 37],
          [3, 32],
          [2, 32 * 9],
        ]) {
          const w = mixed(rows, cols, 17 + cols);
          for (let i = 0; i < cols; i += 5) w[i] = i % 2 ? 0.5 : -0.5; // ties in row 0
          if (rows > 2) for (let i = 0; i < cols; i++) w[2 * cols + i] = (i % 3 ? 3e37 : -2e-38) * (i % 7 ? 1 : -1);
          if (cols >= 96) {
            // Signed zeros: an all-zero block of both signs, zeros with positives, with negatives.
            const r = rows > 1 ? cols : 0;
            for (let i = 0; i < 96; i++)
              w[r + i] = i % 3 === 1 ? -0 : i < 32 ? 0 : i < 64 ? (i % 3 ? 0.01 * i : 0) : -0.01 * (i % 5);
          }
          const imp = new Float32Array(cols).map((_, i) => (i % 11 === 0 ? 0 : 0.25 + (i % 5)));
          for (const importance of [undefined, imp]) {
            const ref = addon.ggmlEncode(type, w, rows, cols, { reference: true, importance });
            for (const threads of [1, 2])
              sameBytes(
                addon.ggmlEncode(type, w, rows, cols, { threads, importance }),
                ref,
                `${type} ${rows}x${cols} ${threads}T${importance ? ' importance' : ''}`,
              );
          }
        }
      });
    }
  });

  // llama.cpp's quantizer (no imatrix) on the 4096 x 4096 Student-t matrix with 8 columns
  // x10, SQNR dB; here a 256 x 4096 matrix of the same kind, allowed 0.1 dB less (a smaller
  // sample of the same distribution; bench/ggml-bench.mjs measures the full size).
  const LLAMA: Record<string, number> = {
    q8_0: 42.1,
    q6_k: 32.4,
    q5_k: 27.1,
    q4_k: 21.2,
    q4_0: 18.4,
    iq4_xs: 20.2,
    q3_k: 14.9,
    q2_k: 9.6,
  };
  describe("error at least llama.cpp's (SQNR dB, tolerance 0.1)", () => {
    const rows = 256,
      cols = 4096;
    const w = studentT(rows, cols, 2024);
    for (const [type, ref] of Object.entries(LLAMA)) {
      it(`${type} >= ${ref} - 0.1`, () => {
        const db = sqnrDb(w, addon.ggmlDecode(type, addon.ggmlEncode(type, w, rows, cols), rows, cols));
        assert.ok(db >= ref - 0.1, `${type}: ${db.toFixed(2)} dB < ${ref}`);
      });
    }
    it('importance weights lower the importance-weighted error', () => {
      const r = 32,
        c = 1024,
        x = studentT(r, c, 9);
      const imp = new Float32Array(c).map((_, i) => (i % 4 === 0 ? 100 : 1));
      const werr = (y: Float32Array) => {
        let e = 0;
        for (let i = 0; i < x.length; i++) e += imp[i % c] * (x[i] - y[i]) ** 2;
        return e;
      };
      for (const type of ['q4_0', 'q4_k', 'iq4_xs']) {
        const plain = werr(addon.ggmlDecode(type, addon.ggmlEncode(type, x, r, c), r, c));
        const weighted = werr(addon.ggmlDecode(type, addon.ggmlEncode(type, x, r, c, { importance: imp }), r, c));
        assert.ok(weighted < plain, `${type}: ${weighted} >= ${plain}`);
      }
    });
  });

  describe('bad arguments', () => {
    const w = new Float32Array(64);
    it('throws TypeError / RangeError naming the argument', () => {
      assert.throws(() => addon.ggmlEncode('q4_9', w, 1, 64), /RangeError: type must be one of q4_0/);
      assert.throws(() => addon.ggmlEncode(7 as unknown as string, w, 1, 64), TypeError);
      assert.throws(
        () => addon.ggmlEncode('q4_0', new Float64Array(64) as unknown as Float32Array, 1, 64),
        /TypeError: data must be a Float32Array/,
      );
      assert.throws(
        () => addon.ggmlEncode('q4_0', w, 1, 48),
        /RangeError: cols \(48\) must be a multiple of q4_0's block of 32/,
      );
      assert.throws(() => addon.ggmlEncode('q4_k', w, 1, 64), /cols \(64\) must be a multiple of q4_k's block of 256/);
      assert.throws(() => addon.ggmlEncode('q4_0', w, 2, 64), /data\.length \(64\) != rows\*cols/);
      assert.throws(() => addon.ggmlEncode('q4_0', w, -1, 64), /RangeError: rows must be in/);
      assert.throws(() => addon.ggmlEncode('q4_0', w, 1.5, 64), /rows must be an integer/);
      assert.throws(() => addon.ggmlEncode('q4_0', w, 1, 0), /cols must be in/);
      assert.throws(() => addon.ggmlEncode('q4_0', w, 1, 64, { threads: 0 }), /options\.threads must be in/);
      assert.throws(
        () => addon.ggmlEncode('q4_0', w, 1, 64, { fast: true } as never),
        /TypeError: options has an unknown key 'fast'/,
      );
      assert.throws(
        () => addon.ggmlEncode('q4_0', w, 1, 64, { importance: new Float32Array(32) }),
        /options\.importance\.length \(32\) != cols \(64\)/,
      );
      assert.throws(
        () => addon.ggmlEncode('q4_0', w, 1, 64, { importance: new Float32Array(64).fill(-1) }),
        /importance\[0\] must be finite and >= 0/,
      );
      assert.throws(() => addon.ggmlEncode('q4_0', new Float32Array(64).fill(NaN), 1, 64), /data\[0\] is not finite/);
    });

    it('names the first non-finite weight of the matrix, on every path (checked row by row as the rows are encoded)', () => {
      // 40 rows x 256; bad values in rows 31 and 7 (later in the row), so the first is row 7's.
      const rows = 40,
        cols = 256;
      for (const type of [...TYPES, ...LOW]) {
        for (const [at, bad] of [
          [7 * cols + 200, NaN],
          [7 * cols + 3, Infinity],
          [0, -Infinity],
        ] as const) {
          const x = mixed(rows, cols, 5);
          x[31 * cols + 1] = NaN;
          x[at] = bad;
          const first = Math.min(at, 31 * cols + 1);
          for (const options of [
            { threads: 2 },
            { threads: 1 },
            { reference: true },
            { threads: 2, importance: new Float32Array(cols).fill(1) },
          ]) {
            assert.throws(
              () => addon.ggmlEncode(type, x, rows, cols, options),
              new RegExp(`RangeError: data\\[${first}\\] is not finite`),
              `${type} ${JSON.stringify(options)}`,
            );
          }
        }
      }
      assert.throws(
        () => addon.ggmlDecode('q4_0', new Uint8Array(35), 1, 64),
        /bytes\.length \(35\) != rows \* row bytes/,
      );
      assert.throws(
        () => addon.ggmlDecode('q4_0', new Float32Array(9) as unknown as Uint8Array, 1, 64),
        /TypeError: bytes must be a Uint8Array/,
      );
      assert.throws(
        () => (addon.ggmlDecode as (...args: unknown[]) => unknown)('q4_0', new Uint8Array(36), 1, 64, 5),
        /takes 4 arguments/,
      );
      assert.equal(addon.ggmlEncode('q4_0', new Float32Array(0), 0, 64).length, 0);
    });
  });

  describe("through quantize() (the runner's entry point)", () => {
    it('q4_k: codes are the blocks, bytes match bits.ts, dequant is their decoding, reference == fast', () => {
      const rows = 40,
        cols = 512;
      const w = studentT(rows, cols, 5);
      const fast = addon.quantize(w, rows, cols, { format: 'q4_k', stored: true });
      const ref = addon.quantize(w, rows, cols, { format: 'q4_k', reference: true, stored: true });
      const plan = tensorBytes(rows, cols, {
        format: FORMAT_BY_NAME.get('q4_k')!,
        group: 256,
        groupKind: 'size',
        symmetric: true,
        scale: 'f16',
        zero: 'f16',
        outliers: 0,
        lowrank: 0,
      });
      assert.deepEqual(fast.bytes, { ...plan });
      assert.equal(fast.bytes.codes, (rows * cols * 144) / 256);
      sameBytes(fast.stored!.codes, ref.stored!.codes, 'q4_k stored');
      sameBytes(fast.stored!.codes, addon.ggmlEncode('q4_k', w, rows, cols), 'q4_k vs ggmlEncode');
      sameFloats(fast.dequant, addon.ggmlDecode('q4_k', fast.stored!.codes, rows, cols), 'q4_k dequant');
      assert.ok(fast.metrics.sqnrDb > 20, String(fast.metrics.sqnrDb));
    });
    it('refuses rows that are not whole blocks, naming the problem', () => {
      assert.throws(
        () => addon.quantize(new Float32Array(2 * 96), 2, 96, { format: 'q4_k' }),
        /q4_k stores rows in blocks of 256 weights: a row of 96/,
      );
    });
  });
});
