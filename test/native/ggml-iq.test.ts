// The i-quants (iq1_s, iq1_m, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s) and the ternary blocks
// (tq1_0, tq2_0): their grid tables against ggml's (hashes of ggml-common.h's tables), the
// layouts against an independent decoder (test/helpers/ggmlDecode.ts) on random bytes and
// hand-made blocks, encoders: fast path == reference path byte for byte on many kinds of
// weights, importance-weighted, zero / tiny / huge blocks, exactly ternary weights.
// (scripts/llama-cpp-iq-check.mjs checks the decoding against ggml itself and compares the
// error with llama.cpp's quantizers.)
import * as assert from 'node:assert/strict';

import { tensorBytes } from '../../core/src/analysis/bits';
import { FORMAT_BY_NAME } from '../../core/src/language/formats';
import { BLOCK, decodeTs, setIqGrids } from '../helpers/ggmlDecode';
import { readIqGrids } from '../helpers/iqGrids';
import { openUniform as rng } from '../../scripts/lib/rng';

interface Addon {
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
    config: { format: string; reference?: boolean; stored?: boolean; importance?: Float32Array; metrics?: boolean },
  ): { dequant: Float32Array; bytes: Record<string, number>; stored?: { codes: Uint8Array } };
}
const addon = require('../../native') as Addon;

const IQ = ['iq2_xxs', 'iq2_xs', 'iq2_s', 'iq3_xxs', 'iq3_s', 'iq1_s', 'iq1_m'];
const TYPES = [...IQ, 'tq1_0', 'tq2_0'];
const IDS: Record<string, number> = {
  iq2_xxs: 16,
  iq2_xs: 17,
  iq3_xxs: 18,
  iq1_s: 19,
  iq3_s: 21,
  iq2_s: 22,
  iq1_m: 29,
  tq1_0: 34,
  tq2_0: 35,
};

function studentT(rows: number, cols: number, seed: number, nu = 5, hot = 4): Float32Array {
  const u = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    let chi = 0;
    for (let k = 0; k < nu; k++) chi += normal() ** 2;
    w[i] = (0.02 * normal()) / Math.sqrt(chi / nu);
  }
  for (let h = 0; h < hot; h++) {
    const c = Math.floor(u() * cols);
    for (let r = 0; r < rows; r++) w[r * cols + c] *= 10;
  }
  return w;
}
/** Rows of different kinds: heavy tails, zeros, constants, tiny, huge, sparse, one-sided, one spike. */
function mixed(rows: number, cols: number, seed: number): Float32Array {
  const u = rng(seed);
  const w = studentT(rows, cols, seed + 7, 3);
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols);
    switch (r % 10) {
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
        for (let i = 0; i < cols; i++) row[i] = -Math.abs(row[i]);
        break;
      case 7:
        row.fill(0);
        row[(seed * 37) % cols] = 3;
        break;
      case 8:
        for (let i = 0; i < cols; i++) row[i] = i < cols / 2 ? 0 : row[i];
        break;
      default:
        break;
    }
  }
  return w;
}
function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`${what}: byte ${i} differs: ${a[i]} vs ${b[i]}`);
}
function sameFloats(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i]) && !(a[i] === 0 && b[i] === 0) && !(Number.isNaN(a[i]) && Number.isNaN(b[i])))
      assert.fail(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
}
function sqnr(x: Float32Array, y: Float32Array, w?: Float32Array): number {
  let s = 0,
    e = 0;
  const cols = w?.length ?? 1;
  for (let i = 0; i < x.length; i++) {
    const k = w ? w[i % cols] : 1;
    s += k * x[i] * x[i];
    e += k * (x[i] - y[i]) ** 2;
  }
  return 10 * Math.log10(s / e);
}
const f16 = (v: number) => {
  // f16 bits of a value exactly representable in f16 (normal range).
  const e = Math.floor(Math.log2(Math.abs(v)));
  const m = Math.round((Math.abs(v) / 2 ** e - 1) * 1024);
  return (v < 0 ? 0x8000 : 0) | ((e + 15) << 10) | m;
};

function fnv(bytes: number[][]): number {
  let h = 0x811c9dc5;
  for (const p of bytes)
    for (const v of p) {
      h ^= v;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  return h;
}

describe('ggml i-quants and ternary blocks', function () {
  this.timeout(300000);
  let grids: Record<string, number[][]> = {};
  before(() => {
    grids = readIqGrids(addon.ggmlDecode);
    setIqGrids(grids);
  });

  it('are listed with their ggml type ids and block sizes, as formats.ts has them', () => {
    const listed = new Map(addon.ggmlTypes().map((t) => [t.name, t]));
    for (const t of TYPES) {
      const x = listed.get(t);
      assert.ok(x, t);
      assert.deepEqual([x.blockWeights, x.blockBytes], BLOCK[t], t);
      assert.equal(x.ggmlId, IDS[t], t);
      assert.deepEqual(FORMAT_BY_NAME.get(t)?.block, { weights: x.blockWeights, bytes: x.blockBytes }, t);
    }
  });

  it("grid tables: every point as ggml-common.h's iq*_grid tables (FNV-1a of their bytes, and spot values)", () => {
    // Hashes of the tables' bytes (point order, lowest byte first) computed from llama.cpp's
    // ggml-common.h; iq1's int8 -1 as 255.
    const want: Record<string, number> = {
      iq2_xxs: 0x3db4a16e,
      iq2_xs: 0xebeb17dd,
      iq2_s: 0x82981110,
      iq3_xxs: 0x49a45035,
      iq3_s: 0x71cc6c89,
      iq1_s: 0x2fe8cbce,
    };
    for (const [t, h] of Object.entries(want)) assert.equal(fnv(grids[t]).toString(16), h.toString(16), t);
    assert.deepEqual(grids.iq2_xxs[1], [0x2b, 8, 8, 8, 8, 8, 8, 8]);
    assert.deepEqual(grids.iq2_xs[511], [0x2b, 0x2b, 0x2b, 0x2b, 0x2b, 0x2b, 0x2b, 0x2b]);
    assert.deepEqual(grids.iq3_xxs[255], [0x04, 0x1c, 0x34, 0x3e]);
    assert.deepEqual(grids.iq3_s[1], [3, 1, 1, 1]);
    assert.deepEqual(grids.iq1_s[1], [1, 255, 255, 255, 255, 255, 255, 255]);
  });

  describe('layouts: the addon decodes random bytes exactly as an independent decoder', () => {
    for (const t of TYPES)
      it(t, () => {
        const u = rng(IDS[t]);
        const blocks = 64;
        const b = new Uint8Array(blocks * BLOCK[t][1]).map(() => Math.floor(u() * 256));
        sameFloats(addon.ggmlDecode(t, b, 4, 16 * 256), decodeTs(t, b, 4, 16 * 256), t);
      });
  });

  describe('hand-made blocks', () => {
    it('iq2_xxs: d 1, sub-block 1 scale 15 (db 3.875), point 1, sign index 1 (weights 0 and 7 negative)', () => {
      const b = new Uint8Array(66);
      b[1] = 0x3c;
      b[2 + 8] = 1; // sub-block 1, group 0: point 1 = {43, 8, 8, 8, 8, 8, 8, 8}
      const ss = (15 << 28) | 1;
      new DataView(b.buffer).setUint32(2 + 8 + 4, ss >>> 0, true);
      const y = addon.ggmlDecode('iq2_xxs', b, 1, 256);
      assert.deepEqual(Array.from(y.subarray(32, 40)), [-3.875 * 43, 31, 31, 31, 31, 31, 31, -31]);
      assert.equal(y[40], 3.875 * 8, 'group 1: point 0, no signs');
      assert.equal(y[0], 0.125 * 8, 'sub-block 0: scale 0');
    });
    it('iq1_m: d from the top nibbles of the scale words; scale per 16, delta per 8', () => {
      const b = new Uint8Array(56);
      const d = f16(0.5);
      const sc = [(d & 15) << 12, ((d >> 4) & 15) << 12, ((d >> 8) & 15) << 12, ((d >> 12) & 15) << 12];
      sc[0] |= 3 << 3; // half 1 (weights 16..31): s = 3, dl = 0.5 * 7
      for (let k = 0; k < 4; k++) new DataView(b.buffer).setUint16(48 + 2 * k, sc[k], true);
      b[32] = 0x80; // group 1 (weights 8..15): delta -1/8
      b[2] = 1; // group 2: point 1 = {1, -1, ..., -1}
      const y = addon.ggmlDecode('iq1_m', b, 1, 256);
      assert.equal(y[0], 0.5 * (-1 + 0.125));
      assert.equal(y[8], 0.5 * (-1 - 0.125));
      assert.equal(y[16], 3.5 * (1 + 0.125));
      assert.equal(y[17], 3.5 * (-1 + 0.125));
    });
    it('tq1_0 / tq2_0: element e of a block of known trits', () => {
      const t = Array.from({ length: 256 }, (_, e) => ((e * 7) % 3) - 1);
      const w = new Float32Array(t.map((v) => v * 0.25));
      for (const type of ['tq1_0', 'tq2_0']) {
        const b = addon.ggmlEncode(type, w, 1, 256);
        assert.deepEqual(Array.from(addon.ggmlDecode(type, b, 1, 256)), Array.from(w), type);
        assert.deepEqual(Array.from(decodeTs(type, b, 1, 256)), Array.from(w), `${type}: independent decoder`);
      }
      // tq2_0: element 128c + 32l + m in bits 2l of byte 32c + m.
      const b = addon.ggmlEncode('tq2_0', w, 1, 256);
      assert.equal((b[32 + 5] >> 4) & 3, t[128 + 64 + 5] + 1);
      assert.equal(new DataView(b.buffer, b.byteOffset).getUint16(64, true), 0x3400, 'd = 0.25');
    });
  });

  describe('encoders: fast path bytes == reference path bytes', () => {
    for (const t of TYPES)
      it(t, () => {
        // Values from a small set (ties everywhere: equal magnitudes, equal errors) on two
        // kinds of rows; then the mixed rows with and without importance below.
        const u = rng(IDS[t] + 100);
        const coarse = new Float32Array(8 * 512).map(
          (_, i) => [-3, -1, 0, 1, 3][Math.floor(u() * 5)] * (i < 2048 ? 0.01 : 7),
        );
        sameBytes(
          addon.ggmlEncode(t, coarse, 8, 512, { threads: 2 }),
          addon.ggmlEncode(t, coarse, 8, 512, { reference: true }),
          `${t} coarse values`,
        );
        const rows = 20,
          cols = 1024;
        const w = mixed(rows, cols, 3 + IDS[t]);
        const imp = new Float32Array(cols).map((_, i) => (i % 13 === 0 ? 0 : 0.5 + (i % 7)));
        for (const importance of [undefined, imp]) {
          const ref = addon.ggmlEncode(t, w, rows, cols, { reference: true, importance });
          for (const threads of [1, 2])
            sameBytes(
              addon.ggmlEncode(t, w, rows, cols, { threads, importance }),
              ref,
              `${t} ${threads}T ${!!importance}`,
            );
          const y = addon.ggmlDecode(t, ref, rows, cols);
          for (let i = 0; i < y.length; i++) assert.ok(Number.isFinite(y[i]), `${t}: element ${i} not finite`);
          // A zero row decodes to zeros (d = 0); a constant row to values of its sign.
          for (let i = 0; i < cols; i++) assert.ok(y[i] === 0, `${t}: zero row: ${y[i]}`);
          for (let i = 0; i < cols; i++)
            assert.ok(y[2 * cols + i] <= 0, `${t}: a negative constant row: ${y[2 * cols + i]}`);
        }
      });
  });

  it('error: decreases with the bits per weight; importance lowers the importance-weighted error', () => {
    const rows = 64,
      cols = 1024;
    // Student-t nu = 8 without hot columns (with them iq1_m, a scale per 16, beats iq2_xxs, a
    // scale per 32, in llama.cpp as here).
    const x = studentT(rows, cols, 41, 8, 0);
    const imp = new Float32Array(cols).map((_, i) => (i % 5 === 0 ? 20 : 1));
    const weighted: Record<string, number> = {};
    for (const t of TYPES) {
      const y0 = addon.ggmlDecode(t, addon.ggmlEncode(t, x, rows, cols), rows, cols);
      const y1 = addon.ggmlDecode(t, addon.ggmlEncode(t, x, rows, cols, { importance: imp }), rows, cols);
      weighted[t] = sqnr(x, y1, imp);
      assert.ok(sqnr(x, y1, imp) > sqnr(x, y0, imp), `${t}: weighted ${sqnr(x, y1, imp)} <= ${sqnr(x, y0, imp)}`);
    }
    const order = ['iq1_s', 'iq1_m', 'iq2_xxs', 'iq2_xs', 'iq2_s', 'iq3_xxs', 'iq3_s'];
    for (let k = 1; k < order.length; k++)
      assert.ok(
        weighted[order[k]] > weighted[order[k - 1]],
        `${order[k]} ${weighted[order[k]].toFixed(2)} dB <= ${order[k - 1]} ${weighted[order[k - 1]].toFixed(2)} dB`,
      );
    // Floors 1 dB below the figures measured (iq1_s 8.1, iq1_m 10.2, iq2_xxs 11.4, iq2_xs 13.1,
    // iq2_s 13.7, iq3_xxs 18.1, iq3_s 19.7): far above what a wrong grid, scale or sign gives.
    const floor: Record<string, number> = {
      iq1_s: 7.1,
      iq1_m: 9.2,
      iq2_xxs: 10.4,
      iq2_xs: 12.1,
      iq2_s: 12.7,
      iq3_xxs: 17.1,
      iq3_s: 18.7,
    };
    for (const [t, db] of Object.entries(floor)) assert.ok(weighted[t] > db, `${t}: ${weighted[t].toFixed(2)} dB`);
  });

  it("ternary: exactly ternary weights come back exactly (d in f16); the least-squares d beats llama.cpp's largest magnitude", () => {
    const u = rng(5);
    const rows = 8,
      cols = 512;
    const tern = new Float32Array(rows * cols).map(() => 0.0625 * (Math.floor(u() * 3) - 1));
    for (const t of ['tq1_0', 'tq2_0'])
      assert.deepEqual(
        Array.from(addon.ggmlDecode(t, addon.ggmlEncode(t, tern, rows, cols), rows, cols)),
        Array.from(tern),
        t,
      );
    // Gaussian weights: d = max |x| (llama.cpp) leaves most weights at 0.
    const x = studentT(rows, cols, 8, 30);
    const y = addon.ggmlDecode('tq2_0', addon.ggmlEncode('tq2_0', x, rows, cols), rows, cols);
    const amax = new Float32Array(x.length);
    for (let r = 0; r < rows; r++)
      for (let b0 = 0; b0 < cols; b0 += 256) {
        let m = 0;
        for (let i = 0; i < 256; i++) m = Math.max(m, Math.abs(x[r * cols + b0 + i]));
        for (let i = 0; i < 256; i++) amax[r * cols + b0 + i] = Math.round(x[r * cols + b0 + i] / m) * m;
      }
    assert.ok(sqnr(x, y) > sqnr(x, amax) + 1, `${sqnr(x, y)} vs ${sqnr(x, amax)}`);
  });

  it('through quantize(): the codes are the blocks, bytes as bits.ts counts them, reference == fast', () => {
    for (const t of TYPES) {
      const rows = 6,
        cols = 512;
      const w = studentT(rows, cols, 77);
      const imp = new Float32Array(cols).map((_, i) => 1 + (i % 3));
      const fast = addon.quantize(w, rows, cols, { format: t, stored: true, importance: imp });
      const ref = addon.quantize(w, rows, cols, { format: t, stored: true, importance: imp, reference: true });
      sameBytes(fast.stored!.codes, ref.stored!.codes, t);
      sameBytes(
        fast.stored!.codes,
        addon.ggmlEncode(t, w, rows, cols, { importance: imp }),
        `${t}: ggmlEncode's blocks`,
      );
      sameFloats(fast.dequant, addon.ggmlDecode(t, fast.stored!.codes, rows, cols), t);
      const plan = tensorBytes(rows, cols, {
        format: FORMAT_BY_NAME.get(t)!,
        group: 256,
        groupKind: 'size',
        symmetric: true,
        scale: 'f16',
        zero: 'f16',
        outliers: 0,
        lowrank: 0,
      });
      assert.deepEqual(fast.bytes, { ...plan }, t);
      assert.equal(fast.stored!.codes.length, plan.codes, t);
    }
  });
});
