// Checks the Q4_K_M preset of New Recipe from Model (core/src/presets) against llama.cpp
// itself (outside `npm test`: it needs a llama.cpp build). For models of several shapes it
// writes a GGUF with every tensor kept (bitsmith run, output gguf), quantizes it with
// `llama-quantize src.gguf out.gguf Q4_K_M`, reads the type llama.cpp gave each tensor, and
// compares it with the preset's plan for the same model, both from the GGUF (llama.cpp's
// names) and from the Hugging Face folder (names mapped as output gguf maps them). A tensor
// the preset keeps where llama.cpp writes F16 (rows no block divides) counts as agreeing.
//
//   LLAMA_CPP_DIR=/path/to/llama.cpp/build node scripts/llama-cpp-preset-check.mjs [--keep]
//
// Shapes: stories260K (64/172-wide rows, tied: every fallback), an 8-layer Llama with
// 256-wide rows and a separate head (bench/mixes/q4_k_m.quant's model), a 16-layer one, and
// a Qwen2 shape whose 384-wide rows are not whole super-blocks (q5_0/q8_0 fallbacks, tied).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
require(path.join(root, 'test', 'register.js')); // TypeScript sources through esbuild
const { recipeFromPreset } = require(path.join(root, 'core', 'src', 'presets', 'index.ts'));
const { readModelHeader } = require(path.join(root, 'core', 'src', 'models', 'load.ts'));
const { ggufName } = require(path.join(root, 'core', 'src', 'export', 'llamaQuantize.ts'));

const llamaDir = process.env.LLAMA_CPP_DIR || '/work/ext/llama.cpp/build';
const quantize = path.join(llamaDir, 'bin', 'llama-quantize');
if (!fs.existsSync(quantize)) {
  console.error(`no llama-quantize at ${quantize}: set LLAMA_CPP_DIR to a llama.cpp build folder`);
  process.exit(2);
}
const keep = process.argv.includes('--keep');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-preset-check-'));
const cli = path.join(root, 'dist', 'cli.js');

function sh(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const bitsmith = (args, what) => sh(process.execPath, [cli, ...args], what);

const CASES = [
  {
    name: 'stories260K',
    make: (dir) => fs.cpSync(path.join(root, 'examples', 'stories260K'), dir, { recursive: true }),
  },
  {
    name: 'llama-8-layers-256',
    synth: [
      '--family',
      'llama',
      '--dim',
      '256',
      '--layers',
      '8',
      '--heads',
      '4',
      '--kv-heads',
      '2',
      '--hidden',
      '768',
      '--vocab',
      '512',
    ],
  },
  {
    name: 'llama-16-layers-256',
    synth: [
      '--family',
      'llama',
      '--dim',
      '256',
      '--layers',
      '16',
      '--heads',
      '4',
      '--kv-heads',
      '2',
      '--hidden',
      '512',
      '--vocab',
      '512',
    ],
  },
  {
    name: 'qwen2-384-tied',
    synth: [
      '--family',
      'qwen2',
      '--dim',
      '384',
      '--layers',
      '6',
      '--heads',
      '6',
      '--kv-heads',
      '2',
      '--hidden',
      '1024',
      '--vocab',
      '512',
      '--tied',
    ],
  },
];

/** The preset's type per tensor of `modelPath`, by llama.cpp name: a ggml type or 'keep'. */
function presetTypes(modelPath, recipeFile) {
  const header = readModelHeader(modelPath);
  const { text } = recipeFromPreset(header, { preset: 'q4_k_m', modelRef: modelPath });
  fs.writeFileSync(recipeFile, text);
  const out = JSON.parse(bitsmith(['budget', '--json', recipeFile], `bitsmith budget ${recipeFile}`));
  if (out.errors) throw new Error(`${recipeFile} has ${out.errors} errors`);
  const types = new Map();
  for (const t of out.plan.tensors) {
    const name = ggufName(t.name, header);
    if (name) types.set(name, t.action === 'keep' ? 'keep' : t.format);
  }
  return types;
}

let failures = 0;
for (const c of CASES) {
  const dir = path.join(work, c.name);
  const model = path.join(dir, 'model');
  fs.mkdirSync(dir, { recursive: true });
  if (c.make) c.make(model);
  else
    sh(
      process.execPath,
      [path.join(root, 'bench', 'make-synthetic-model.mjs'), '--out', model, '--dtype', 'f32', '--quiet', ...c.synth],
      `make-synthetic-model ${c.name}`,
    );
  // Everything kept: the source GGUF llama-quantize starts from.
  const src = path.join(dir, 'src.gguf');
  fs.writeFileSync(path.join(dir, 'keep.quant'), `model "model"\noutput gguf "src.gguf"\n`);
  bitsmith(['run', path.join(dir, 'keep.quant')], `bitsmith run keep.quant (${c.name})`);
  const q = path.join(dir, 'Q4_K_M.gguf');
  sh(quantize, [src, q, 'Q4_K_M'], `llama-quantize ${c.name}`);
  const llama = JSON.parse(bitsmith(['inspect', '--json', q], `bitsmith inspect ${q}`));
  const fromGguf = presetTypes(src, path.join(dir, 'preset-gguf.quant'));
  const fromHf = presetTypes(model, path.join(dir, 'preset-hf.quant'));
  const rows = [];
  let agree = 0;
  for (const t of llama.tensors) {
    const want = t.dtype.toLowerCase();
    for (const [source, types] of [
      ['gguf', fromGguf],
      ['hf', fromHf],
    ]) {
      const got = types.get(t.name);
      const same =
        got === want || (got === 'keep' && (t.shape.length === 1 ? want === 'f32' : want === 'f16' || want === 'f32'));
      if (same) agree++;
      else
        rows.push(`  ${t.name} [${t.shape.join(', ')}]: llama.cpp ${t.dtype}, preset (${source}) ${got ?? 'missing'}`);
    }
  }
  const counts = {};
  for (const t of llama.tensors) counts[t.dtype] = (counts[t.dtype] ?? 0) + 1;
  console.log(
    `${c.name}: ${llama.tensors.length} tensors, llama.cpp ${JSON.stringify(counts)}; preset agrees on ${agree} of ${2 * llama.tensors.length} (from the GGUF and from the folder)`,
  );
  if (rows.length) {
    failures += rows.length;
    console.log(rows.join('\n'));
  }
}
if (keep) console.log(`kept ${work}`);
else fs.rmSync(work, { recursive: true, force: true });
console.log(
  failures
    ? `preset check: ${failures} disagreements`
    : "preset check: the Q4_K_M preset gives every tensor llama.cpp's type",
);
process.exit(failures ? 1 : 0);
