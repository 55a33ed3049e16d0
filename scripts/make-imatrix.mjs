// Writes a llama.cpp importance matrix (what llama-imatrix computes: the mean of x^2 per
// input column of every blk.* linear weight) for a Llama-family model, from sequences the
// model samples itself, with Bitsmith's forward pass (the diagonals of its Hessians X^T X).
// Entry names are llama.cpp's, through the table output gguf uses (core/src/export/gguf.ts).
//
//   node scripts/make-imatrix.mjs MODEL OUT [--gguf] [--samples 16] [--length 128] [--seed 0]
//
// Legacy .dat (default) stores mean * ncall with ncall = ceil(tokens / length), as
// llama-imatrix does with its chunk size; --gguf writes general.type = "imatrix" with
// <name>.in_sum2 (the sums) and <name>.counts (the tokens). examples/stories260K.imatrix
// is this script's output for the bundled model (examples/imatrix.quant reads it).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
require(path.join(here, '..', 'test', 'register.js')); // loads the TypeScript table
const { ggufTensorName } = require(path.join(here, '..', 'core', 'src', 'export', 'gguf.ts'));
const addon = require(path.join(here, '..', 'native'));

const args = process.argv.slice(2);
const option = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const [model, out] = args.filter(
  (a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--') && args[i - 1] !== '--gguf'),
);
if (!model || !out) {
  process.stderr.write(
    'usage: node scripts/make-imatrix.mjs MODEL OUT [--gguf] [--samples 16] [--length 128] [--seed 0]\n',
  );
  process.exit(2);
}
const length = option('length', 128);
const seqs = addon.forward.sequences(model, {
  kind: 'generated',
  samples: option('samples', 16),
  length,
  seed: option('seed', 0),
});
const entries = [];
for (const h of addon.forward.calibrate(model, seqs)) {
  const sums = new Float32Array(h.n);
  for (let j = 0; j < h.n; j++) sums[j] = h.h[j * h.n + j];
  for (const t of h.tensors) {
    const name = ggufTensorName(t);
    if (!name) throw new Error(`${t}: no llama.cpp name`);
    entries.push({ name, sums, tokens: h.tokens });
  }
}
entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

const i32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
let bytes;
if (!args.includes('--gguf')) {
  const parts = [i32(entries.length)];
  for (const e of entries) {
    const ncall = Math.ceil(e.tokens / length);
    const v = Float32Array.from(e.sums, (s) => (s / e.tokens) * ncall);
    parts.push(i32(Buffer.byteLength(e.name)), Buffer.from(e.name), i32(ncall), i32(v.length), Buffer.from(v.buffer));
  }
  parts.push(i32(seqs.length), i32(0)); // chunks, empty dataset name
  bytes = Buffer.concat(parts);
} else {
  const str = (s) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const tensors = entries.flatMap((e) => [
    { name: `${e.name}.in_sum2`, ne: [e.sums.length, 1], data: Buffer.from(e.sums.buffer.slice(0)) },
    { name: `${e.name}.counts`, ne: [1, 1], data: Buffer.from(new Float32Array([e.tokens]).buffer) },
  ]);
  const pad = (n) => Math.ceil(n / 32) * 32;
  const head = [Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(1), str('general.type'), u32(8), str('imatrix')];
  let off = 0;
  for (const t of tensors) {
    head.push(str(t.name), u32(2), u64(t.ne[0]), u64(t.ne[1]), u32(0), u64(off));
    off = pad(off + t.data.length);
  }
  const h = Buffer.concat(head);
  bytes = Buffer.concat([
    h,
    Buffer.alloc(pad(h.length) - h.length),
    ...tensors.flatMap((t) => [t.data, Buffer.alloc(pad(t.data.length) - t.data.length)]),
  ]);
}
fs.writeFileSync(out, bytes);
process.stderr.write(
  `${out}: ${entries.length} entries from ${seqs.length} generated sequences (${args.includes('--gguf') ? 'GGUF' : 'legacy .dat'}, ${bytes.length} bytes)\n`,
);
