// Checks Bitsmith's i-quant and ternary blocks (iq1_s, iq1_m, iq2_xxs, iq2_xs, iq2_s,
// iq3_xxs, iq3_s, tq1_0, tq2_0) against llama.cpp's ggml (outside `npm test`: it needs a
// llama.cpp checkout with a built ggml). Usage:
//
//   node scripts/llama-cpp-iq-check.mjs [--llama /path/to/llama.cpp] [--lib DIR] [--rows 64] [--cols 1024]
//                                       [--bench [--bench-rows 256]]
//
// --llama defaults to $LLAMA_CPP_DIR or /work/ext/llama.cpp; --lib to <llama>/build/bin (the
// folder holding libggml.so, libggml-base.so, libggml-cpu.so). A small C++ program is compiled
// at run time in a temporary folder against those headers and libraries (nothing of llama.cpp
// is kept), and:
//   1. decoding: a GGUF written here with every type's tensors encoded by Bitsmith (the
//      addon's ggmlEncode, reference and fast paths; with and without an importance vector),
//      with blocks of random bytes, and with llama.cpp's own encodings, is read by ggml's
//      gguf reader and decoded by ggml's to_float; every value must equal Bitsmith's decoder's
//      bit for bit (NaN equals NaN);
//   2. quality: the same data encoded by ggml_quantize_chunk (with the same importance vector
//      as its imatrix) and by Bitsmith; the SQNR (10 log10 sum x^2 / sum (x - x')^2) and the
//      importance-weighted SQNR (each column's terms weighted by its importance) of each, per
//      data set (Gaussian; Student-t nu = 3 with hot columns; rows of exactly ternary weights),
//      for every ggml type llama.cpp quantizes without an imatrix also without one;
//   3. --bench: llama.cpp's figures on bench/ggml-bench.mjs's matrix (bench/student-t.mjs,
//      --bench-rows x 4096) and importance vector, for its LLAMA table: SQNR without imatrix,
//      importance-weighted SQNR with it, and Mweights/s of ggml_quantize_chunk on one thread.
// Exit status 1 on any decoding mismatch.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const addon = require(path.join(root, 'native/build/Release/bitsmith.node'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const llama = opt('--llama', process.env.LLAMA_CPP_DIR ?? '/work/ext/llama.cpp');
const lib = opt('--lib', path.join(llama, 'build/bin'));
const rows = Number(opt('--rows', '64'));
const BENCH = args.includes('--bench');
const benchRows = Number(opt('--bench-rows', '256'));
const cols = Number(opt('--cols', '1024'));
for (const f of ['libggml.so', 'libggml-base.so']) {
  if (!fs.existsSync(path.join(lib, f))) {
    console.error(`no ${f} in ${lib}: build ggml first (cmake -B build -S ${llama} && cmake --build build --target ggml)`);
    process.exit(2);
  }
}

const TYPES = { iq2_xxs: 16, iq2_xs: 17, iq3_xxs: 18, iq1_s: 19, iq3_s: 21, iq2_s: 22, iq1_m: 29, tq1_0: 34, tq2_0: 35 };
const BYTES = { iq2_xxs: 66, iq2_xs: 74, iq3_xxs: 98, iq1_s: 50, iq3_s: 110, iq2_s: 82, iq1_m: 56, tq1_0: 54, tq2_0: 66 };

// ---- the C++ side: decode every tensor of a GGUF; quantize with ggml_quantize_chunk ----
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-iq-check-'));
const cpp = `
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include "ggml.h"
#include "gguf.h"
static std::vector<char> slurp(const char* p) {
  FILE* f = fopen(p, "rb"); if (!f) { perror(p); exit(1); }
  fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  std::vector<char> b(n); if (fread(b.data(), 1, n, f) != size_t(n)) exit(1); fclose(f); return b;
}
int main(int argc, char** argv) {
  if (argc >= 4 && !strcmp(argv[1], "decode")) {  // decode in.gguf outdir
    ggml_context* ctx = nullptr;
    gguf_init_params p = {false, &ctx};
    gguf_context* g = gguf_init_from_file(argv[2], p);
    if (!g) { fprintf(stderr, "gguf_init_from_file failed\\n"); return 1; }
    for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
      const char* name = gguf_get_tensor_name(g, i);
      ggml_tensor* t = ggml_get_tensor(ctx, name);
      const int64_t n = ggml_nelements(t);
      std::vector<float> y(n);
      ggml_get_type_traits(t->type)->to_float(t->data, y.data(), n);
      std::string out = std::string(argv[3]) + "/" + name + ".f32";
      FILE* f = fopen(out.c_str(), "wb"); fwrite(y.data(), 4, n, f); fclose(f);
    }
    gguf_free(g); ggml_free(ctx); return 0;
  }
  if (argc >= 8 && !strcmp(argv[1], "quantize")) {  // quantize type rows cols in.f32 imatrix|none out
    const ggml_type type = ggml_type(atoi(argv[2]));
    const int64_t rows = atoll(argv[3]), cols = atoll(argv[4]);
    std::vector<char> x = slurp(argv[5]);
    std::vector<char> im; if (strcmp(argv[6], "none")) im = slurp(argv[6]);
    std::vector<char> out(ggml_row_size(type, cols) * rows);
    ggml_quantize_init(type);
    const auto t0 = std::chrono::steady_clock::now();
    ggml_quantize_chunk(type, (const float*)x.data(), out.data(), 0, rows, cols, im.empty() ? nullptr : (const float*)im.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    FILE* f = fopen(argv[7], "wb"); fwrite(out.data(), 1, out.size(), f); fclose(f);
    printf("%.6f\n", s);
    return 0;
  }
  fprintf(stderr, "usage\\n"); return 2;
}
`;
fs.writeFileSync(path.join(work, 'iqcheck.cpp'), cpp);
const exe = path.join(work, 'iqcheck');
const cc = spawnSync(
  process.env.CXX ?? 'c++',
  ['-O1', '-std=c++17', '-o', exe, path.join(work, 'iqcheck.cpp'), `-I${path.join(llama, 'ggml/include')}`,
    `-L${lib}`, '-lggml', '-lggml-base', `-Wl,-rpath,${lib}`],
  { encoding: 'utf8' },
);
if (cc.status !== 0) {
  console.error(cc.stderr);
  process.exit(2);
}
const run = (argv) => {
  const r = spawnSync(exe, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`iqcheck ${argv[0]}: ${r.stderr}`);
  return r.stdout;
};
/** llama.cpp's blocks for x (imatrix: null for none) and the seconds ggml_quantize_chunk took. */
function llamaQuantize(id, x, r, c, imatrix) {
  fs.writeFileSync(path.join(work, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  if (imatrix) fs.writeFileSync(path.join(work, 'imatrix.f32'), Buffer.from(imatrix.buffer, imatrix.byteOffset, imatrix.byteLength));
  const q = path.join(work, 'q.bin');
  const out = run(['quantize', String(id), String(r), String(c), path.join(work, 'x.f32'), imatrix ? path.join(work, 'imatrix.f32') : 'none', q]);
  return { bytes: new Uint8Array(fs.readFileSync(q)), seconds: Number(out.trim()) };
}
// ggml_quantize_requires_imatrix, and what it quantizes without one.
const NEEDS_IMATRIX = new Set(['iq2_xxs', 'iq2_xs', 'iq1_s']);

// ---- data ----
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) + 0.5) / 4294967296;
const gauss = () => Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
const studentT = (nu) => {
  let c = 0;
  for (let i = 0; i < nu; i++) c += gauss() ** 2;
  return gauss() / Math.sqrt(c / nu);
};
const n = rows * cols;
const importance = Float32Array.from({ length: cols }, () => Math.exp(1.5 * gauss()));
const sets = {
  gaussian: Float32Array.from({ length: n }, () => 0.02 * gauss()),
  'student-t, hot columns': Float32Array.from({ length: n }, (_, i) => 0.02 * studentT(3) * (i % cols < 8 ? 6 : 1)),
  ternary: Float32Array.from({ length: n }, () => 0.03 * [-1, 0, 0, 1][Math.floor(rnd() * 4)]),
};

// ---- a GGUF v3 of named block tensors (alignment 32) ----
function gguf(tensors) {
  const parts = [];
  const u32 = (v) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const u64 = (v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    parts.push(b);
  };
  const str = (s) => {
    u64(Buffer.byteLength(s));
    parts.push(Buffer.from(s));
  };
  parts.push(Buffer.from('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(0);
  let off = 0;
  for (const t of tensors) {
    str(t.name);
    u32(2);
    u64(t.cols);
    u64(t.rows);
    u32(t.type);
    u64(off);
    off += Math.ceil(t.data.length / 32) * 32;
  }
  const head = Buffer.concat(parts);
  const pad = (len) => Buffer.alloc((32 - (len % 32)) % 32);
  const body = [head, pad(head.length)];
  for (const t of tensors) body.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.length), pad(t.data.length));
  return Buffer.concat(body);
}

// ---- 1. decoding ----
const tensors = [];
for (const [type, id] of Object.entries(TYPES)) {
  const data = sets['student-t, hot columns'];
  tensors.push({ name: `${type}.ref`, type: id, rows, cols, data: addon.ggmlEncode(type, data, rows, cols, { reference: true }) });
  tensors.push({ name: `${type}.fast.imp`, type: id, rows, cols, data: addon.ggmlEncode(type, data, rows, cols, { importance, threads: 2 }) });
  const random = new Uint8Array((rows * cols * BYTES[type]) / 256).map(() => Math.floor(rnd() * 256));
  tensors.push({ name: `${type}.random`, type: id, rows, cols, data: random });
  // llama.cpp's own encoding of the Gaussian set (with the importance vector as imatrix).
  tensors.push({ name: `${type}.llama`, type: id, rows, cols, data: llamaQuantize(id, sets.gaussian, rows, cols, importance).bytes });
}
const ggufPath = path.join(work, 'bitsmith.gguf');
fs.writeFileSync(ggufPath, gguf(tensors));
const outDir = path.join(work, 'decoded');
fs.mkdirSync(outDir);
run(['decode', ggufPath, outDir]);
let mismatches = 0;
console.log(`decoding (${rows} x ${cols} per tensor; ggml's to_float against Bitsmith's decoder, bit for bit):`);
for (const t of tensors) {
  const theirs = new Uint32Array(fs.readFileSync(path.join(outDir, `${t.name}.f32`)).buffer.slice(0));
  const ours = new Uint32Array(addon.ggmlDecode(t.name.split('.')[0], t.data, rows, cols).buffer);
  let bad = 0,
    first = -1;
  const isNaN32 = (u) => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
  for (let i = 0; i < ours.length; i++)
    if (ours[i] !== theirs[i] && !(isNaN32(ours[i]) && isNaN32(theirs[i]))) {
      bad++;
      if (first < 0) first = i;
    }
  mismatches += bad;
  console.log(`  ${t.name.padEnd(18)} ${bad === 0 ? 'identical' : `${bad} values differ (first at ${first})`}`);
}

// ---- 2. quality ----
function sqnr(x, y, imp) {
  let s = 0,
    e = 0;
  const c = imp ? imp.length : 1;
  for (let i = 0; i < x.length; i++) {
    const w = imp ? imp[i % c] : 1;
    s += w * x[i] * x[i];
    e += w * (x[i] - y[i]) ** 2;
  }
  return 10 * Math.log10(s / e);
}
console.log('\nquality: SQNR dB / importance-weighted SQNR dB, with the importance vector as imatrix, and without');
console.log(
  `  ${'type'.padEnd(8)} ${'data'.padEnd(24)} ${'llama.cpp imatrix'.padStart(17)} ${'bitsmith imatrix'.padStart(17)} ${'llama.cpp none'.padStart(15)} ${'bitsmith none'.padStart(15)}`,
);
for (const [type, id] of Object.entries(TYPES))
  for (const [name, x] of Object.entries(sets)) {
    const fmt = (y) => `${sqnr(x, y).toFixed(2).padStart(6)} / ${sqnr(x, y, importance).toFixed(2).padStart(6)}`;
    const theirs = addon.ggmlDecode(type, llamaQuantize(id, x, rows, cols, importance).bytes, rows, cols);
    const ours = addon.ggmlDecode(type, addon.ggmlEncode(type, x, rows, cols, { importance }), rows, cols);
    let none = ['-', '-'];
    if (!NEEDS_IMATRIX.has(type)) {
      const t0 = addon.ggmlDecode(type, llamaQuantize(id, x, rows, cols, null).bytes, rows, cols);
      const o0 = addon.ggmlDecode(type, addon.ggmlEncode(type, x, rows, cols), rows, cols);
      none = [sqnr(x, t0).toFixed(2), sqnr(x, o0).toFixed(2)];
    }
    console.log(
      `  ${type.padEnd(8)} ${name.padEnd(24)} ${fmt(theirs).padStart(17)} ${fmt(ours).padStart(17)} ${none[0].padStart(15)} ${none[1].padStart(15)}`,
    );
  }

// ---- 3. llama.cpp's figures on the benchmark matrix ----
if (BENCH) {
  const { makeData, makeImportance } = await import(path.join(root, 'bench/student-t.mjs'));
  const bc = 4096;
  const x = makeData(benchRows, bc);
  const imp = makeImportance(bc);
  console.log(`\nllama.cpp on bench/ggml-bench.mjs's matrix (${benchRows} x ${bc}) and importance, one thread:`);
  console.log('  type      SQNR dB (no imatrix)  imp. SQNR dB (imatrix)  Mweights/s (imatrix)');
  for (const t of addon.ggmlTypes()) {
    const q0 = NEEDS_IMATRIX.has(t.name) ? null : llamaQuantize(t.ggmlId, x, benchRows, bc, null);
    const q1 = llamaQuantize(t.ggmlId, x, benchRows, bc, imp);
    const plain = q0 ? sqnr(x, addon.ggmlDecode(t.name, q0.bytes, benchRows, bc)).toFixed(2) : '-';
    const weighted = sqnr(x, addon.ggmlDecode(t.name, q1.bytes, benchRows, bc), imp).toFixed(2);
    console.log(
      `  ${t.name.padEnd(8)} ${plain.padStart(20)} ${weighted.padStart(23)} ${((benchRows * bc) / q1.seconds / 1e6).toFixed(2).padStart(21)}`,
    );
  }
}
fs.rmSync(work, { recursive: true, force: true });
if (mismatches) {
  console.error(`FAIL: ${mismatches} decoded values differ from ggml's`);
  process.exit(1);
}
console.log('\nOK: every block decodes in ggml exactly as in Bitsmith');
