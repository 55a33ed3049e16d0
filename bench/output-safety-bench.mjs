// What the output-safety rule costs the editor: analyze() on examples/ggml.quant (two
// outputs and an export) with the real file-system facts against the same analysis with
// facts that touch nothing (the baseline), in CPU microseconds per analysis, median of runs.
//   node bench/output-safety-bench.mjs [--analyses 2000] [--runs 7]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, option } from './common.mjs';

const require = createRequire(import.meta.url);
require('../test/register.js');
const { analyze } = require('../core/src/analysis/analyze.ts');
const { readModelHeader } = require('../core/src/models/load.ts');

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const recipePath = path.join(root, 'examples/ggml.quant');
const text = fs.readFileSync(recipePath, 'utf8');
const model = readModelHeader(path.join(root, 'examples/stories260K'));
const n = Number(option('analyses', 2000)),
  runs = Number(option('runs', 7));
const nothing = {
  entry: () => undefined,
  realPath: (p) => p,
  fileProvenance: () => ({ bitsmith: true }),
  folderProvenance: () => ({ bitsmith: true }),
};

function perAnalysis(outputFacts) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) analyze(text, { recipePath, loadModel: () => model, outputFacts });
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const base = [],
  real = [];
perAnalysis(nothing); // warm-up
perAnalysis(undefined);
for (let r = 0; r < runs; r++) {
  base.push(perAnalysis(nothing));
  real.push(perAnalysis(undefined));
}
const b = median(base),
  f = median(real);
console.log(
  `analyze ${path.relative(root, recipePath)}: ${b.toFixed(0)} us CPU without file-system facts, ${f.toFixed(0)} us with them: +${(f - b).toFixed(0)} us (x${(f / b).toFixed(2)})`,
);
