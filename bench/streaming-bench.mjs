// Peak memory and time of `bitsmith run` on a large model, for the layer-streamed pipeline
// (native/src/run/layer_pipeline.h): runs the CLI under /usr/bin/time -v and reports the
// peak RSS, the wall time, the run's own phase timings (done.phases) and the memory
// estimate `bitsmith check` prints beforehand. Compare builds by pointing --cli at each
// (a baseline worktree's dist/cli.js and this one's), in one sitting.
//
//   node bench/make-synthetic-model.mjs --out /tmp/llama1b --dim 2048 --layers 16 --heads 32 \
//        --kv-heads 8 --hidden 8192 --vocab 128256 --tied
//   node bench/streaming-bench.mjs --model /tmp/llama1b [--cli dist/cli.js] [--samples 16]
//        [--length 128] [--eval-samples 8] [--eval-length 128] [--format int4 --group 128]
//        [--method gptq] [--output none|fake|gguf] [--no-evaluate] [--threads 2] [--label after]
//
// Token ids are uniform random (seeded): the synthetic model has no tokenizer, and the
// memory and time do not depend on which ids flow through.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, option } from './common.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const model = path.resolve(option('model', ''));
if (!option('model')) {
  console.error('usage: node bench/streaming-bench.mjs --model DIR [--cli dist/cli.js] ...');
  process.exit(2);
}
const cli = path.resolve(option('cli', path.join(here, '..', 'dist', 'cli.js')));
const samples = +option('samples', 16),
  length = +option('length', 128);
const evalSamples = +option('eval-samples', 8),
  evalLength = +option('eval-length', 128);
const format = option('format', 'int4'),
  group = option('group', '128'),
  method = option('method', 'gptq');
const output = option('output', 'none');
const threads = option('threads', String(os.cpus().length));
const label = option('label', path.basename(path.dirname(path.dirname(cli))));
const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
const vocab = config.vocab_size;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-streaming-bench-'));
let state = 12345;
const rand = () => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return state / 2147483648;
};
const tokens = (n, len) =>
  Array.from({ length: n }, () => Array.from({ length: len }, (_, i) => (i === 0 ? 1 : Math.floor(rand() * vocab))));
fs.writeFileSync(path.join(dir, 'cal.json'), JSON.stringify(tokens(samples, length)));
fs.writeFileSync(path.join(dir, 'eval.json'), JSON.stringify(tokens(evalSamples, evalLength)));
const isGgml = /^(q\d|iq)/.test(format);
const lines = [
  `recipe "streaming bench ${method} ${format}"`,
  `model "${model}"`,
  `calibration tokens "cal.json" samples ${samples} length ${length}`,
  `defaults { format ${format}${isGgml ? '' : `; group ${group}`}; method ${method} }`,
];
if (!flag('no-evaluate'))
  lines.push(`evaluate { perplexity "eval.json" samples ${evalSamples} length ${evalLength}; kl_divergence }`);
if (output === 'fake') lines.push('output fake "out.safetensors"');
if (output === 'gguf') lines.push('output gguf "out.gguf"');
const recipe = path.join(dir, 'bench.quant');
fs.writeFileSync(recipe, lines.join('\n') + '\n');

const check = spawnSync(process.execPath, [cli, 'check', recipe], { encoding: 'utf8' });
const estimate = /peak memory[^\n]*/i.exec(check.stdout + check.stderr)?.[0] ?? '(no estimate printed)';

const t = spawnSync(
  '/usr/bin/time',
  ['-v', process.execPath, cli, 'run', recipe, '--threads', threads, '--events', '--report-dir', path.join(dir, 'r')],
  { encoding: 'utf8', maxBuffer: 1 << 30 },
);
const rss = +(/Maximum resident set size \(kbytes\): (\d+)/.exec(t.stderr)?.[1] ?? 0) * 1024;
const wall = /Elapsed \(wall clock\) time[^:]*: ([\d:.]+)/.exec(t.stderr)?.[1] ?? '?';
const seconds = wall.split(':').reduce((acc, x) => acc * 60 + +x, 0);
let done, evaluation;
for (const l of t.stdout.split('\n')) {
  if (!l.startsWith('{')) continue;
  const e = JSON.parse(l);
  if (e.type === 'done') done = e;
  if (e.type === 'evaluation') evaluation = e;
  if (e.type === 'error') console.error(`error: ${e.code}: ${e.message}`);
}
const gib = (b) => (b / 2 ** 30).toFixed(2) + ' GiB';
console.log(
  `${label}: ${path.basename(model)} ${method} ${format} cal ${samples}x${length}` +
    (flag('no-evaluate') ? '' : ` eval ${evalSamples}x${evalLength}`) +
    ` output ${output}, threads ${threads}`,
);
console.log(
  `  exit ${t.status}${t.signal ? ` (signal ${t.signal})` : ''}, wall ${seconds.toFixed(1)} s, peak RSS ${gib(rss)}`,
);
console.log(`  estimate: ${estimate}`);
if (done?.phases)
  console.log(
    `  phases: ${Object.entries(done.phases)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ')}`,
  );
if (evaluation)
  console.log(
    `  evaluation: ppl ${evaluation.perplexityOriginal.toFixed(3)} -> ${evaluation.perplexityQuantized.toFixed(3)}, KL mean ${evaluation.klMean.toExponential(3)}`,
  );
if (t.status !== 0) console.log(t.stderr.split('\n').slice(-30).join('\n'));
fs.rmSync(dir, { recursive: true, force: true });
