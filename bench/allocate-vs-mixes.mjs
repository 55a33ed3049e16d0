#!/usr/bin/env node
// Measured allocation vs llama.cpp's fixed mixes. On the synthetic Llama of
// bench/make-mixes-model.mjs (every row 256 wide), for each of llama.cpp's Q4_K_M, Q3_K_M
// and Q2_K type-selection rules (bench/mixes/*.quant):
//   1. `bitsmith run` the fixed mix -> its bytes, perplexity and KL(original || quantized);
//   2. an allocate recipe with the same calibration and evaluation, `budget <those bytes> B`,
//      candidates q2_k q3_k q4_k q5_k q6_k q8_0 -> `bitsmith allocate --json` (measuring
//      and solving timed apart) and `bitsmith run` -> bytes, perplexity, KL.
// KL and perplexity are deterministic for a seed (generated sequences, deterministic
// quantizers), so each figure is one run; times are medians of --runs.
//
//   node bench/allocate-vs-mixes.mjs [--seed 7] [--metric output|kld|both] [--runs 5] [--keep-cache] [--no-controls]
// Controls (unless --no-controls): each mix with its token embedding at q8_0, as
// llama-quantize --token-embedding-type q8_0 makes it, and the allocation at that size.
//
// Needs `npm run build` (dist/cli.js) and the native addon. Writes under bench/out/ only.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, option, flag } from './common.mjs';
import { writeMixesModel } from './make-mixes-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const require = createRequire(import.meta.url);
require('../test/register.js');
const { loadRecipe } = require('../cli/src/load.ts');
const core = require('../core/src/index.ts');

const seed = Number(option('seed', 7));
const runs = Number(option('runs', 5));
const metricOpt = option('metric', 'both');
const metrics = metricOpt === 'both' ? ['output', 'kld'] : [metricOpt];
const BASE_MIXES = ['q4_k_m', 'q3_k_m', 'q2_k'];
// Controls: each mix with llama-quantize's --token-embedding-type q8_0 (written under
// bench/out/mixes): how much of the gap is the embedding, which the mixes leave at the
// base type when the head is untied.
const MIXES = [...BASE_MIXES, ...(flag('no-controls') ? [] : BASE_MIXES.map((m) => `${m}+te8`))];
const mixRecipe = (mix) => {
  if (!mix.endsWith('+te8')) return path.join('bench', 'mixes', `${mix}.quant`);
  const base = mix.slice(0, -4);
  const file = path.join(work, `${base}-te8.quant`);
  const text = fs
    .readFileSync(path.join(root, 'bench', 'mixes', `${base}.quant`), 'utf8')
    .replace('model "../out/mixes-model"', 'model "../mixes-model"');
  fs.writeFileSync(
    file,
    text + `\n# control: llama-quantize --token-embedding-type q8_0\nmatch "model.embed_tokens" { format q8_0 }\n`,
  );
  return path.relative(root, file);
};
const CANDIDATES = 'q2_k q3_k q4_k q5_k q6_k q8_0';

const modelDir = path.join(root, 'bench', 'out', 'mixes-model');
const work = path.join(root, 'bench', 'out', 'mixes');
const cli = path.join(root, 'dist', 'cli.js');
fs.mkdirSync(work, { recursive: true });
if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: npm run build');

function bitsmith(args) {
  const t0 = process.hrtime.bigint();
  const out = execFileSync(process.execPath, [cli, ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { json: JSON.parse(out), seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function summary(report) {
  const counts = {};
  for (const t of report.tensors) if (t.format && t.action !== 'keep') counts[t.format] = (counts[t.format] ?? 0) + 1;
  const e = report.evaluation;
  return {
    bytes: report.totals.bytesOut,
    bpw: report.totals.bpw,
    kl: e.klMean,
    klP99: e.klP99,
    pplOrig: e.perplexityOriginal,
    pplQuant: e.perplexityQuantized,
    top1: e.top1Agreement,
    counts,
  };
}

const mixText = (counts) =>
  Object.entries(counts)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([f, n]) => `${n} ${f}`)
    .join(', ');

// ---- the model, once -------------------------------------------------------------------
const stamp = path.join(modelDir, 'seed.txt');
if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== String(seed)) {
  writeMixesModel(modelDir, { seed });
  fs.writeFileSync(stamp, String(seed));
}
const cacheDir = path.join(work, '.bitsmith');
if (!flag('keep-cache')) fs.rmSync(cacheDir, { recursive: true, force: true });

// ---- the fixed mixes -------------------------------------------------------------------
const fixed = {};
for (const mix of MIXES) {
  const r = bitsmith(['run', mixRecipe(mix), '--json']);
  fixed[mix] = { ...summary(r.json), seconds: r.seconds };
  const plan = loadRecipe(path.join(root, mixRecipe(mix))).analysis.plan;
  if (plan.totals.bytesOut !== fixed[mix].bytes)
    throw new Error(`${mix}: the plan says ${plan.totals.bytesOut} bytes, the run wrote ${fixed[mix].bytes}`);
  console.error(
    `fixed ${mix}: ${fixed[mix].bytes} B, KL ${fixed[mix].kl.toExponential(4)} (${r.seconds.toFixed(1)} s)`,
  );
}

// ---- the allocations -------------------------------------------------------------------
function allocRecipe(mix, metric) {
  const file = path.join(work, `alloc-${mix}-${metric}.quant`);
  fs.writeFileSync(
    file,
    [
      `# ${metric} allocation at the size of llama.cpp's ${mix.toUpperCase()} mix (${mixRecipe(mix)}), written by bench/allocate-vs-mixes.mjs`,
      `model "../mixes-model"`,
      'calibration generated samples 16 length 128',
      `budget ${fixed[mix].bytes} B`,
      'defaults { format q4_k }',
      `allocate {\n  formats ${CANDIDATES}\n  metric ${metric}\n}`,
      'evaluate {\n  perplexity samples 16 length 128\n  kl_divergence\n}',
      '',
    ].join('\n'),
  );
  return file;
}

const rows = [];
const timing = {};
for (const metric of metrics) {
  for (const mix of MIXES) {
    const file = allocRecipe(mix, metric);
    // The first allocate of a metric measures (the cache is shared by every budget: same
    // model and calibration); the later ones and the repeats only solve.
    const first = bitsmith(['allocate', file, '--json']);
    const warm = [];
    for (let i = 0; i < runs; i++) warm.push(bitsmith(['allocate', file, '--json']).seconds);
    if (!timing[metric]) timing[metric] = { measureSeconds: first.seconds - median(warm), firstSeconds: first.seconds };
    // The solve alone, in process: build the items from the cached table and solve.
    const loaded = loadRecipe(file);
    const a = loaded.analysis.allocation;
    const table = core.loadMeasurements(a.file, a.context);
    const { recipe, plan } = loaded.analysis;
    const allocMs = [],
      solveMs = [];
    const items = core.allocationItems(recipe, plan, a.setup, table, metric);
    for (let i = 0; i < Math.max(runs, 15); i++) {
      let t0 = process.hrtime.bigint();
      core.allocate(recipe, plan, a.setup, table, metric);
      allocMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      core.solveAllocation({ items, budgetBytes: a.setup.budgetBytes, fixedBytes: a.setup.fixedBytes });
      solveMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const run = bitsmith(['run', file, '--json']);
    const s = summary(run.json);
    if (s.bytes !== first.json.bytes)
      throw new Error(`${mix} ${metric}: allocate chose ${first.json.bytes} B, run wrote ${s.bytes} B`);
    rows.push({
      mix,
      metric,
      fixed: fixed[mix],
      alloc: s,
      predicted: first.json.error,
      optimal: first.json.optimal,
      gap: first.json.gap,
      allocateSeconds: median(warm),
      allocMs: median(allocMs),
      solveMs: median(solveMs),
      items: a.setup.groups.length,
    });
    console.error(
      `${metric} ${mix}: ${s.bytes} B, KL ${s.kl.toExponential(4)} (allocate ${first.seconds.toFixed(1)} s first, ${median(warm).toFixed(2)} s warm)`,
    );
  }
}

// ---- the table -------------------------------------------------------------------------
const pad = (s, n) => String(s).padStart(n);
console.log(
  `allocation vs llama.cpp mixes: synthetic Llama (seed ${seed}, dim 256, hidden 768, 8 layers, 4/2 heads, vocab 512, untied), calibration generated 16x128, evaluate 16x128`,
);
console.log(
  `candidates ${CANDIDATES}; KL = mean KL(original || quantized) per next token, nats (deterministic for the seed: one run each)`,
);
console.log('');
console.log(
  'mix          metric  size fixed  size alloc  KL fixed    KL alloc    alloc/fixed  ppl orig  ppl fixed  ppl alloc  top1 fixed/alloc  alloc ms  solve ms  allocated mix',
);
for (const r of rows) {
  console.log(
    `${r.mix.padEnd(12)} ${r.metric.padEnd(6)} ${pad(r.fixed.bytes, 11)} ${pad(r.alloc.bytes, 11)}  ${r.fixed.kl.toExponential(3)}  ${r.alloc.kl.toExponential(3)}  ${pad((r.alloc.kl / r.fixed.kl).toFixed(3), 11)}  ${pad(r.fixed.pplOrig.toFixed(3), 8)}  ${pad(r.fixed.pplQuant.toFixed(3), 9)}  ${pad(r.alloc.pplQuant.toFixed(3), 9)}  ${pad(`${r.fixed.top1.toFixed(3)}/${r.alloc.top1.toFixed(3)}`, 16)}  ${pad(r.allocMs.toFixed(2), 8)}  ${pad(r.solveMs.toFixed(2), 8)}  ${mixText(r.alloc.counts)}`,
  );
}
console.log('');
for (const mix of MIXES) console.log(`fixed ${mix}: ${mixText(fixed[mix].counts)}`);
for (const m of metrics) {
  console.log(
    flag('keep-cache')
      ? `measuring (metric ${m}): from the cache (--keep-cache); first allocate ${timing[m].firstSeconds.toFixed(1)} s`
      : `measuring (metric ${m}, every candidate, cache empty): ${timing[m].measureSeconds.toFixed(1)} s (first allocate ${timing[m].firstSeconds.toFixed(1)} s minus a warm one)`,
  );
}
console.log(
  `alloc ms: in-process core allocate() (items from the cached table + solver); solve ms: solveAllocation alone on those items; medians of ${Math.max(runs, 15)}; a warm \`bitsmith allocate --json\` (process start, recipe, plan, solve): ${median(rows.map((r) => r.allocateSeconds)).toFixed(2)} s median`,
);
fs.writeFileSync(path.join(work, 'results.json'), JSON.stringify({ seed, rows, fixed, timing }, null, 2) + '\n');
