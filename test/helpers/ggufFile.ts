// A minimal GGUF v3 writer for tests (written from the public format description, no code
// shared with core/src/models/gguf.ts or native/src/io): string metadata, tensor infos,
// aligned data. Tensors carry their bytes as given, so tests can hand-make ggml blocks and
// break sizes on purpose.

import { BLOCK } from './ggmlDecode';

export interface GgufTestTensor {
  name: string;
  /** ggml order: ne[0] is the row length. */
  ne: number[];
  type: number;
  data: Buffer;
  /** Data offset relative to the data section (default: packed, aligned to 32). */
  offset?: number;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);

/** ggml type ids of the block types bitsmith reads and writes. */
export const GGML_ID: Readonly<Record<string, number>> = {
  q4_0: 2,
  q4_1: 3,
  q5_0: 6,
  q5_1: 7,
  q8_0: 8,
  q2_k: 10,
  q3_k: 11,
  q4_k: 12,
  q5_k: 13,
  q6_k: 14,
  iq4_nl: 20,
  iq4_xs: 23,
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

/** A GGUF v3 file with string key/values (general.architecture first) and the tensors. */
export function ggufFile(
  tensors: GgufTestTensor[],
  kv: Record<string, string> = { 'general.architecture': 'llama' },
): Buffer {
  const align = 32;
  const kvs = Object.entries(kv).map(([k, v]) => Buffer.concat([str(k), u32(8), str(v)]));
  const infos: Buffer[] = [];
  const datas: { at: number; data: Buffer }[] = [];
  let off = 0;
  for (const t of tensors) {
    const at = t.offset ?? off;
    infos.push(Buffer.concat([str(t.name), u32(t.ne.length), ...t.ne.map((d) => u64(d)), u32(t.type), u64(at)]));
    datas.push({ at, data: t.data });
    off = Math.ceil((at + t.data.length) / align) * align;
  }
  const head = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(kvs.length), ...kvs, ...infos]);
  const start = Math.ceil(head.length / align) * align;
  const end = datas.reduce((a, d) => Math.max(a, d.at + d.data.length), 0);
  const out = Buffer.alloc(start + end);
  head.copy(out, 0);
  for (const d of datas) d.data.copy(out, start + d.at);
  return out;
}

/** Byte offsets of the f16 scale fields (d, and m / dmin) inside one block of each type. */
const HALF_FIELDS: Readonly<Record<string, number[]>> = {
  q8_0: [0],
  q4_0: [0],
  q4_1: [0, 2],
  q5_0: [0],
  q5_1: [0, 2],
  q2_k: [80, 82],
  q3_k: [108],
  q4_k: [0, 2],
  q5_k: [0, 2],
  q6_k: [208],
  iq4_nl: [0],
  iq4_xs: [0],
  iq2_xxs: [0],
  iq2_xs: [0],
  iq2_s: [0],
  iq3_xxs: [0],
  iq3_s: [0],
  iq1_s: [0],
  iq1_m: [], // d is the top nibbles of the four u16 scale words (48..55): set below
  tq1_0: [52],
  tq2_0: [64],
};

/** `blocks` hand-made blocks of `type`: random code/sub-scale bytes, finite f16 scales in [2^-10, 2^-6). */
export function randomBlocks(type: string, blocks: number, seed: number): Buffer {
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
  const bb = BLOCK[type][1];
  const b = Buffer.alloc(blocks * bb);
  for (let i = 0; i < b.length; i++) b[i] = next();
  for (let k = 0; k < blocks; k++) {
    for (const f of HALF_FIELDS[type]) {
      // exponent 5..8 (2^-10 .. 2^-7), random mantissa and sign.
      const h = ((next() & 1) << 15) | ((5 + (next() & 3)) << 10) | ((next() << 2) & 0x3ff);
      b.writeUInt16LE(h, k * bb + f);
    }
    if (type === 'iq1_m') {
      const h = ((next() & 1) << 15) | ((5 + (next() & 3)) << 10) | ((next() << 2) & 0x3ff);
      for (let w = 0; w < 4; w++) {
        const at = k * bb + 48 + 2 * w;
        b.writeUInt16LE((b.readUInt16LE(at) & 0x0fff) | (((h >> (4 * w)) & 15) << 12), at);
      }
    }
  }
  return b;
}

/** Sets the first f16 scale of block `k` of a `type` tensor's bytes (e.g. to 0x7c00, +inf). */
export function setBlockScale(data: Buffer, type: string, k: number, half: number): void {
  data.writeUInt16LE(half, k * BLOCK[type][1] + HALF_FIELDS[type][0]);
}
