// Writes llama.cpp importance-matrix files for tests, from the layouts (independent of the
// readers under test): the legacy .dat and the GGUF (v3) format.
import * as fs from 'fs';

export interface LegacyEntry {
  name: string;
  /** As stored: mean x^2 * ncall (llama-imatrix's convention). */
  values: Float32Array | number[];
  ncall: number;
  /** Overrides the stored value count (for hostile files). */
  nval?: number;
  /** Overrides the stored name length (for hostile files). */
  nameLength?: number;
}

/** Legacy .dat; trailer false: an older file without the last chunk and dataset name. */
export function legacyImatrixBytes(
  entries: LegacyEntry[],
  trailer: { lastChunk: number; dataset: string } | false = { lastChunk: 10, dataset: 'calib.txt' },
  count = entries.length,
): Buffer {
  const parts: Buffer[] = [];
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v, 0);
    parts.push(b);
  };
  i32(count);
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    i32(e.nameLength ?? name.length);
    parts.push(name);
    i32(e.ncall);
    i32(e.nval ?? e.values.length);
    parts.push(Buffer.from(new Float32Array(e.values).buffer));
  }
  if (trailer) {
    i32(trailer.lastChunk);
    const d = Buffer.from(trailer.dataset, 'utf8');
    i32(d.length);
    parts.push(d);
  }
  return Buffer.concat(parts);
}

export interface GgufEntry {
  name: string;
  nIn: number;
  nMat: number;
  /** Sums of x^2, nMat * nIn (matrix after matrix). */
  sums: Float32Array | number[];
  counts: number[];
  /** Leave out a part (hostile files). */
  omit?: 'sums' | 'counts';
}

/** GGUF v3 imatrix: general.type (unless type is null), then per entry <name>.in_sum2 [n_in, n_mat] and <name>.counts [1, n_mat], F32. */
export function ggufImatrixBytes(entries: GgufEntry[], type: string | null = 'imatrix'): Buffer {
  const head: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v, 0);
    head.push(b);
  };
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v), 0);
    head.push(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u64(b.length);
    head.push(b);
  };
  const tensors: { name: string; ne: number[]; data: Buffer }[] = [];
  for (const e of entries) {
    if (e.omit !== 'sums')
      tensors.push({
        name: `${e.name}.in_sum2`,
        ne: [e.nIn, e.nMat],
        data: Buffer.from(new Float32Array(e.sums).buffer),
      });
    if (e.omit !== 'counts')
      tensors.push({
        name: `${e.name}.counts`,
        ne: [1, e.counts.length],
        data: Buffer.from(new Float32Array(e.counts).buffer),
      });
  }
  head.push(Buffer.from('GGUF', 'latin1'));
  u32(3);
  u64(tensors.length);
  u64(type === null ? 1 : 2);
  if (type !== null) {
    str('general.type');
    u32(8);
    str(type);
  }
  str('imatrix.chunk_count');
  u32(4);
  u32(10);
  const align = (n: number) => Math.ceil(n / 32) * 32;
  let off = 0;
  for (const t of tensors) {
    str(t.name);
    u32(t.ne.length);
    for (const d of t.ne) u64(d);
    u32(0);
    u64(off);
    off = align(off + t.data.length);
  }
  let h = Buffer.concat(head);
  h = Buffer.concat([h, Buffer.alloc(align(h.length) - h.length)]);
  const data: Buffer[] = [];
  for (const t of tensors) data.push(t.data, Buffer.alloc(align(t.data.length) - t.data.length));
  return Buffer.concat([h, ...data]);
}

export function writeFile(file: string, bytes: Buffer): string {
  fs.writeFileSync(file, bytes);
  return file;
}
