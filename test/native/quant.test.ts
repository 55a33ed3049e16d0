// Native single-tensor quantizer: fast path == reference path, number formats, stored
// layouts (decoded here independently and reconstructed bit for bit), byte accounting
// against core/src/analysis/bits.ts, error bounds, outliers, low rank, rotation, metrics,
// argument validation.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { tensorBytes, type ByteBreakdown, type QuantConfig as CoreConfig } from '../../core/src/analysis/bits';
import { FORMAT_BY_NAME, FORMATS, type ScaleType } from '../../core/src/language/formats';
import { maxOf, minOf } from '../../core/src/arrays';
import { mulberry32 as rng, gaussian } from '../../scripts/lib/rng';

type GroupKind = 'size' | 'channel' | 'tensor';
interface Config {
  format: string;
  group?: number;
  groupKind?: GroupKind;
  symmetric?: boolean;
  scale?: ScaleType;
  zero?: 'f16' | 'int';
  clip?: 'none' | 'mse';
  outliers?: number;
  lowrank?: number;
  lowrankIters?: number;
  rotate?: 'none' | 'hadamard';
  seed?: number | bigint;
  threads?: number;
  reference?: boolean;
  metrics?: boolean;
  stored?: boolean;
  out?: Float32Array;
}
interface Hist {
  min: number;
  max: number;
  counts: number[];
}
type Bytes = ByteBreakdown;
interface Stored {
  codes: Uint8Array;
  scales: Uint8Array;
  zeros: Uint8Array;
  outliers: Uint8Array;
  lowrank: Uint8Array;
  extra: Uint8Array;
}
interface Result {
  dequant: Float32Array;
  bytes: Bytes;
  outlierCount: number;
  metrics: {
    relError: number;
    sqnrDb: number;
    maxAbsError: number;
    cosine: number;
    weightHist: Hist;
    errorHist: Hist;
    dequantHist: Hist;
  };
  timing: { quantizeMs: number; metricsMs: number };
  stored?: Stored;
}
interface Addon {
  quantize(data: Float32Array, rows: number, cols: number, config: Config): Result;
  fp8Decode(kind: 'e4m3' | 'e5m2', code: number): number;
  fp8Encode(kind: 'e4m3' | 'e5m2', value: number): number;
  f16Round(value: number): number;
  bf16Round(value: number): number;
  grid(format: 'nf4' | 'fp4'): Float32Array;
  poolSelfTest(
    threads: number,
    n: number,
  ): {
    eachIndexOnce: boolean;
    chunks: number;
    threadsUsed: number;
    nestedIndices: number;
    error: string;
    size: number;
  };
}

const root = path.resolve(__dirname, '..', '..');

const addon = require('../../native') as Addon;

// ---- data ------------------------------------------------------------------------------
/** Student-t (nu) weights with `hot` input columns scaled by 10: LLM-like outlier channels. */
function heavyTailed(rows: number, cols: number, seed: number, nu = 5, hot = 4): Float32Array {
  const z = gaussian(rows * cols * (nu + 1), seed);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    let chi = 0;
    for (let k = 1; k <= nu; k++) chi += z[i * (nu + 1) + k] ** 2;
    out[i] = (0.02 * z[i * (nu + 1)]) / Math.sqrt(chi / nu);
  }
  const u = rng(seed + 1);
  for (let h = 0; h < hot; h++) {
    const c = Math.floor(u() * cols);
    for (let r = 0; r < rows; r++) out[r * cols + c] *= 10;
  }
  return out;
}

// ---- helpers ---------------------------------------------------------------------------
function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}
function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) assert.fail(`${what}: byte ${i} differs: ${a[i]} vs ${b[i]}`);
}
function relError(w: Float32Array, q: Float32Array): number {
  let e = 0,
    n = 0;
  for (let i = 0; i < w.length; i++) {
    e += (w[i] - q[i]) ** 2;
    n += w[i] ** 2;
  }
  return Math.sqrt(e / n);
}
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31,
    m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function fp8Value(kind: 'e4m3' | 'e5m2', c: number): number {
  const s = c & 0x80 ? -1 : 1;
  const mag = c & 0x7f;
  if (kind === 'e4m3') {
    if (mag === 0x7f) return NaN;
    const e = mag >> 3,
      m = mag & 7;
    return s * (e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7));
  }
  const e = mag >> 2,
    m = mag & 3;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (e === 0 ? m * 2 ** -16 : (1 + m / 4) * 2 ** (e - 15));
}
const u16 = (b: Uint8Array, i: number) => b[2 * i] | (b[2 * i + 1] << 8);
const u32 = (b: Uint8Array, i: number) =>
  (b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) | (b[4 * i + 3] << 24)) >>> 0;
function readCode(stream: Uint8Array, index: number, bits: number): number {
  const bit = index * bits;
  const byte = bit >> 3,
    off = bit & 7;
  let v = stream[byte];
  if (off + bits > 8) v |= stream[byte + 1] << 8;
  return (v >> off) & ((1 << bits) - 1);
}
function scaleValue(b: Uint8Array, i: number, type: ScaleType): number {
  switch (type) {
    case 'f16':
      return f16Value(u16(b, i));
    case 'bf16':
      return new Float32Array(new Uint32Array([u16(b, i) << 16]).buffer)[0];
    case 'f32':
      return new Float32Array(new Uint32Array([u32(b, i)]).buffer)[0];
    case 'e8m0':
      return 2 ** (b[i] - 127);
    case 'e4m3':
      return fp8Value('e4m3', b[i]);
  }
}
const f = Math.fround;

function coreConfig(rows: number, cols: number, c: Config): CoreConfig {
  const format = FORMAT_BY_NAME.get(c.format);
  assert.ok(format, c.format);
  const groupKind = c.groupKind ?? 'size';
  return {
    format,
    group: groupKind === 'channel' ? cols : groupKind === 'tensor' ? rows * cols : (c.group ?? 128),
    groupKind,
    symmetric: c.symmetric ?? true,
    scale: c.scale ?? 'f16',
    zero: c.zero ?? 'f16',
    outliers: c.outliers ?? 0,
    lowrank: c.lowrank ?? 0,
  };
}

/** Quantizes on both paths and requires identical reconstructions and stored bytes. */
function bothPaths(w: Float32Array, rows: number, cols: number, c: Config, threads = 2): Result {
  const fast = addon.quantize(w, rows, cols, { ...c, threads, stored: true });
  const ref = addon.quantize(w, rows, cols, { ...c, reference: true, stored: true });
  const what = `${JSON.stringify(c)} on ${rows}x${cols}`;
  sameBits(fast.dequant, ref.dequant, `${what} dequant`);
  for (const k of ['codes', 'scales', 'zeros', 'outliers', 'lowrank', 'extra'] as const)
    sameBytes(fast.stored![k], ref.stored![k], `${what} stored.${k}`);
  assert.deepEqual(fast.bytes, ref.bytes, `${what} bytes`);
  assert.equal(fast.outlierCount, ref.outlierCount);
  const want = tensorBytes(rows, cols, coreConfig(rows, cols, c));
  assert.deepEqual(fast.bytes, want, `${what}: bytes equal core tensorBytes`);
  for (const k of ['codes', 'scales', 'zeros', 'outliers', 'lowrank', 'extra'] as const)
    assert.equal(fast.stored![k].length, want[k], `${what}: stored.${k} is what bits.ts counts`);
  return fast;
}

const EXECUTABLE = FORMATS.filter((x) => x.family !== 'ggml').map((x) => x.name);
const INT_FORMATS = ['int2', 'int3', 'int4', 'int5', 'int6', 'int7', 'int8'];
const SCALES: ScaleType[] = ['f16', 'bf16', 'f32', 'e8m0', 'e4m3'];
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 7],
  [3, 1],
  [5, 33],
  [7, 130],
  [16, 256],
  [4, 1000],
  [33, 97],
  [2, 4097],
];

describe('native quantizer', function () {
  this.timeout(120000);

  describe('fast path equals the reference path (dequant bits and stored bytes)', () => {
    it('every int grid: sym/asym, zero f16/int, group size/channel/tensor, odd shapes', () => {
      let k = 0;
      for (const format of INT_FORMATS)
        for (const [rows, cols] of SHAPES)
          for (const variant of [
            { symmetric: true },
            { symmetric: false, zero: 'f16' as const },
            { symmetric: false, zero: 'int' as const },
          ])
            for (const grouping of [
              { group: 32 },
              { group: 128 },
              { group: 5 },
              { groupKind: 'channel' as const },
              { groupKind: 'tensor' as const },
            ]) {
              const w = gaussian(rows * cols, ++k, 0.05);
              bothPaths(w, rows, cols, { format, ...variant, ...grouping });
            }
    });

    it('every scale type, with and without clip mse', () => {
      let k = 100;
      for (const format of ['int4', 'int3', 'nf4', 'fp4', 'fp8_e4m3', 'fp8_e5m2', 'binary', 'ternary'])
        for (const scale of SCALES)
          for (const clip of ['none', 'mse'] as const)
            for (const symmetric of [true, false])
              for (const [rows, cols] of [
                [6, 70],
                [1, 300],
                [9, 9],
              ] as Array<[number, number]>) {
                const w = heavyTailed(rows, cols, ++k, 5, 2);
                bothPaths(w, rows, cols, { format, scale, clip, symmetric, group: 32 });
              }
    });

    it('every executable format on every shape and grouping', () => {
      let k = 500;
      for (const format of EXECUTABLE)
        for (const [rows, cols] of SHAPES)
          for (const grouping of [{ group: 64 }, { groupKind: 'channel' as const }, { groupKind: 'tensor' as const }]) {
            const w = heavyTailed(rows, cols, ++k, 5, cols > 8 ? 2 : 0);
            bothPaths(w, rows, cols, { format, symmetric: false, ...grouping });
          }
    });

    it('large tensors: parallel row blocks, byte-aligned packing of odd widths, chunked reductions', () => {
      let k = 900;
      const cases: Array<[number, number, Config]> = [
        [64, 4096, { format: 'int4', symmetric: false }],
        [64, 4096, { format: 'int4', symmetric: true, clip: 'mse' }],
        [33, 1001, { format: 'int3', symmetric: false, zero: 'int', group: 7 }],
        [40, 999, { format: 'int5', symmetric: false, zero: 'int' }],
        [50, 777, { format: 'ternary', group: 100 }],
        [300, 300, { format: 'int4', groupKind: 'tensor', clip: 'mse', symmetric: false }],
        [300, 300, { format: 'binary', groupKind: 'tensor' }],
        [256, 512, { format: 'nvfp4' }],
        [17, 4096, { format: 'int4', groupKind: 'channel', clip: 'mse', symmetric: false, zero: 'int' }],
        [128, 640, { format: 'nf4', clip: 'mse' }],
      ];
      for (const [rows, cols, c] of cases) {
        const w = heavyTailed(rows, cols, ++k);
        for (const threads of [1, 2, 3, 7]) bothPaths(w, rows, cols, c, threads);
      }
    });

    it('clip mse, outliers, low rank and rotation on both paths', () => {
      let k = 1000;
      const cases: Array<[number, number, Config]> = [
        [16, 256, { format: 'int4', clip: 'mse', outliers: 20 }],
        [16, 256, { format: 'int3', symmetric: false, outliers: 50, rotate: 'hadamard', seed: 7 }],
        [12, 96, { format: 'int4', rotate: 'hadamard', seed: 3 }],
        [5, 33, { format: 'nf4', rotate: 'hadamard' }],
        [24, 64, { format: 'int4', lowrank: 4 }],
        [24, 64, { format: 'int2', symmetric: false, lowrank: 4, lowrankIters: 3, outliers: 10 }],
        [3, 5, { format: 'int4', lowrank: 8 }],
        [32, 128, { format: 'mxfp4', rotate: 'hadamard', lowrank: 2, outliers: 3 }],
        [8, 160, { format: 'ternary', outliers: 8, clip: 'mse' }],
      ];
      for (const [rows, cols, c] of cases) bothPaths(heavyTailed(rows, cols, ++k), rows, cols, c);
    });

    it('the portable (non-AVX2) build of every kernel gives the same bits as the AVX2 one', () => {
      // A child process with AVX2 disabled runs the same configs; dequant, stored bytes and
      // metrics must be identical to this process's (AVX2 when the CPU has it).
      const configs: Config[] = [
        { format: 'int4', symmetric: false },
        { format: 'int4' },
        { format: 'int3', symmetric: false, zero: 'int', group: 24 },
        { format: 'int8', clip: 'mse' },
        { format: 'int4', groupKind: 'tensor', clip: 'mse', symmetric: false },
        { format: 'nf4', group: 32 },
        { format: 'fp4', clip: 'mse', group: 16 },
        { format: 'fp8_e4m3', groupKind: 'channel' },
        { format: 'fp8_e5m2', scale: 'f32' },
        { format: 'mxfp4' },
        { format: 'mxfp8' },
        { format: 'nvfp4' },
        { format: 'binary', group: 64 },
        { format: 'ternary', group: 64 },
        { format: 'int4', rotate: 'hadamard', seed: 3 },
        { format: 'int3', outliers: 40 },
        { format: 'int2', symmetric: false, lowrank: 4, lowrankIters: 2 },
        { format: 'nf4', rotate: 'hadamard', outliers: 9, lowrank: 2 },
      ];
      const shapes: Array<[number, number]> = [
        [7, 130],
        [16, 256],
        [3, 4097],
      ];
      const run = (a: Addon) => {
        const out: string[] = [];
        let seed = 12345;
        for (const [rows, cols] of shapes) {
          const w = new Float32Array(rows * cols);
          for (let i = 0; i < w.length; i++) {
            seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
            w[i] = (seed / 4294967296 - 0.5) * (i % 97 === 0 ? 1 : 0.05);
          }
          for (const c of configs) {
            const r = a.quantize(w, rows, cols, { ...c, threads: 2, stored: true });
            const b64 = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
            const st = r.stored!;
            out.push(
              JSON.stringify([
                b64(r.dequant),
                b64(st.codes),
                b64(st.scales),
                b64(st.zeros),
                b64(st.outliers),
                b64(st.lowrank),
                b64(st.extra),
                r.metrics.relError,
                r.metrics.sqnrDb,
                r.metrics.cosine,
                r.metrics.maxAbsError,
                r.metrics.weightHist,
                r.metrics.errorHist,
              ]),
            );
          }
        }
        return out;
      };
      const script = `
        const a = require(${JSON.stringify(path.join(root, 'native'))});
        const configs = ${JSON.stringify(configs)}, shapes = ${JSON.stringify(shapes)};
        const run = ${run.toString()};
        process.stdout.write(JSON.stringify(run(a)));`;
      const r = spawnSync(process.execPath, ['-e', script], {
        env: { ...process.env, BITSMITH_NO_AVX2: '1' },
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      });
      assert.equal(r.status, 0, r.stderr);
      const portable = JSON.parse(r.stdout) as string[];
      const here = run(addon);
      assert.equal(portable.length, here.length);
      for (let i = 0; i < here.length; i++) {
        const c = configs[i % configs.length];
        const [rows, cols] = shapes[Math.floor(i / configs.length)];
        assert.equal(portable[i], here[i], `${JSON.stringify(c)} on ${rows}x${cols}`);
      }
    });

    it('outlier selection with many tied errors on a large tensor (parallel radix select)', () => {
      const [rows, cols] = [300, 1000];
      const w = new Float32Array(rows * cols);
      for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 9) - 4; // 9 values: errors tie massively
      for (const c of [
        { format: 'int2', outliers: 12345 },
        { format: 'binary', outliers: 77777, group: 100 },
        { format: 'ternary', outliers: 1, groupKind: 'tensor' as const },
        { format: 'int3', outliers: 299999, symmetric: false },
      ])
        for (const threads of [2, 3]) bothPaths(w, rows, cols, c, threads);
    });
  });

  describe('number formats', () => {
    for (const kind of ['e4m3', 'e5m2'] as const) {
      it(`fp8 ${kind}: all 256 codes decode as specified and re-encode to themselves (NaNs excepted)`, () => {
        let nans = 0;
        for (let c = 0; c < 256; c++) {
          const v = addon.fp8Decode(kind, c);
          const want = fp8Value(kind, c);
          if (Number.isNaN(want)) {
            assert.ok(Number.isNaN(v), `code ${c}`);
            assert.ok(Number.isNaN(addon.fp8Decode(kind, addon.fp8Encode(kind, NaN))));
            nans++;
            continue;
          }
          assert.ok(Object.is(v, want), `${kind} code ${c}: ${v} vs ${want}`);
          assert.equal(addon.fp8Encode(kind, v), c, `${kind} code ${c} (${v}) round trip`);
        }
        assert.equal(nans, kind === 'e4m3' ? 2 : 6);
      });
    }

    it('fp8 saturates to the largest finite value and keeps NaN', () => {
      assert.equal(addon.fp8Encode('e4m3', 1e6), 0x7e);
      assert.equal(addon.fp8Encode('e4m3', -1e6), 0xfe);
      assert.equal(addon.fp8Decode('e4m3', 0x7e), 448);
      assert.equal(addon.fp8Encode('e4m3', 470), 0x7e); // would round to 480, which is NaN's slot
      assert.equal(addon.fp8Encode('e4m3', Infinity), 0x7e); // no infinities in e4m3
      assert.equal(addon.fp8Encode('e4m3', NaN), 0x7f);
      assert.equal(addon.fp8Encode('e5m2', 1e6), 0x7b);
      assert.equal(addon.fp8Decode('e5m2', 0x7b), 57344);
      assert.equal(addon.fp8Encode('e5m2', 61440), 0x7b); // the tie above max saturates
      assert.equal(addon.fp8Encode('e5m2', -1e30), 0xfb);
      assert.equal(addon.fp8Encode('e5m2', Infinity), 0x7c); // IEEE-like infinity is kept
      assert.equal(addon.fp8Decode('e5m2', 0x7c), Infinity);
      assert.ok(Number.isNaN(addon.fp8Decode('e5m2', addon.fp8Encode('e5m2', NaN))));
    });

    it('fp8 rounds half to even, in the normal and the subnormal range', () => {
      // e4m3: step 1/8 in [1, 2)
      assert.equal(addon.fp8Decode('e4m3', addon.fp8Encode('e4m3', 1.0625)), 1); // tie -> even mantissa 000
      assert.equal(addon.fp8Decode('e4m3', addon.fp8Encode('e4m3', 1.1875)), 1.25); // tie -> 010
      assert.equal(addon.fp8Decode('e4m3', addon.fp8Encode('e4m3', 1.0626)), 1.125);
      assert.equal(addon.fp8Encode('e4m3', 2 ** -10), 0); // half the smallest subnormal -> 0
      assert.equal(addon.fp8Decode('e4m3', addon.fp8Encode('e4m3', 3 * 2 ** -10)), 2 ** -8); // 1.5 quanta -> 2
      assert.equal(addon.fp8Decode('e4m3', addon.fp8Encode('e4m3', 15 * 2 ** -10)), 2 ** -6); // crosses into normal
      // e5m2: step 1/4 in [1, 2)
      assert.equal(addon.fp8Decode('e5m2', addon.fp8Encode('e5m2', 1.125)), 1);
      assert.equal(addon.fp8Decode('e5m2', addon.fp8Encode('e5m2', 1.375)), 1.5);
      assert.equal(addon.fp8Decode('e5m2', addon.fp8Encode('e5m2', 3 * 2 ** -17)), 2 ** -15);
      assert.ok(Object.is(addon.fp8Decode('e5m2', addon.fp8Encode('e5m2', -0)), -0));
    });

    it('f16 rounding: every f16 value is a fixed point; RNE ties; subnormals; overflow', () => {
      for (let h = 0; h < 0x10000; h++) {
        const v = f16Value(h);
        if (Number.isNaN(v)) assert.ok(Number.isNaN(addon.f16Round(v)));
        else assert.ok(Object.is(addon.f16Round(v), v), `f16 0x${h.toString(16)}`);
      }
      assert.equal(addon.f16Round(1 + 2 ** -11), 1);
      assert.equal(addon.f16Round(1 + 3 * 2 ** -11), 1 + 2 ** -9);
      assert.equal(addon.f16Round(65519), 65504);
      assert.equal(addon.f16Round(65520), Infinity);
      assert.equal(addon.f16Round(2 ** -25), 0);
      assert.equal(addon.f16Round(3 * 2 ** -25), 2 ** -23);
      assert.equal(addon.f16Round(2 ** -14 - 2 ** -25), 2 ** -14); // rounds up into the normals
      assert.equal(addon.bf16Round(1 + 2 ** -8), 1);
      assert.equal(addon.bf16Round(1 + 3 * 2 ** -8), 1 + 2 ** -6);
    });

    it('the nf4 and fp4 tables are exact', () => {
      const nf4 = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
        0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
      ];
      assert.deepEqual(Array.from(addon.grid('nf4')), nf4.map(f));
      const fp4 = Array.from(addon.grid('fp4'));
      assert.deepEqual(fp4.slice(0, 8), [0, 0.5, 1, 1.5, 2, 3, 4, 6]);
      assert.deepEqual(fp4.slice(9), [-0.5, -1, -1.5, -2, -3, -4, -6]);
      assert.ok(Object.is(fp4[8], -0));
    });

    it('grid values are reproduced exactly (scale 1)', () => {
      for (const [format, max] of [
        ['nf4', 1],
        ['fp4', 6],
      ] as const) {
        const g = addon.grid(format);
        const w = new Float32Array(g);
        w[8] = 0; // -0 -> 0 for the comparison
        const r = addon.quantize(w, 1, 16, { format, scale: 'f32', group: 16 });
        assert.equal(maxOf(Array.from(w, Math.abs)), max);
        sameBits(r.dequant, w, format);
        assert.equal(r.metrics.sqnrDb, Infinity);
      }
    });
  });

  describe('stored layout (decoded here, reconstructed bit for bit)', () => {
    it('int4: codes LSB-first, symmetric code = q + 8', () => {
      const r = addon.quantize(new Float32Array([1, -1, 0.5]), 1, 3, { format: 'int4', group: 3, stored: true });
      // s = f16(1 / 7.5); 1/s = 7.50..: 1 -> 7.5 -> 8 -> clamp 7 (code 15); -1 -> -8 (code 0); 0.5 -> 4 (code 12)
      assert.deepEqual(Array.from(r.stored!.codes), [0x0f, 0x0c]);
      assert.equal(f16Value(u16(r.stored!.scales, 0)), addon.f16Round(1 / 7.5));
    });

    it('ternary: 5 trits per byte, base 3, first trit least significant', () => {
      const w = new Float32Array([1, -1, 0, 1, 1, -1, 0]);
      const r = addon.quantize(w, 1, 7, { format: 'ternary', group: 7, stored: true });
      const t = [2, 0, 1, 2, 2, 0, 1];
      assert.deepEqual(Array.from(r.stored!.codes), [
        t[0] + 3 * t[1] + 9 * t[2] + 27 * t[3] + 81 * t[4],
        t[5] + 3 * t[6],
      ]);
    });

    /** Rebuilds the reconstruction from the stored bytes alone. */
    function decode(rows: number, cols: number, c: Config, s: Stored): Float32Array {
      const fmt = FORMAT_BY_NAME.get(c.format)!;
      const n = rows * cols;
      const out = new Float32Array(n);
      const g = fmt.fixedGroup ?? (c.groupKind === 'channel' ? cols : c.groupKind === 'tensor' ? n : (c.group ?? 128));
      const G = c.groupKind === 'tensor' && !fmt.fixedGroup ? 0 : Math.ceil(cols / g);
      const groupOf = (i: number) => (G === 0 ? 0 : Math.floor(i / cols) * G + Math.floor((i % cols) / g));
      const scaleType = fmt.fixedScale ?? c.scale ?? 'f16';
      const nf4 = addon.grid('nf4'),
        fp4 = addon.grid('fp4');
      const gs = s.extra.length ? scaleValue(s.extra, 0, 'f32') : 1;
      for (let i = 0; i < n; i++) {
        const gi = groupOf(i);
        const sc = scaleValue(s.scales, gi, scaleType);
        let v: number;
        switch (c.format) {
          case 'int2':
          case 'int3':
          case 'int4':
          case 'int5':
          case 'int6':
          case 'int7':
          case 'int8': {
            const b = fmt.bits;
            const code = readCode(s.codes, i, b);
            if (c.symmetric ?? true) v = f((code - 2 ** (b - 1)) * sc);
            else {
              const z = c.zero === 'int' ? readCode(s.zeros, gi, b) : f16Value(u16(s.zeros, gi));
              v = f(f(code - z) * sc);
            }
            break;
          }
          case 'nf4':
            v = f(nf4[readCode(s.codes, i, 4)] * sc);
            break;
          case 'fp4':
          case 'mxfp4':
            v = f(fp4[readCode(s.codes, i, 4)] * sc);
            break;
          case 'nvfp4':
            v = f(fp4[readCode(s.codes, i, 4)] * f(sc / gs));
            break;
          case 'fp8_e4m3':
          case 'mxfp8':
            v = f(fp8Value('e4m3', readCode(s.codes, i, 8)) * sc);
            break;
          case 'fp8_e5m2':
            v = f(fp8Value('e5m2', readCode(s.codes, i, 8)) * sc);
            break;
          case 'binary':
            v = sc === 0 ? 0 : readCode(s.codes, i, 1) ? sc : -sc;
            break;
          case 'ternary':
            v = f(((Math.floor(s.codes[Math.floor(i / 5)] / 3 ** (i % 5)) % 3) - 1) * sc);
            break;
          default:
            throw new Error(c.format);
        }
        out[i] = v;
      }
      const k = s.outliers.length / 6;
      for (let j = 0; j < k; j++) out[u32(s.outliers.subarray(2 * k), j)] = f16Value(u16(s.outliers, j));
      return out;
    }

    it('every format, grouping and scale type decodes from its bytes to the reconstruction', () => {
      let k = 2000;
      for (const format of EXECUTABLE)
        for (const c of [
          { group: 16 },
          { group: 50, symmetric: false },
          { group: 50, symmetric: false, zero: 'int' as const },
          { groupKind: 'channel' as const, scale: 'bf16' as const },
          { groupKind: 'tensor' as const, scale: 'f32' as const, symmetric: false },
          { group: 32, scale: 'e8m0' as const },
          { group: 32, scale: 'e4m3' as const, clip: 'mse' as const },
          { group: 8, outliers: 9 },
        ])
          for (const [rows, cols] of [
            [7, 100],
            [3, 33],
          ] as Array<[number, number]>) {
            const cfg: Config = { format, ...c };
            const w = heavyTailed(rows, cols, ++k, 5, 1);
            const r = addon.quantize(w, rows, cols, { ...cfg, stored: true });
            // Scales that are ~1e-3 underflow e4m3 (subnormals only reach 2^-9): keep them in range.
            sameBits(decode(rows, cols, cfg, r.stored!), r.dequant, JSON.stringify(cfg));
          }
    });

    it('low rank: the reconstruction is Q + U V from the f16 factors', () => {
      const [rows, cols, rank] = [20, 48, 5];
      const w = heavyTailed(rows, cols, 77);
      const c: Config = { format: 'int3', group: 16, symmetric: false };
      const q = addon.quantize(w, rows, cols, c).dequant;
      const r = addon.quantize(w, rows, cols, { ...c, lowrank: rank, stored: true });
      const lr = r.stored!.lowrank;
      assert.equal(lr.length, 2 * rank * (rows + cols));
      const U = (i: number, k: number) => f16Value(u16(lr, i * rank + k));
      const V = (k: number, j: number) => f16Value(u16(lr, rows * rank + k * cols + j));
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          let s = 0;
          for (let k = 0; k < rank; k++) s += U(i, k) * V(k, j);
          assert.equal(r.dequant[i * cols + j], f(q[i * cols + j] + f(s)), `[${i}, ${j}]`);
        }
    });
  });

  describe('byte accounting', () => {
    it('QuantBytes equals core tensorBytes for many configs', () => {
      let n = 0;
      for (const [rows, cols] of [
        [1, 1],
        [3, 7],
        [5, 130],
        [16, 96],
        [2, 4097],
      ] as Array<[number, number]>)
        for (const format of EXECUTABLE)
          for (const c of [
            { group: 128 },
            { group: 7, symmetric: false },
            { group: 7, symmetric: false, zero: 'int' as const },
            { groupKind: 'channel' as const, scale: 'f32' as const, symmetric: false, zero: 'int' as const },
            { groupKind: 'tensor' as const, scale: 'e8m0' as const },
            { group: 3, scale: 'e4m3' as const, outliers: 1 },
            { group: 64, lowrank: 2, scale: 'bf16' as const },
          ]) {
            const cfg: Config = { format, ...c };
            const r = addon.quantize(gaussian(rows * cols, ++n), rows, cols, { ...cfg, stored: true });
            assert.deepEqual(r.bytes, tensorBytes(rows, cols, coreConfig(rows, cols, cfg)), JSON.stringify(cfg));
          }
      assert.ok(n > 150);
    });

    it('QuantBytes equals core tensorBytes for every ggml type (whole blocks, exact bpw)', () => {
      const ggml = FORMATS.filter((x) => x.family === 'ggml');
      assert.ok(ggml.length >= 21);
      for (const f of ggml)
        for (const [rows, cols] of [
          [2, 256],
          [3, 512],
          [1, 1024],
        ] as Array<[number, number]>) {
          const cfg: Config = { format: f.name };
          const r = addon.quantize(gaussian(rows * cols, rows + cols), rows, cols, { ...cfg, stored: true });
          const want = tensorBytes(rows, cols, coreConfig(rows, cols, cfg));
          assert.deepEqual(r.bytes, want, `${f.name} ${rows}x${cols}`);
          assert.equal(want.codes, (rows * cols * f.block!.bytes) / f.block!.weights, f.name);
        }
    });

    it('a 4096x4096 int4 g128 tensor is 4.25 bpw asymmetric, 4.125 symmetric', () => {
      const rows = 4096,
        cols = 4096;
      const w = new Float32Array(rows * cols).fill(0.5);
      const a = addon.quantize(w, rows, cols, { format: 'int4', symmetric: false, metrics: false });
      const s = addon.quantize(w, rows, cols, { format: 'int4', metrics: false });
      assert.equal((8 * a.bytes.total) / (rows * cols), 4.25);
      assert.equal((8 * s.bytes.total) / (rows * cols), 4.125);
    });
  });

  describe('error', () => {
    it('int8 is far more accurate than int4 on gaussian data; int4 than int2', () => {
      const [rows, cols] = [64, 512];
      const w = gaussian(rows * cols, 5, 0.02);
      const e = (format: string) => addon.quantize(w, rows, cols, { format }).metrics.relError;
      assert.ok(e('int8') < e('int4') / 10, `${e('int8')} vs ${e('int4')}`);
      assert.ok(e('int4') < e('int2') / 3);
      for (let b = 2; b < 8; b++) assert.ok(e(`int${b + 1}`) < e(`int${b}`));
    });

    it('asymmetric int4: every weight within half a step (the stored scale) of its value', () => {
      const [rows, cols, g] = [32, 300, 64];
      const w = heavyTailed(rows, cols, 9);
      for (const zero of ['f16', 'int'] as const) {
        const r = addon.quantize(w, rows, cols, { format: 'int4', symmetric: false, zero, group: g, stored: true });
        const G = Math.ceil(cols / g);
        let worst = 0;
        for (let i = 0; i < rows * cols; i++) {
          const s = f16Value(u16(r.stored!.scales, Math.floor(i / cols) * G + Math.floor((i % cols) / g)));
          worst = Math.max(worst, Math.abs(w[i] - r.dequant[i]) / s);
        }
        // 0.5 plus the effect of rounding the scale (and a real zero point) to f16
        assert.ok(worst <= 0.51, `zero ${zero}: worst error ${worst} steps`);
      }
    });

    it('clip mse never increases the error, and helps low-bit grids on heavy tails', () => {
      const [rows, cols] = [32, 512];
      const w = heavyTailed(rows, cols, 11);
      for (const format of ['int2', 'int3', 'int4', 'nf4', 'fp4', 'fp8_e4m3'])
        for (const symmetric of [true, false]) {
          const a = addon.quantize(w, rows, cols, { format, symmetric }).metrics.relError;
          const b = addon.quantize(w, rows, cols, { format, symmetric, clip: 'mse' }).metrics.relError;
          assert.ok(b <= a * (1 + 1e-12), `${format} sym=${symmetric}: ${b} > ${a}`);
          if (format === 'int2' || format === 'int3') assert.ok(b < a * 0.97, `${format}: clip ${b} vs ${a}`);
        }
    });

    it('metrics are computed in the original basis and match a direct computation', () => {
      const [rows, cols] = [16, 256];
      const w = heavyTailed(rows, cols, 13);
      for (const c of [
        { format: 'int4' },
        { format: 'int4', rotate: 'hadamard' as const },
        { format: 'nf4', lowrank: 3 },
      ]) {
        const r = addon.quantize(w, rows, cols, c);
        const m = r.metrics;
        const e = relError(w, r.dequant);
        assert.ok(Math.abs(m.relError - e) <= 1e-12 * e);
        assert.ok(Math.abs(m.sqnrDb - -20 * Math.log10(e)) < 1e-9);
        let maxAbs = 0,
          dot = 0,
          ww = 0,
          qq = 0;
        for (let i = 0; i < w.length; i++) {
          maxAbs = Math.max(maxAbs, Math.abs(w[i] - r.dequant[i]));
          dot += w[i] * r.dequant[i];
          ww += w[i] ** 2;
          qq += r.dequant[i] ** 2;
        }
        assert.equal(m.maxAbsError, maxAbs);
        assert.ok(Math.abs(m.cosine - dot / Math.sqrt(ww * qq)) < 1e-12);
        for (const h of [m.weightHist, m.errorHist]) {
          assert.equal(h.counts.length, 64);
          assert.equal(
            h.counts.reduce((a, b) => a + b, 0),
            rows * cols,
          );
        }
        assert.equal(m.weightHist.min, minOf(w));
        assert.equal(m.weightHist.max, maxOf(w));
        // The reconstruction on the weights' bins, binned here directly (values outside the
        // weights' range go to the end bins).
        assert.equal(m.dequantHist.min, m.weightHist.min);
        assert.equal(m.dequantHist.max, m.weightHist.max);
        const direct = new Array(64).fill(0);
        const scale = 64 / (m.weightHist.max - m.weightHist.min);
        for (const q of r.dequant) direct[Math.min(63, Math.max(0, Math.floor((q - m.weightHist.min) * scale)))]++;
        assert.deepEqual(m.dequantHist.counts, direct);
      }
    });

    it('an exact reconstruction reports infinite SQNR, zero error, cosine 1', () => {
      const w = new Float32Array([1, -0.5, 0.25, 448, -3, 0, 2 ** -6, 96]); // e4m3 values, absmax 448
      const r = addon.quantize(w, 1, 8, { format: 'fp8_e4m3', scale: 'f32', group: 8 });
      sameBits(r.dequant, w, 'fp8 exact');
      assert.equal(r.metrics.sqnrDb, Infinity);
      assert.equal(r.metrics.relError, 0);
      assert.equal(r.metrics.maxAbsError, 0);
      assert.equal(r.metrics.cosine, 1);
      const z = addon.quantize(new Float32Array(12), 3, 4, { format: 'int4', symmetric: false });
      assert.deepEqual(Array.from(z.dequant), new Array(12).fill(0));
      assert.equal(z.metrics.relError, 0);
      assert.equal(z.metrics.cosine, 1);
    });
  });

  describe('outliers', () => {
    it('keeps exactly the k largest first-pass errors, exact to f16, lowering the error', () => {
      const [rows, cols, k] = [24, 200, 37];
      const w = heavyTailed(rows, cols, 21);
      for (const c of [
        { format: 'int3', group: 64 },
        { format: 'int4', symmetric: false, zero: 'int' as const },
        { format: 'ternary', group: 50 },
      ]) {
        const first = addon.quantize(w, rows, cols, c);
        const r = addon.quantize(w, rows, cols, { ...c, outliers: k, stored: true });
        assert.equal(r.outlierCount, k);
        assert.equal(r.bytes.outliers, 6 * k);
        const err = Array.from(w, (x, i) => Math.fround(Math.abs(x - first.dequant[i])));
        const order = err.map((_, i) => i).sort((a, b) => err[b] - err[a] || a - b);
        const want = order.slice(0, k).sort((a, b) => a - b);
        const s = r.stored!;
        const got = Array.from({ length: k }, (_, j) => u32(s.outliers.subarray(2 * k), j));
        assert.deepEqual(got, want, JSON.stringify(c));
        for (let j = 0; j < k; j++) {
          assert.equal(r.dequant[got[j]], addon.f16Round(w[got[j]]));
          assert.equal(f16Value(u16(s.outliers, j)), addon.f16Round(w[got[j]]));
        }
        assert.ok(r.metrics.relError < first.metrics.relError, JSON.stringify(c));
      }
    });

    it('ties break by index; all weights may be outliers', () => {
      const w = new Float32Array([2, -2, 2, -2, 2, 2]); // binary is exact here: all errors tie at 0
      const r = addon.quantize(w, 1, 6, { format: 'binary', group: 6, outliers: 2, stored: true });
      assert.deepEqual([u32(r.stored!.outliers.subarray(4), 0), u32(r.stored!.outliers.subarray(4), 1)], [0, 1]);
      const all = addon.quantize(w, 2, 3, { format: 'int2', outliers: 6 });
      sameBits(all.dequant, new Float32Array(Array.from(w, addon.f16Round)), 'all outliers');
    });
  });

  describe('low rank', () => {
    it('lowers the error; more rank lowers it further; LQ-LoRA iterations do not hurt', () => {
      const [rows, cols] = [48, 128];
      const w = heavyTailed(rows, cols, 31);
      const e = (c: Partial<Config>) =>
        addon.quantize(w, rows, cols, { format: 'int2', symmetric: false, ...c }).metrics.relError;
      const e0 = e({}),
        e4 = e({ lowrank: 4 }),
        e16 = e({ lowrank: 16 }),
        e16x3 = e({ lowrank: 16, lowrankIters: 3 });
      assert.ok(e4 < e0, `${e4} vs ${e0}`);
      assert.ok(e16 < e4, `${e16} vs ${e4}`);
      assert.ok(e16x3 <= e16 * 1.02, `${e16x3} vs ${e16}`);
    });

    it('with rank >= min(m, n) the correction is exact up to f16 rounding', () => {
      for (const [rows, cols, rank] of [
        [3, 5, 9],
        [8, 40, 8],
        [40, 6, 6],
      ]) {
        const w = heavyTailed(rows, cols, rows + cols);
        const base = addon.quantize(w, rows, cols, { format: 'int2' }).metrics.relError;
        const r = addon.quantize(w, rows, cols, { format: 'int2', lowrank: rank });
        assert.equal(r.bytes.lowrank, 2 * rank * (rows + cols));
        assert.ok(r.metrics.relError < 2e-3 * base, `${rows}x${cols} rank ${rank}: ${r.metrics.relError} vs ${base}`);
      }
    });

    it('is deterministic for a seed', () => {
      const w = heavyTailed(16, 64, 41);
      const a = addon.quantize(w, 16, 64, { format: 'int3', lowrank: 3, seed: 5, threads: 1 });
      const b = addon.quantize(w, 16, 64, { format: 'int3', lowrank: 3, seed: 5, threads: 2 });
      sameBits(a.dequant, b.dequant, 'same seed');
    });
  });

  describe('rotation', () => {
    it('int4 + hadamard beats int4 on heavy-tailed weights with outlier columns', () => {
      const [rows, cols] = [64, 1024];
      const w = heavyTailed(rows, cols, 51, 5, 8);
      for (const symmetric of [true, false]) {
        const plain = addon.quantize(w, rows, cols, { format: 'int4', symmetric });
        const rot = addon.quantize(w, rows, cols, { format: 'int4', symmetric, rotate: 'hadamard', seed: 1 });
        assert.ok(
          rot.metrics.relError < plain.metrics.relError,
          `${rot.metrics.relError} vs ${plain.metrics.relError}`,
        );
        assert.ok(Math.abs(relError(w, rot.dequant) - rot.metrics.relError) < 1e-12);
      }
    });

    it('is orthogonal: a fine grid reconstructs the original basis closely, for any width', () => {
      for (const [rows, cols] of [
        [4, 256],
        [4, 96],
        [4, 7],
      ] as Array<[number, number]>) {
        const w = gaussian(rows * cols, cols);
        const r = addon.quantize(w, rows, cols, { format: 'int8', scale: 'f32', rotate: 'hadamard', seed: 9 });
        const p = addon.quantize(w, rows, cols, { format: 'int8', scale: 'f32' });
        assert.ok(r.metrics.relError < 2 * p.metrics.relError + 1e-6, `${cols}: ${r.metrics.relError}`);
        assert.ok(r.metrics.cosine > 0.9999);
      }
    });

    it('different seeds give different rotations', () => {
      const w = gaussian(4 * 64, 3);
      const a = addon.quantize(w, 4, 64, { format: 'int3', rotate: 'hadamard', seed: 1 });
      const b = addon.quantize(w, 4, 64, { format: 'int3', rotate: 'hadamard', seed: 2n });
      assert.notDeepEqual(Array.from(a.dequant), Array.from(b.dequant));
    });
  });

  describe('thread pool', () => {
    it('covers [0, n) exactly once in contiguous chunks, runs nested loops inline, rethrows', () => {
      for (const [threads, n] of [
        [1, 10],
        [2, 1000],
        [3, 7],
        [4, 100000],
        [2, 1],
      ]) {
        const r = addon.poolSelfTest(threads, n);
        assert.equal(r.size, threads);
        assert.ok(r.eachIndexOnce, `${threads} threads, n = ${n}`);
        assert.ok(r.chunks >= 1 && r.chunks <= Math.max(1, Math.min(n, 4 * threads)), `chunks ${r.chunks}`);
        assert.ok(r.threadsUsed >= 1 && r.threadsUsed <= threads);
        assert.equal(r.nestedIndices, 3 * r.chunks);
        assert.equal(r.error, 'chunk failed');
      }
    });
  });

  describe('validation', () => {
    const w = gaussian(12, 1);
    it('rejects NaN and Inf weights, naming the first', () => {
      for (const c of [
        { format: 'int4' },
        { format: 'int4', reference: true },
        { format: 'int4', groupKind: 'tensor' as const },
        { format: 'nvfp4' },
        { format: 'ternary' },
        { format: 'int4', rotate: 'hadamard' as const },
        { format: 'int4', outliers: 2 },
        { format: 'int4', lowrank: 1 },
      ]) {
        const bad = new Float32Array(w);
        bad[6] = NaN;
        bad[10] = Infinity;
        assert.throws(
          () => addon.quantize(bad, 3, 4, c),
          (e: Error) => e instanceof RangeError && /\[1, 2\].*NaN/.test(e.message),
        );
        const inf = new Float32Array(w);
        inf[3] = -Infinity;
        assert.throws(() => addon.quantize(inf, 3, 4, c), /non-finite weight: element \[0, 3\].*-Infinity/);
      }
      const big = gaussian(64 * 4096, 2);
      big[40 * 4096 + 17] = NaN;
      big[50 * 4096] = NaN;
      assert.throws(() => addon.quantize(big, 64, 4096, { format: 'int4', threads: 2 }), /\[40, 17\]/);
    });

    it('rejects bad arguments with TypeError / RangeError', () => {
      const q = (data: unknown, rows: unknown, cols: unknown, c: unknown) =>
        (addon.quantize as unknown as (...a: unknown[]) => Result)(data, rows, cols, c);
      assert.throws(() => q([1, 2], 1, 2, { format: 'int4' }), TypeError);
      assert.throws(() => q(new Float64Array(2), 1, 2, { format: 'int4' }), /Float32Array/);
      assert.throws(
        () => q(w, 3, 5, { format: 'int4' }),
        (e: Error) => e instanceof RangeError && /data\.length \(12\) != rows\*cols \(3\*5 = 15\)/.test(e.message),
      );
      assert.throws(() => q(w, 3.5, 4, { format: 'int4' }), RangeError);
      assert.throws(() => q(w, 0, 4, { format: 'int4' }), RangeError);
      assert.throws(() => q(w, 3, 4, null), TypeError);
      assert.throws(() => q(w, 3, 4, {}), /format is required/);
      assert.throws(() => q(w, 3, 4, { format: 'int9' }), /unknown format 'int9'/);
      assert.throws(
        () => q(w, 3, 4, { format: 'q4_k' }),
        (e: Error) =>
          e instanceof RangeError && /q4_k stores rows in blocks of 256 weights: a row of 4 /.test(e.message),
      );
      assert.throws(() => q(w, 3, 4, { format: 'int4', grop: 32 }), /unknown key 'grop'/);
      assert.throws(() => q(w, 3, 4, { format: 'int4', group: 0 }), RangeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', groupKind: 'row' }), /groupKind must be one of/);
      assert.throws(() => q(w, 3, 4, { format: 'int4', scale: 'fp16' }), RangeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', symmetric: 'yes' }), TypeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', outliers: 13 }), RangeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', lowrankIters: 0 }), RangeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', threads: 0 }), RangeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', seed: -1 }), RangeError);
      assert.throws(() => q(w, 3, 4, { format: 'int4', out: new Float32Array(5) }), /out\.length/);
      assert.throws(() => q(w, 3, 4, { format: 'int4', out: w }), /overlap/);
    });

    it('writes into a caller buffer and can skip the metrics', () => {
      const out = new Float32Array(12);
      const r = addon.quantize(w, 3, 4, { format: 'int4', out, metrics: false });
      assert.equal(r.dequant, out);
      assert.equal(r.metrics, null);
      sameBits(out, addon.quantize(w, 3, 4, { format: 'int4' }).dequant, 'out');
    });
  });
});
