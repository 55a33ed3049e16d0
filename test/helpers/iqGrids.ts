// The i-quants' grid points as a decoder reads them: one block per point, d = 1, the point
// as group 0 of sub-block 0 (scale 0), decoded and divided by that group's scale. For the
// independent test decoder (ggmlDecode.ts setIqGrids), whose grids are data, checked
// against ggml's tables by hash in ggml-iq.test.ts.
import { BLOCK } from './ggmlDecode';

type Decode = (type: string, bytes: Uint8Array, rows: number, cols: number) => Float32Array;

const SIZE: Record<string, number> = { iq2_xxs: 256, iq2_xs: 512, iq2_s: 1024, iq3_xxs: 256, iq3_s: 512, iq1_s: 2048 };

export function readIqGrid(decode: Decode, type: string): number[][] {
  const pts: number[][] = [];
  for (let p = 0; p < SIZE[type]; p++) {
    const b = new Uint8Array(BLOCK[type][1]);
    b[1] = 0x3c; // d = 1
    let db = 1; // the group's scale at s = 0
    switch (type) {
      case 'iq2_xxs':
        b[2] = p;
        db = 0.125;
        break;
      case 'iq2_xs':
        b[2] = p & 255;
        b[3] = p >> 8;
        db = 0.125;
        break;
      case 'iq2_s':
        b[2] = p & 255;
        b[66] = p >> 8;
        db = 0.125;
        break;
      case 'iq3_xxs':
        b[2] = p;
        db = 0.25;
        break;
      case 'iq3_s':
        b[2] = p & 255;
        b[66] = p >> 8;
        break;
      case 'iq1_s':
        b[2] = p & 255;
        b[34] = p >> 8; // qh[0] bits 0..2; delta +1/8
        break;
    }
    const dim = type.startsWith('iq3') ? 4 : 8;
    const y = decode(type, b, 1, 256).subarray(0, dim);
    pts.push(Array.from(y, (v) => (type === 'iq1_s' ? Math.round(v / db - 0.125) & 255 : Math.round(v / db))));
  }
  return pts;
}

/** Every grid (iq1_m shares iq1_s's). */
export function readIqGrids(decode: Decode): Record<string, number[][]> {
  const out: Record<string, number[][]> = {};
  for (const t of Object.keys(SIZE)) out[t] = readIqGrid(decode, t);
  return out;
}
