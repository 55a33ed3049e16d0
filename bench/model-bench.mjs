#!/usr/bin/env node
// Throughput and memory of `bitsmith run` on a synthetic Llama-like bf16 model (written on
// demand by bench/make-synthetic-model.mjs, ~1B parameters by default): an int4 g128
// asymmetric RTN recipe at 1 and 2 threads, without output and with the fake-quant
// output, then a few other formats. Each measurement is a fresh `node dist/cli.js run
// RECIPE --json` process; figures come from its report ("run s" = the native run, which
// GB/s and Mweights/s are computed from; "process s" = the whole command including Node's
// start and the recipe analysis; peak RSS = the process's high-water mark).
//
//   node bench/model-bench.mjs [--params 1e9] [--model DIR] [--threads 1,2] [--repeat 1]
//       [--no-output] [--out-dir DIR] [--formats int4,int8,nf4,...|none] [--keep]
//
// Targets: >= 1 GB/s of bf16 weights for the 1B model; peak RSS < 2 x largest tensor + 200 MB.
// Output runs write ~2 GB: their speed also depends on the disk (dirty pages are synced
// before each run); --out-dir /dev/shm takes the disk out of the measurement.
// Run `npm run build:native && npm run build` first.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseArchitecture, tensorList, writeSyntheticModel } from './make-synthetic-model.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const params = Number(opt('--params', '1e9'));
const threadList = opt('--threads', '1,2').split(',').map(Number);
const repeat = Math.max(1, Number(opt('--repeat', '1')));
const withOutput = !args.includes('--no-output');
const formatsArg = opt('--formats', 'int8,int4-sym-g32,nf4,fp8_e4m3,mxfp4,int3-clip,ternary');
const benchDir = path.join(os.tmpdir(), 'bitsmith-bench');
const model = path.resolve(
  opt('--model', path.join(benchDir, `llama-${params.toExponential().replace('+', '')}-bf16`)),
);
const outDir = path.resolve(opt('--out-dir', path.join(benchDir, 'out')));

if (!fs.existsSync(cli)) {
  console.error('bench: dist/cli.js is missing: run npm run build:native && npm run build');
  process.exit(2);
}

// ---- the model -------------------------------------------------------------------------

function ensureModel() {
  const cfgPath = path.join(model, 'config.json');
  const arch = chooseArchitecture({ params });
  if (fs.existsSync(cfgPath) && fs.existsSync(path.join(model, 'model.safetensors'))) {
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    if (opt('--model') || (cfg.hidden_size === arch.dim && cfg.num_hidden_layers === arch.layers)) return;
  }
  process.stderr.write(`bench: writing a ${params.toExponential()} parameter bf16 model to ${model} ...\n`);
  const info = writeSyntheticModel(model, { params });
  process.stderr.write(
    `bench: ${info.params.toLocaleString('en-US')} params, ${(info.bytes / 2 ** 30).toFixed(2)} GiB\n`,
  );
}
ensureModel();

const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
const arch = {
  dim: cfg.hidden_size,
  hidden: cfg.intermediate_size,
  layers: cfg.num_hidden_layers,
  heads: cfg.num_attention_heads,
  kvHeads: cfg.num_key_value_heads,
  vocab: cfg.vocab_size,
  tied: cfg.tie_word_embeddings,
};
const tensors = tensorList(arch);
const esize = cfg.torch_dtype === 'float32' ? 4 : 2;
const largest = tensors.reduce((a, t) => Math.max(a, t.elements), 0) * esize;
const modelBytes = tensors.reduce((a, t) => a + t.elements, 0) * esize;

// ---- runs ------------------------------------------------------------------------------

const recipeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-bench-recipes-'));
fs.mkdirSync(outDir, { recursive: true });

const FORMATS = {
  'int4-asym-g128': 'format int4\n  group 128\n  symmetric false',
  'int4-sym-g32': 'format int4\n  group 32',
  int8: 'format int8\n  group 128',
  nf4: 'format nf4\n  group 64',
  fp8_e4m3: 'format fp8_e4m3\n  group channel',
  mxfp4: 'format mxfp4',
  'int3-clip': 'format int3\n  group 64\n  symmetric false\n  clip mse',
  ternary: 'format ternary\n  group 128',
};

function recipe(name, body, output) {
  const file = path.join(recipeDir, `${name}.quant`);
  const out = output ? `output fake "${path.join(outDir, `${name}.safetensors`)}"\n` : '';
  fs.writeFileSync(file, `recipe "bench ${name}"\nmodel "${model}"\ndefaults {\n  ${body}\n}\n${out}`);
  return file;
}

function measure(file, threads) {
  let best;
  for (let i = 0; i < repeat; i++) {
    spawnSync('sync'); // start from clean page cache writeback
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [cli, 'run', file, '--json', '--threads', String(threads)], {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`bitsmith run ${file} failed (${r.status}):\n${r.stderr}`);
    const rep = JSON.parse(r.stdout);
    if (rep.file) fs.rmSync(rep.file, { force: true });
    const q = rep.tensors.filter((t) => t.action === 'quantize');
    const m = {
      seconds: rep.totals.seconds,
      wall,
      gbps: rep.totals.bytesIn / 1e9 / rep.totals.seconds,
      mweights: q.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0) / 1e6 / rep.totals.seconds,
      rss: rep.totals.peakRssBytes,
      bpw: rep.totals.bpw,
    };
    if (!best || m.seconds < best.seconds) best = m;
    if (rep.output) fs.rmSync(rep.output.path, { force: true });
  }
  return best;
}

const MiB = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
function table(header, rows) {
  const w = header.map((h, i) => rows.reduce((m, r) => Math.max(m, String(r[i]).length), h.length));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

const rssLimit = 2 * largest + 200 * 2 ** 20;
console.log(`model: ${model}`);
console.log(
  `  llama dim ${arch.dim}, hidden ${arch.hidden}, ${arch.layers} layers, vocab ${arch.vocab}: ${tensors.reduce((a, t) => a + t.elements, 0).toLocaleString('en-US')} params, ${(modelBytes / 2 ** 30).toFixed(2)} GiB ${cfg.torch_dtype}, largest tensor ${MiB(largest)}`,
);
console.log(
  `  machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}; best of ${repeat}`,
);
console.log('');

const rows = [];
const main = FORMATS['int4-asym-g128'];
for (const output of withOutput ? [false, true] : [false]) {
  const file = recipe(`int4-asym-g128${output ? '-out' : ''}`, main, output);
  for (const t of threadList) {
    const m = measure(file, t);
    rows.push([
      `int4 g128 asym${output ? ' + fake output' : ''}`,
      t,
      m.seconds.toFixed(2),
      m.wall.toFixed(2),
      m.gbps.toFixed(2),
      m.mweights.toFixed(0),
      MiB(m.rss),
      m.rss < rssLimit ? 'yes' : 'NO',
      m.bpw.toFixed(4),
    ]);
    process.stderr.write(`  ${rows[rows.length - 1].join('  ')}\n`);
  }
}
console.log(
  table(
    [
      'recipe (whole model)',
      'threads',
      'run s',
      'process s',
      'GB/s',
      'Mweights/s',
      'peak RSS',
      `< ${MiB(rssLimit)}`,
      'bpw',
    ],
    rows,
  ),
);

if (formatsArg !== 'none') {
  const frows = [];
  const t = threadList.reduce((a, b) => Math.max(a, b), -Infinity);
  for (const name of formatsArg.split(',')) {
    if (!FORMATS[name]) throw new Error(`unknown format preset ${name} (${Object.keys(FORMATS).join(', ')})`);
    const m = measure(recipe(name, FORMATS[name], false), t);
    frows.push([name, t, m.seconds.toFixed(2), m.mweights.toFixed(0), m.gbps.toFixed(2), MiB(m.rss), m.bpw.toFixed(4)]);
    process.stderr.write(`  ${frows[frows.length - 1].join('  ')}\n`);
  }
  console.log('');
  console.log(table(['format (no output)', 'threads', 'seconds', 'Mweights/s', 'GB/s', 'peak RSS', 'bpw'], frows));
}

if (!args.includes('--keep')) fs.rmSync(recipeDir, { recursive: true, force: true });
