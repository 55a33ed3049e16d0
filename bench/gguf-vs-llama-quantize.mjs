// Bitsmith's GGUF against llama.cpp's own quantizer at llama.cpp's sizes, both scored by
// llama.cpp. On a trained model (bench/train-byte-llama.py: a byte-level Llama whose rows are
// 256 wide) and the same calibration text:
//   llama.cpp: llama-imatrix on calib.txt, then llama-quantize --imatrix to every type from
//              IQ1_S to Q4_K_M;
//   Bitsmith:  for each target type T (IQ2_M, IQ3_S, IQ4_XS, Q4_K_M), a recipe with
//              `budget <T's tensor bytes> B`, gptq on the same calibration text, and
//              allocate over the ggml types (metric output), written with `output gguf`;
// and every file is scored by llama-perplexity --kl-divergence against the F32 model's
// logits on eval.txt (held out). The figure of merit: Bitsmith's mean KL divergence over the
// best (lowest) llama.cpp mean KL among the files no larger than Bitsmith's.
//
//   node bench/gguf-vs-llama-quantize.mjs [--model /work/ext/byte-llama]
//       [--llama /work/ext/llama.cpp/build/bin] [--out /work/ext/bench/q15] [--ctx 128]
//       [--chunks 100] [--targets IQ2_M,IQ3_S,IQ4_XS,Q4_K_M] [--metric output]
//
// Measured 2026-12-08 (llama.cpp build of February 2025; the byte-level Llama of
// bench/train-byte-llama.py --steps 1200 --batch 8 --seq 128, held-out 1.44 nats/byte;
// 100 chunks of 128 bytes of eval.txt), mean KL divergence, Bitsmith's file no larger than
// llama.cpp's:
//   at IQ2_M  (1,141,056 B): Bitsmith 0.00361, llama.cpp's best at or below IQ2_M 0.00957: 0.38x
//   at IQ3_S  (1,450,912 B): Bitsmith 0.00096, llama.cpp's best IQ3_S 0.00420: 0.23x
//   at IQ4_XS (1,777,120 B): Bitsmith 0.00045, llama.cpp's best IQ4_XS 0.00135: 0.33x
//   at Q4_K_M (1,995,744 B): Bitsmith 0.00032, llama.cpp's best Q4_K_M 0.00101: 0.32x
//
// llama.cpp is built from its public source outside the repository (CI cannot fetch it);
// nothing of it enters the repo. Needs `npm run build` (dist/cli.js). Writes under --out only.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { option } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const model = path.resolve(option('model', '/work/ext/byte-llama'));
const bin = path.resolve(option('llama', '/work/ext/llama.cpp/build/bin'));
const out = path.resolve(option('out', '/work/ext/bench/q15'));
const ctx = Number(option('ctx', '128'));
const chunks = Number(option('chunks', '100'));
const targets = option('targets', 'IQ2_M,IQ3_S,IQ4_XS,Q4_K_M').split(',');
const metric = option('metric', 'output');
const LLAMA_TYPES = [
  'IQ1_S',
  'IQ1_M',
  'IQ2_XXS',
  'IQ2_XS',
  'IQ2_S',
  'IQ2_M',
  'Q2_K_S',
  'Q2_K',
  'IQ3_XXS',
  'IQ3_XS',
  'IQ3_S',
  'IQ3_M',
  'Q3_K_S',
  'Q3_K_M',
  'Q3_K_L',
  'IQ4_XS',
  'IQ4_NL',
  'Q4_K_S',
  'Q4_K_M',
];
const CANDIDATES = 'iq1_m iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s iq4_xs q2_k q3_k q4_k q5_k q6_k q8_0';
const calib = path.join(model, 'calib.txt');
const evalText = path.join(model, 'eval.txt');
fs.mkdirSync(out, { recursive: true });

const log = (s) => process.stderr.write(s + '\n');
const run = (cmd, args, logFile) => {
  const r = spawnSync(cmd, args, { cwd: out, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (logFile) fs.writeFileSync(path.join(out, logFile), (r.stdout ?? '') + (r.stderr ?? ''));
  if (r.status !== 0)
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed:\n${(r.stderr ?? '').slice(-2000)}`);
  return (r.stdout ?? '') + (r.stderr ?? '');
};
const bitsmith = (args) => run(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args]);

/** Bytes of tensor data in a GGUF (Bitsmith's own reader). */
function tensorBytes(file) {
  return JSON.parse(bitsmith(['inspect', file, '--json'])).bytes;
}

/** llama-perplexity's mean KL divergence and same-top share of a file against base.kld. */
function score(file) {
  const text = run(path.join(bin, 'llama-perplexity'), [
    '-m',
    file,
    '--kl-divergence-base',
    'base.kld',
    '--kl-divergence',
    '-c',
    String(ctx),
    '--chunks',
    String(chunks),
    '-t',
    '2',
  ]);
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    kld: num(/Mean\s+KLD:\s+([0-9.eE+-]+)/),
    sameTop: num(/Same top p:\s+([0-9.]+)/),
    ppl: num(/Mean PPL\(Q\)\s*:\s*([0-9.]+)/),
  };
}

// 1. The F32 model as a GGUF (Bitsmith's writer; scripts/gguf-perplexity-check.mjs shows
//    llama.cpp scores it as Bitsmith's forward pass does), its logits, and the imatrix.
const base = path.join(out, 'base.gguf');
fs.writeFileSync(
  path.join(out, 'base.quant'),
  `model ${JSON.stringify(model)}\ndefaults { keep }\noutput gguf "base.gguf"\n`,
);
if (!fs.existsSync(base)) bitsmith(['run', path.join(out, 'base.quant')]);
if (!fs.existsSync(path.join(out, `base-${chunks}.kld`))) {
  run(
    path.join(bin, 'llama-perplexity'),
    [
      '-m',
      base,
      '-f',
      evalText,
      '-c',
      String(ctx),
      '--chunks',
      String(chunks),
      '-t',
      '2',
      '--kl-divergence-base',
      'base.kld',
    ],
    'base-ppl.log',
  );
  fs.copyFileSync(path.join(out, 'base.kld'), path.join(out, `base-${chunks}.kld`));
}
fs.copyFileSync(path.join(out, `base-${chunks}.kld`), path.join(out, 'base.kld'));
if (!fs.existsSync(path.join(out, 'imatrix.dat')))
  run(
    path.join(bin, 'llama-imatrix'),
    ['-m', base, '-f', calib, '-o', 'imatrix.dat', '-c', String(ctx), '--chunks', '200', '-t', '2'],
    'imatrix.log',
  );

// 2. llama.cpp's files.
const llama = [];
for (const t of LLAMA_TYPES) {
  const f = path.join(out, `llama-${t}.gguf`);
  if (!fs.existsSync(f))
    run(path.join(bin, 'llama-quantize'), ['--imatrix', 'imatrix.dat', base, f, t, '2'], `quantize-${t}.log`);
  const s = score(f);
  llama.push({ type: t, file: f, bytes: fs.statSync(f).size, tensorBytes: tensorBytes(f), ...s });
  log(`llama.cpp ${t}: ${fs.statSync(f).size} B, KLD ${s.kld}`);
}

// 3. Bitsmith at each target's size.
const rows = [];
for (const t of targets) {
  const ref = llama.find((l) => l.type === t);
  const name = `bitsmith-${t}`;
  const recipe = path.join(out, `${name}.quant`);
  fs.writeFileSync(
    recipe,
    [
      `model ${JSON.stringify(model)}`,
      `calibration text ${JSON.stringify(calib)} samples 128 length ${ctx}`,
      `budget ${ref.tensorBytes} B`,
      'defaults { format q4_k; method gptq }',
      `allocate { formats ${CANDIDATES}; metric ${metric} }`,
      `output gguf "${name}.gguf"`,
      '',
    ].join('\n'),
  );
  const t0 = Date.now();
  bitsmith(['run', recipe]);
  const seconds = (Date.now() - t0) / 1000;
  const f = path.join(out, `${name}.gguf`);
  const s = score(f);
  const bytes = fs.statSync(f).size;
  const best = llama.filter((l) => l.bytes <= Math.max(bytes, ref.bytes)).sort((a, b) => a.kld - b.kld)[0];
  rows.push({
    target: t,
    bytes,
    llamaBytes: ref.bytes,
    kld: s.kld,
    sameTop: s.sameTop,
    best: best.type,
    bestKld: best.kld,
    ratio: s.kld / best.kld,
    seconds,
  });
  log(
    `bitsmith at ${t}: ${bytes} B, KLD ${s.kld} vs llama.cpp's best ${best.type} ${best.kld} (x${(s.kld / best.kld).toFixed(3)})`,
  );
}

console.log('llama.cpp files (llama-quantize --imatrix), scored by llama-perplexity --kl-divergence:');
console.log('type      bytes      mean KLD   same top');
for (const l of llama)
  console.log(
    `${l.type.padEnd(8)} ${String(l.bytes).padStart(9)}  ${l.kld.toFixed(5).padStart(9)}  ${l.sameTop.toFixed(2)}%`,
  );
console.log("\nBitsmith (allocate + gptq, budget = the target's tensor bytes):");
console.log('target   bytes (llama)          mean KLD   llama.cpp best at or below    ratio   run s');
for (const r of rows)
  console.log(
    `${r.target.padEnd(8)} ${String(r.bytes).padStart(9)} (${String(r.llamaBytes).padStart(9)})  ${r.kld.toFixed(5).padStart(9)}   ${r.best.padEnd(8)} ${r.bestKld.toFixed(5)}      ${r.ratio.toFixed(3)}  ${r.seconds.toFixed(0)}`,
  );
fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({ llama, rows }, null, 2));
