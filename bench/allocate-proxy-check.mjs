#!/usr/bin/env node
// How good is metric output's proxy on the allocate-vs-mixes model? Run after
// bench/allocate-vs-mixes.mjs (it reuses that model, its measurement cache and results).
// 1. Additivity: the sum of the per-tensor predicted errors of each fixed mix and each
//    allocation, against the KL that `run` measured for that whole model.
// 2. Per candidate: for five tensors, every candidate's KL measured alone (metric kld, the
//    other projections pinned) against the output metric's scaled proxy (exact at q4_k,
//    the reference candidate, by construction).
//   node bench/allocate-proxy-check.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const require = createRequire(import.meta.url);
require('../test/register.js');
const { loadRecipe } = require('../cli/src/load.ts');
const core = require('../core/src/index.ts');

const work = path.join(root, 'bench', 'out', 'mixes');
const resultsFile = path.join(work, 'results.json');
if (!fs.existsSync(resultsFile)) throw new Error('run bench/allocate-vs-mixes.mjs first');
const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));

console.log('1. predicted (sum of per-tensor errors, metric output) vs measured KL of the whole model, nats');
console.log('mix          fixed pred  fixed KL    alloc pred  alloc KL');
for (const row of results.rows.filter((r) => r.metric === 'output')) {
  const l = loadRecipe(path.join(work, `alloc-${row.mix}-output.quant`));
  const a = l.analysis.allocation;
  const table = core.loadMeasurements(a.file, a.context);
  const items = core.allocationItems(l.analysis.recipe, l.analysis.plan, a.setup, table, 'output');
  const fixedFile = row.mix.endsWith('+te8')
    ? path.join(work, `${row.mix.slice(0, -4)}-te8.quant`)
    : path.join(root, 'bench', 'mixes', `${row.mix}.quant`);
  const fmt = new Map(
    loadRecipe(fixedFile)
      .analysis.plan.tensors.filter((t) => t.action !== 'keep')
      .map((t) => [t.tensor.name, t.config.format.name]),
  );
  const pred = items.reduce((s, it) => s + it.candidates.find((c) => c.key === fmt.get(it.id)).error, 0);
  console.log(
    `${row.mix.padEnd(12)} ${pred.toExponential(3)}   ${row.fixed.kl.toExponential(3)}   ${row.predicted.toExponential(3)}   ${row.alloc.kl.toExponential(3)}`,
  );
}

const probeTensors = [
  'model.embed_tokens',
  'lm_head',
  'model.layers.0.self_attn.v_proj',
  'model.layers.3.mlp.down_proj',
  'model.layers.4.self_attn.k_proj',
];
const probe = path.join(work, 'kld-probe.quant');
fs.writeFileSync(
  probe,
  [
    "# every candidate's KL for a few tensors (the other projections pinned), written by bench/allocate-proxy-check.mjs",
    'model "../mixes-model"',
    'calibration generated samples 16 length 128',
    'budget 4 MiB',
    'defaults { format q4_k }',
    `match "re:^(?!(${probeTensors.map((t) => t.replace(/\./g, '\\.')).join('|')})(\\.weight)?$).*_proj(\\.weight)?$" { format q4_k }`,
    'allocate {\n  formats q2_k q3_k q4_k q5_k q6_k q8_0\n  metric kld\n}',
    '',
  ].join('\n'),
);
const t0 = Date.now();
execFileSync(process.execPath, [path.join(root, 'dist', 'cli.js'), 'allocate', probe, '--json'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const l = loadRecipe(probe);
const a = l.analysis.allocation;
const table = core.loadMeasurements(a.file, a.context);
const kld = core.allocationItems(l.analysis.recipe, l.analysis.plan, a.setup, table, 'kld');
// The output metric's figures for the same tensors come from an output recipe (same cache).
const lo = loadRecipe(path.join(work, 'alloc-q4_k_m-output.quant'));
const ao = lo.analysis.allocation;
const out = core.allocationItems(
  lo.analysis.recipe,
  lo.analysis.plan,
  ao.setup,
  core.loadMeasurements(ao.file, ao.context),
  'output',
);
console.log('');
console.log(
  `2. per candidate: KL measured with only that tensor quantized vs metric output's prediction (${((Date.now() - t0) / 1000).toFixed(0)} s to measure what the cache lacked)`,
);
for (const it of kld) {
  const o = out.find((x) => x.id === it.id);
  console.log(`${it.id}`);
  for (const c of it.candidates) {
    const p = o.candidates.find((x) => x.key === c.key).error;
    console.log(
      `   ${c.key.padEnd(5)} KL ${c.error.toExponential(3)}  predicted ${p.toExponential(3)}  ratio ${(p / c.error).toFixed(2)}`,
    );
  }
}
