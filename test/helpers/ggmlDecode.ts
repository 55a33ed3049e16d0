// An independent decoder of the ggml block layouts, written from the public layouts (ggml-common.h
// block structs, native/src/quant/ggml/blocks.h's description), for tests to check the addon's
// decoders and GGUF source reading against. Shares no code with native/src.
const f = Math.fround;
export function half(b: Uint8Array, o: number): number {
  const h = b[o] | (b[o + 1] << 8);
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31,
    m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
const IQ4 = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
const int8 = (v: number) => (v > 127 ? v - 256 : v);
/** The 4-bit code of element i (0..31) of a q4_0-style 16-byte run at o. */
const nib = (b: Uint8Array, o: number, i: number) => (i < 16 ? b[o + i] & 15 : b[o + i - 16] >> 4);
function k4ScaleMin(b: Uint8Array, o: number, j: number): [number, number] {
  if (j < 4) return [b[o + j] & 63, b[o + j + 4] & 63];
  return [(b[o + j + 4] & 15) | ((b[o + j - 4] >> 6) << 4), (b[o + j + 4] >> 4) | ((b[o + j] >> 6) << 4)];
}

/** The i-quants' grid points (bytes of each point, as ggml-common.h's tables), by type. */
export type IqGrids = Readonly<Record<string, readonly (readonly number[])[]>>;
let iqGrids: IqGrids | undefined;
/** The grids decodeTs reads the i-quants with (the tests take them from ggml's tables). */
export function setIqGrids(g: IqGrids): void {
  iqGrids = g;
}
function grid(type: string): readonly (readonly number[])[] {
  const g = iqGrids?.[type === 'iq1_m' ? 'iq1_s' : type];
  if (!g) throw new Error(`no grid for ${type}: call setIqGrids first`);
  return g;
}
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
/** 7 stored sign bits and the 8th for an even count of negatives. */
const signs7 = (s: number) => {
  let p = 0;
  for (let i = 0; i < 7; i++) p ^= (s >> i) & 1;
  return (s & 127) | (p << 7);
};
const sgn = (signs: number, i: number) => ((signs >> i) & 1 ? -1 : 1);
/** tq1_0: trit n (0 = most significant) of a byte, ggml's fixed-point read. */
const trit = (byte: number, n: number) => (((byte * 3 ** n) & 255) * 3) >> 8;

function decodeBlock(type: string, b: Uint8Array, o: number, y: Float32Array, yo: number): void {
  switch (type) {
    case 'iq2_xxs': {
      const d = half(b, o);
      for (let j = 0; j < 8; j++) {
        const ss = u32(b, o + 2 + 8 * j + 4);
        const db = f(f(d * (0.5 + (ss >>> 28))) * 0.25);
        for (let l = 0; l < 4; l++) {
          const pt = grid(type)[b[o + 2 + 8 * j + l]];
          const sg = signs7((ss >>> (7 * l)) & 127);
          for (let i = 0; i < 8; i++) y[yo + 32 * j + 8 * l + i] = f(f(db * pt[i]) * sgn(sg, i));
        }
      }
      return;
    }
    case 'iq2_xs':
    case 'iq2_s': {
      const d = half(b, o);
      const sOff = type === 'iq2_xs' ? o + 66 : o + 74;
      for (let g = 0; g < 32; g++) {
        const s = (b[sOff + (g >> 2)] >> (4 * ((g >> 1) & 1))) & 15;
        const db = f(f(d * (0.5 + s)) * 0.25);
        let pt: readonly number[], sg: number;
        if (type === 'iq2_xs') {
          const q = b[o + 2 + 2 * g] | (b[o + 3 + 2 * g] << 8);
          pt = grid(type)[q & 511];
          sg = signs7(q >> 9);
        } else {
          pt = grid(type)[b[o + 2 + g] | (((b[o + 66 + (g >> 2)] >> (2 * (g & 3))) & 3) << 8)];
          sg = b[o + 34 + g];
        }
        for (let i = 0; i < 8; i++) y[yo + 8 * g + i] = f(f(db * pt[i]) * sgn(sg, i));
      }
      return;
    }
    case 'iq3_xxs': {
      const d = half(b, o);
      for (let j = 0; j < 8; j++) {
        const ss = u32(b, o + 2 + 64 + 4 * j);
        const db = f(f(d * (0.5 + (ss >>> 28))) * 0.5);
        for (let l = 0; l < 4; l++) {
          const sg = signs7((ss >>> (7 * l)) & 127);
          for (let i = 0; i < 8; i++) {
            const pt = grid(type)[b[o + 2 + 8 * j + 2 * l + (i >> 2)]];
            y[yo + 32 * j + 8 * l + i] = f(f(db * pt[i & 3]) * sgn(sg, i));
          }
        }
      }
      return;
    }
    case 'iq3_s': {
      const d = half(b, o);
      for (let j = 0; j < 8; j++) {
        const db = f(d * (1 + 2 * ((b[o + 106 + (j >> 1)] >> (4 * (j & 1))) & 15)));
        for (let i = 0; i < 32; i++) {
          const k = 8 * j + (i >> 2);
          const pt = grid(type)[b[o + 2 + k] | (((b[o + 66 + (k >> 3)] >> (k & 7)) & 1) << 8)];
          const sg = b[o + 74 + 4 * j + (i >> 3)];
          y[yo + 32 * j + i] = f(f(db * pt[i & 3]) * sgn(sg, i & 7));
        }
      }
      return;
    }
    case 'iq1_s': {
      const d = half(b, o);
      for (let j = 0; j < 8; j++) {
        const qh = b[o + 34 + 2 * j] | (b[o + 35 + 2 * j] << 8);
        const dl = f(d * (2 * ((qh >> 12) & 7) + 1));
        const delta = qh & 0x8000 ? -0.125 : 0.125;
        for (let l = 0; l < 4; l++) {
          const pt = grid(type)[b[o + 2 + 4 * j + l] | (((qh >> (3 * l)) & 7) << 8)];
          for (let i = 0; i < 8; i++) y[yo + 32 * j + 8 * l + i] = f(dl * f(int8(pt[i]) + delta));
        }
      }
      return;
    }
    case 'iq1_m': {
      const sc = [0, 1, 2, 3].map((k) => b[o + 48 + 2 * k] | (b[o + 49 + 2 * k] << 8));
      const dBits = (sc[0] >> 12) | ((sc[1] >> 8) & 0xf0) | ((sc[2] >> 4) & 0xf00) | (sc[3] & 0xf000);
      const d = half(new Uint8Array([dBits & 255, dBits >> 8]), 0);
      for (let g = 0; g < 32; g++) {
        const h = g >> 1;
        const dl = f(d * (2 * ((sc[h >> 2] >> (3 * (h & 3))) & 7) + 1));
        const nib = (b[o + 32 + (g >> 1)] >> (4 * (g & 1))) & 15;
        const delta = nib & 8 ? -0.125 : 0.125;
        const pt = grid(type)[b[o + g] | ((nib & 7) << 8)];
        for (let i = 0; i < 8; i++) y[yo + 8 * g + i] = f(dl * f(int8(pt[i]) + delta));
      }
      return;
    }
    case 'tq1_0': {
      const d = half(b, o + 52);
      for (let e = 0; e < 256; e++) {
        const [byte, n] =
          e < 160
            ? [e % 32, Math.floor(e / 32)]
            : e < 240
              ? [32 + ((e - 160) % 16), Math.floor((e - 160) / 16)]
              : [48 + ((e - 240) % 4), Math.floor((e - 240) / 4)];
        y[yo + e] = f((trit(b[o + byte], n) - 1) * d);
      }
      return;
    }
    case 'tq2_0': {
      const d = half(b, o + 64);
      for (let e = 0; e < 256; e++)
        y[yo + e] = f((((b[o + 32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3) - 1) * d);
      return;
    }
    case 'q8_0': {
      const d = half(b, o);
      for (let i = 0; i < 32; i++) y[yo + i] = f(d * int8(b[o + 2 + i]));
      return;
    }
    case 'q4_0': {
      const d = half(b, o);
      for (let i = 0; i < 32; i++) y[yo + i] = f(d * (nib(b, o + 2, i) - 8));
      return;
    }
    case 'iq4_nl': {
      const d = half(b, o);
      for (let i = 0; i < 32; i++) y[yo + i] = f(d * IQ4[nib(b, o + 2, i)]);
      return;
    }
    case 'q4_1': {
      const d = half(b, o),
        m = half(b, o + 2);
      for (let i = 0; i < 32; i++) y[yo + i] = f(f(d * nib(b, o + 4, i)) + m);
      return;
    }
    case 'q5_0':
    case 'q5_1': {
      const one = type === 'q5_1';
      const d = half(b, o),
        m = one ? half(b, o + 2) : 0;
      const h = one ? o + 4 : o + 2;
      const qh = (b[h] | (b[h + 1] << 8) | (b[h + 2] << 16) | (b[h + 3] << 24)) >>> 0;
      for (let i = 0; i < 32; i++) {
        const q = nib(b, h + 4, i) | (((qh >>> i) & 1) << 4);
        y[yo + i] = one ? f(f(d * q) + m) : f(d * (q - 16));
      }
      return;
    }
    case 'q2_k': {
      const d = half(b, o + 80),
        dmin = half(b, o + 82);
      for (let e = 0; e < 256; e++) {
        const sc = b[o + (e >> 4)];
        const q = (b[o + 16 + 32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
        y[yo + e] = f(f(f(d * (sc & 15)) * q) - f(dmin * (sc >> 4)));
      }
      return;
    }
    case 'q3_k': {
      const d = half(b, o + 108);
      const s = o + 96;
      for (let e = 0; e < 256; e++) {
        const j = e >> 4;
        const low4 = j < 8 ? b[s + j] & 15 : b[s + j - 8] >> 4;
        const sc = (low4 | (((b[s + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
        const lo = (b[o + 32 + 32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
        const hi = (b[o + (e & 31)] >> (e >> 5)) & 1;
        y[yo + e] = f(f(d * sc) * (lo + 4 * hi - 4));
      }
      return;
    }
    case 'q4_k':
    case 'q5_k': {
      const five = type === 'q5_k';
      const d = half(b, o),
        dmin = half(b, o + 2);
      const qs = five ? o + 48 : o + 16;
      for (let e = 0; e < 256; e++) {
        const [sc, m] = k4ScaleMin(b, o + 4, e >> 5);
        const c = e >> 6,
          upper = (e >> 5) & 1,
          l = e & 31;
        let q = (b[qs + 32 * c + l] >> (4 * upper)) & 15;
        if (five) q |= ((b[o + 16 + l] >> (2 * c + upper)) & 1) << 4;
        y[yo + e] = f(f(f(d * sc) * q) - f(dmin * m));
      }
      return;
    }
    case 'q6_k': {
      const d = half(b, o + 208);
      for (let e = 0; e < 256; e++) {
        const h = e >> 7,
          t = (e >> 5) & 3,
          l = e & 31;
        const lo = (b[o + 64 * h + 32 * (t & 1) + l] >> (4 * (t >> 1))) & 15;
        const hi = (b[o + 128 + 32 * h + l] >> (2 * t)) & 3;
        const sc = int8(b[o + 192 + (e >> 4)]);
        y[yo + e] = f(f(d * sc) * ((lo | (hi << 4)) - 32));
      }
      return;
    }
    case 'iq4_xs': {
      const d = half(b, o);
      const sh = b[o + 2] | (b[o + 3] << 8);
      for (let j = 0; j < 8; j++) {
        const ls = ((b[o + 4 + (j >> 1)] >> (4 * (j & 1))) & 15) | (((sh >> (2 * j)) & 3) << 4);
        const dl = f(d * (ls - 32));
        for (let i = 0; i < 32; i++) y[yo + 32 * j + i] = f(dl * IQ4[nib(b, o + 8 + 16 * j, i)]);
      }
      return;
    }
    default:
      throw new Error(type);
  }
}
/** [weights, bytes] of one block per type. */
export const BLOCK: Record<string, [number, number]> = {
  q4_0: [32, 18],
  q4_1: [32, 20],
  q5_0: [32, 22],
  q5_1: [32, 24],
  q8_0: [32, 34],
  q2_k: [256, 84],
  q3_k: [256, 110],
  q4_k: [256, 144],
  q5_k: [256, 176],
  q6_k: [256, 210],
  iq4_nl: [32, 18],
  iq4_xs: [256, 136],
  iq2_xxs: [256, 66],
  iq2_xs: [256, 74],
  iq2_s: [256, 82],
  iq3_xxs: [256, 98],
  iq3_s: [256, 110],
  iq1_s: [256, 50],
  iq1_m: [256, 56],
  tq1_0: [256, 54],
  tq2_0: [256, 66],
};
/** Decodes rows x cols weights of `type` blocks (rows back to back). */
export function decodeTs(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array {
  const [bw, bb] = BLOCK[type];
  const y = new Float32Array(rows * cols);
  for (let k = 0; k < (rows * cols) / bw; k++) decodeBlock(type, bytes, k * bb, y, k * bw);
  return y;
}
