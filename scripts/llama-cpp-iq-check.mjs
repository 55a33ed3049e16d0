// Checks Bitsmith's i-quant and ternary blocks (iq1_s, iq1_m, iq2_xxs, iq2_xs, iq2_s,
// iq3_xxs, iq3_s, tq1_0, tq2_0) against llama.cpp's ggml (outside `npm test`: it needs a
// llama.cpp checkout with a built ggml). Usage:
//
//   node scripts/llama-cpp-iq-check.mjs [--llama /path/to/llama.cpp] [--lib DIR] [--rows 64] [--cols 1024]
//                                       [--bench [--bench-rows 256]] [--bench-only]
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
//   3. --bench: both quantizers on bench/ggml-bench.mjs's matrix (bench/student-t.mjs,
//      --bench-rows x 4096) and importance vector, for its LLAMA table: SQNR without imatrix,
//      importance-weighted SQNR with it, and Mweights/s on one thread (ggml_quantize_chunk,
//      Bitsmith's fast path), taking turns in the same run (--bench-only: this part alone).
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
const BENCH_ONLY = args.includes('--bench-only'); // part 3 alone
const benchRows = Number(opt('--bench-rows', '256'));
const cols = Number(opt('--cols', '1024'));
for (const f of ['libggml.so', 'libggml-base.so']) {
  if (!fs.existsSync(path.join(lib, f))) {
    console.error(
      `no ${f} in ${lib}: build ggml first (cmake -B build -S ${llama} && cmake --build build --target ggml)`,
    );
    process.exit(2);
  }
}

const TYPES = {
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
const BYTES = {
  iq2_xxs: 66,
  iq2_xs: 74,
  iq3_xxs: 98,
  iq1_s: 50,
  iq3_s: 110,
  iq2_s: 82,
  iq1_m: 56,
  tq1_0: 54,
  tq2_0: 66,
};

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
      if (t->type == GGML_TYPE_F32) memcpy(y.data(), t->data, 4 * n);
      else if (ggml_get_type_traits(t->type)->to_float) ggml_get_type_traits(t->type)->to_float(t->data, y.data(), n);
      else continue;
      std::string out = std::string(argv[3]) + "/" + name;
      FILE* f = fopen((out + ".f32").c_str(), "wb"); fwrite(y.data(), 4, n, f); fclose(f);
      f = fopen((out + ".bin").c_str(), "wb"); fwrite(t->data, 1, ggml_nbytes(t), f); fclose(f);
      printf("%s %d %lld %lld\\n", name, int(t->type), (long long)t->ne[0], (long long)t->ne[1]);
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
    printf("%.6f\\n", s);
    return 0;
  }
  fprintf(stderr, "usage\\n"); return 2;
}
`;
fs.writeFileSync(path.join(work, 'iqcheck.cpp'), cpp);
const exe = path.join(work, 'iqcheck');
const cc = spawnSync(
  process.env.CXX ?? 'c++',
  [
    '-O1',
    '-std=c++17',
    '-o',
    exe,
    path.join(work, 'iqcheck.cpp'),
    `-I${path.join(llama, 'ggml/include')}`,
    `-L${lib}`,
    '-lggml',
    '-lggml-base',
    `-Wl,-rpath,${lib}`,
  ],
  { encoding: 'utf8' },
);
if (cc.status !== 0) {
  console.error(cc.stderr);
  process.exit(2);
}
/** A file's bytes in an ArrayBuffer of their own. */
const bytesOf = (file) => {
  const b = fs.readFileSync(file);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const run = (argv) => {
  const r = spawnSync(exe, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`iqcheck ${argv[0]}: ${r.stderr}`);
  return r.stdout;
};
/** llama.cpp's blocks for x (imatrix: null for none) and the seconds ggml_quantize_chunk took. */
function llamaQuantize(id, x, r, c, imatrix) {
  fs.writeFileSync(path.join(work, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  if (imatrix)
    fs.writeFileSync(
      path.join(work, 'imatrix.f32'),
      Buffer.from(imatrix.buffer, imatrix.byteOffset, imatrix.byteLength),
    );
  const q = path.join(work, 'q.bin');
  const out = run([
    'quantize',
    String(id),
    String(r),
    String(c),
    path.join(work, 'x.f32'),
    imatrix ? path.join(work, 'imatrix.f32') : 'none',
    q,
  ]);
  return { bytes: bytesOf(q), seconds: Number(out.trim()) };
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
let mismatches = 0;
if (!BENCH_ONLY) {
  // ---- 1. decoding ----
  const tensors = [];
  for (const [type, id] of Object.entries(TYPES)) {
    const data = sets['student-t, hot columns'];
    tensors.push({
      name: `${type}.ref`,
      type: id,
      rows,
      cols,
      data: addon.ggmlEncode(type, data, rows, cols, { reference: true }),
    });
    tensors.push({
      name: `${type}.fast.imp`,
      type: id,
      rows,
      cols,
      data: addon.ggmlEncode(type, data, rows, cols, { importance, threads: 2 }),
    });
    const random = new Uint8Array((rows * cols * BYTES[type]) / 256).map(() => Math.floor(rnd() * 256));
    tensors.push({ name: `${type}.random`, type: id, rows, cols, data: random });
    // llama.cpp's own encoding of the Gaussian set (with the importance vector as imatrix).
    tensors.push({
      name: `${type}.llama`,
      type: id,
      rows,
      cols,
      data: llamaQuantize(id, sets.gaussian, rows, cols, importance).bytes,
    });
  }
  const ggufPath = path.join(work, 'bitsmith.gguf');
  fs.writeFileSync(ggufPath, gguf(tensors));
  const outDir = path.join(work, 'decoded');
  fs.mkdirSync(outDir);
  run(['decode', ggufPath, outDir]);
  console.log(`decoding (${rows} x ${cols} per tensor; ggml's to_float against Bitsmith's decoder, bit for bit):`);
  for (const t of tensors) {
    const theirs = new Uint32Array(bytesOf(path.join(outDir, `${t.name}.f32`)).buffer);
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

  // ---- 1b. `bitsmith run` with output gguf: a synthetic Llama, every new type on some
  // tensor (rtn and gptq, calibration generated), the GGUF read and decoded by ggml ----
  {
    const model = path.join(work, 'synthetic');
    const gen = spawnSync(
      process.execPath,
      [
        path.join(root, 'bench/make-synthetic-model.mjs'),
        ...['--out', model, '--quiet', '--dtype', 'f32', '--tied', '--dim', '256', '--hidden', '512'],
        ...['--layers', '2', '--heads', '4', '--kv-heads', '2', '--vocab', '512', '--seed', '7'],
      ],
      { encoding: 'utf8' },
    );
    if (gen.status !== 0) throw new Error(gen.stderr);
    const recipe = path.join(work, 'iq.quant');
    const rules = [
      ['model.layers.0.self_attn.q_proj', 'iq2_xxs'],
      ['model.layers.0.self_attn.k_proj', 'iq2_xs'],
      ['model.layers.0.self_attn.v_proj', 'iq2_s'],
      ['model.layers.0.self_attn.o_proj', 'iq3_xxs'],
      ['model.layers.0.mlp.gate_proj', 'iq3_s'],
      ['model.layers.0.mlp.up_proj', 'iq1_s'],
      ['model.layers.0.mlp.down_proj', 'iq1_m'],
      ['model.layers.1.self_attn.q_proj', 'tq1_0'],
      ['model.layers.1.self_attn.k_proj', 'tq2_0'],
      ['model.layers.1.mlp.gate_proj', 'iq2_xxs; method gptq'],
      ['model.layers.1.mlp.up_proj', 'iq1_m; method gptq'],
      ['model.layers.1.mlp.down_proj', 'iq3_xxs; method gptq'],
    ];
    fs.writeFileSync(
      recipe,
      `recipe "i-quants"\nmodel "synthetic"\ncalibration generated samples 4 length 64 seed 0\ndefaults { format iq3_s }\n` +
        rules.map(([m, f]) => `match "${m}" { format ${f} }`).join('\n') +
        `\noutput gguf "iq.gguf"\noutput fake "iq.safetensors"\n`,
    );
    const r = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'run', recipe, '--report-dir', work], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new Error(`bitsmith run: ${r.stdout}\n${r.stderr}`);
    const dir = path.join(work, 'run-decoded');
    fs.mkdirSync(dir);
    const listing = run(['decode', path.join(work, 'iq.gguf'), dir])
      .trim()
      .split('\n');
    const name = Object.fromEntries(Object.entries(TYPES).map(([k, v]) => [v, k]));
    // output fake's values by GGUF name (q / k rows are permuted into llama.cpp's rotary order).
    const fake = path.join(work, 'iq.safetensors');
    const buf = fs.readFileSync(fake);
    const hlen = Number(buf.readBigUInt64LE(0));
    const head = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
    const hfName = (g) => {
      const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(g);
      const map = {
        attn_q: 'self_attn.q_proj',
        attn_k: 'self_attn.k_proj',
        attn_v: 'self_attn.v_proj',
        attn_output: 'self_attn.o_proj',
        ffn_gate: 'mlp.gate_proj',
        ffn_up: 'mlp.up_proj',
        ffn_down: 'mlp.down_proj',
      };
      if (m && map[m[2]]) return [`model.layers.${m[1]}.${map[m[2]]}.weight`, m[2]];
      return g === 'token_embd.weight' ? ['model.embed_tokens.weight', ''] : [undefined, ''];
    };
    let checked = 0;
    console.log("\n`bitsmith run` output gguf, decoded by ggml (against Bitsmith's decoder and output fake):");
    for (const line of listing) {
      const [g, id, ne0, ne1] = line.split(' ');
      const type = name[Number(id)];
      if (!type) continue;
      const theirs = new Float32Array(bytesOf(path.join(dir, `${g}.f32`)).buffer);
      const ours = addon.ggmlDecode(type, bytesOf(path.join(dir, `${g}.bin`)), Number(ne1), Number(ne0));
      const [hf, kind] = hfName(g);
      const e = hf && head[hf];
      const fakeVals = e
        ? new Float32Array(
            buf.buffer.slice(
              buf.byteOffset + 8 + hlen + e.data_offsets[0],
              buf.byteOffset + 8 + hlen + e.data_offsets[1],
            ),
          )
        : undefined;
      const cols = Number(ne0);
      const heads = kind === 'attn_q' ? cfg.num_attention_heads : kind === 'attn_k' ? cfg.num_key_value_heads : 0;
      const hd = heads ? Number(ne1) / heads : 0;
      // GGUF row h*hd + 2i + j holds Hugging Face row h*hd + j*hd/2 + i.
      const srcRow = (row) =>
        heads ? Math.floor(row / hd) * hd + (row % 2) * (hd / 2) + Math.floor((row % hd) / 2) : row;
      let bad = 0,
        badFake = 0;
      for (let i = 0; i < theirs.length; i++) {
        if (!Object.is(theirs[i], ours[i]) && !(theirs[i] === 0 && ours[i] === 0)) bad++;
        if (fakeVals) {
          const row = Math.floor(i / cols);
          if (fakeVals[srcRow(row) * cols + (i % cols)] !== theirs[i]) badFake++;
        }
      }
      mismatches += bad + badFake;
      checked++;
      console.log(
        `  ${g.padEnd(24)} ${type.padEnd(8)} ${bad === 0 ? 'ggml == bitsmith' : `${bad} values differ`}; ${fakeVals ? (badFake === 0 ? 'output fake equal' : `${badFake} differ from output fake`) : 'no output fake tensor'}`,
      );
    }
    const used = new Set(listing.map((l) => name[Number(l.split(' ')[1])]).filter(Boolean));
    for (const t of Object.keys(TYPES))
      if (!used.has(t)) {
        console.log(`  no ${t} tensor in the GGUF`);
        mismatches++;
      }
    if (!checked) mismatches++;
  }

  // ---- 2. quality ----
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
}

// ---- 3. llama.cpp's figures on the benchmark matrix ----
if (BENCH) {
  const { makeData, makeImportance } = await import(path.join(root, 'bench/student-t.mjs'));
  const bc = 4096;
  const x = makeData(benchRows, bc);
  const imp = makeImportance(bc);
  const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  console.log(
    `\nOn bench/ggml-bench.mjs's matrix (${benchRows} x ${bc}) and importance: SQNR dB without an imatrix, importance-weighted` +
      `\nSQNR dB with it, Mweights/s on one thread with it (median of 3, the two encoders taking turns; bitsmith: the fast path)`,
  );
  console.log(
    `  ${'type'.padEnd(8)} ${'SQNR llama.cpp'.padStart(14)} ${'bitsmith'.padStart(9)} ${'imp. llama.cpp'.padStart(15)} ${'bitsmith'.padStart(9)} ${'Mw/s llama.cpp'.padStart(15)} ${'bitsmith'.padStart(9)} ${'ratio'.padStart(6)}`,
  );
  for (const t of addon.ggmlTypes()) {
    const q0 = NEEDS_IMATRIX.has(t.name) ? null : llamaQuantize(t.ggmlId, x, benchRows, bc, null);
    const plainL = q0 ? sqnr(x, addon.ggmlDecode(t.name, q0.bytes, benchRows, bc)).toFixed(2) : '-';
    const plainB = NEEDS_IMATRIX.has(t.name)
      ? '-'
      : sqnr(x, addon.ggmlDecode(t.name, addon.ggmlEncode(t.name, x, benchRows, bc), benchRows, bc)).toFixed(2);
    const tl = [],
      tb = [];
    let ql, qb;
    for (let k = 0; k < 3; k++) {
      ql = llamaQuantize(t.ggmlId, x, benchRows, bc, imp);
      tl.push(ql.seconds);
      const t0 = process.hrtime.bigint();
      qb = addon.ggmlEncode(t.name, x, benchRows, bc, { importance: imp, threads: 1 });
      tb.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const impL = sqnr(x, addon.ggmlDecode(t.name, ql.bytes, benchRows, bc), imp).toFixed(2);
    const impB = sqnr(x, addon.ggmlDecode(t.name, qb, benchRows, bc), imp).toFixed(2);
    const rl = (benchRows * bc) / median(tl) / 1e6,
      rb = (benchRows * bc) / median(tb) / 1e6;
    console.log(
      `  ${t.name.padEnd(8)} ${plainL.padStart(14)} ${plainB.padStart(9)} ${impL.padStart(15)} ${impB.padStart(9)} ${rl.toFixed(2).padStart(15)} ${rb.toFixed(2).padStart(9)} ${(rb / rl).toFixed(2).padStart(6)}`,
    );
  }
}
fs.rmSync(work, { recursive: true, force: true });
if (mismatches) {
  console.error(`FAIL: ${mismatches} decoded values differ from ggml's`);
  process.exit(1);
}
console.log('\nOK: every block decodes in ggml exactly as in Bitsmith');
