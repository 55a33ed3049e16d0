// Checks that llama-quantize accepts the importance matrix `output imatrix` writes (outside
// `npm test`: it needs a llama.cpp build). Usage:
//
//   LLAMA_CPP_BIN=/work/ext/llama.cpp/build/bin node scripts/llama-imatrix-check.mjs [MODEL] [--keep]
//
// MODEL: a Llama-family Hugging Face folder (default: the bundled stories260K). In a scratch
// folder: one bitsmith run calibrates on generated sequences and writes the model as an F32
// GGUF (every tensor kept) with `output imatrix "im.dat"` (the legacy layout), another writes
// `output imatrix "im.gguf"` (llama-imatrix's current GGUF layout); then
// `llama-quantize --imatrix im.dat f32.gguf q.gguf Q4_K_M` must load every entry ("loaded N
// importance matrix entries") and finish. The llama.cpp snapshot this project checks against
// (February 2025) reads only the legacy layout: with the GGUF one its loader fails, which the
// script reports as expected for that build (a newer llama-quantize reads both).
//
// Seen on 2026-12-08 with that build: stories260K, 35 entries (5 layers x 7 projections):
// llama-quantize printed "imatrix dataset='bitsmith 0.1.0: generated (seed 0)'", "loaded 35
// importance matrix entries from im.dat computed on 8 chunks", "have 35 importance matrix
// entries" and wrote the Q4_K_M GGUF (stories260K's 64-wide rows fall back to Q5_0, its
// 172-wide ones to F16, as llama.cpp does for widths no super-block divides); im.gguf was
// refused by this build's legacy-only loader ("failed reading name for entry 2"), as expected.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const MODEL = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(root, 'examples/stories260K'));
const BIN = process.env.LLAMA_CPP_BIN ?? '/work/ext/llama.cpp/build/bin';
const quantize = path.join(BIN, 'llama-quantize');
if (!fs.existsSync(quantize)) {
  console.error(`no llama-quantize in ${BIN} (set LLAMA_CPP_BIN)`);
  process.exit(2);
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-imatrix-check-'));
const run = (cmd, argv) => spawnSync(cmd, argv, { encoding: 'utf8', cwd: work, maxBuffer: 64 << 20 });
const cli = path.join(root, 'dist/cli.js');

let failed = false;
for (const [name, file] of [
  ['dat', 'im.dat'],
  ['gguf', 'im.gguf'],
]) {
  fs.writeFileSync(
    path.join(work, `${name}.quant`),
    [
      `model "${MODEL}"`,
      'calibration generated samples 8 length 64',
      `output gguf "f32-${name}.gguf"`,
      `output imatrix "${file}"`,
    ].join('\n') + '\n',
  );
  const r = run(process.execPath, [cli, 'run', `${name}.quant`, '--json', '--report-dir', 'reports']);
  if (r.status !== 0) {
    console.error(`bitsmith run ${name}.quant failed:\n${r.stderr}`);
    process.exit(1);
  }
  const q = run(quantize, ['--imatrix', file, `f32-${name}.gguf`, `q-${name}.gguf`, 'Q4_K_M', '2']);
  const out = q.stdout + q.stderr;
  const loaded = /loaded (\d+) importance matrix entries/.exec(out);
  const ok = q.status === 0 && loaded && fs.existsSync(path.join(work, `q-${name}.gguf`));
  console.log(
    `${file}: llama-quantize ${ok ? `accepted it: loaded ${loaded[1]} entries, wrote q-${name}.gguf` : `did not accept it (exit ${q.status})`}`,
  );
  if (!ok) {
    const lines = out.split('\n').filter((l) => /imatrix|error|failed/i.test(l));
    console.log(`  ${lines.slice(0, 4).join('\n  ')}`);
    if (name === 'dat') failed = true;
    else console.log('  (expected with a llama.cpp that reads only the legacy layout)');
  }
}
if (!keep) fs.rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exit(failed ? 1 : 0);
