#!/usr/bin/env node
// Read throughput of the native model readers, this build against another addon (e.g. one
// built from main: the memory-mapped reader) in the same run, alternating, on the same
// page-cached synthetic model. Each measurement is a fresh process with BITSMITH_NATIVE
// set; figures are medians over --repeat runs and the ratio this / baseline.
//
//   node bench/read-bench.mjs --baseline PATH/bitsmith.node [--params 3e8] [--dtype bf16]
//       [--repeat 5] [--threads 2] [--modes read,copy,int8]
//
//   read   readTensor of every tensor (open, pread, convert to f32; one thread)
//   copy   a run keeping every tensor, fake-quant output on /dev/shm (raw copy path)
//   int8   a run quantizing every matrix to int8 g128, no output (parallel f32 reads)
// Without --baseline only this build is measured.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticModel } from './make-synthetic-model.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};

// ---- child: one measurement ---------------------------------------------------------------

if (args[0] === '--child') {
  const [, mode, model, threads] = args;
  const require = (await import('node:module')).createRequire(import.meta.url);
  const addon = require(path.join(root, 'native'));
  const info = addon.modelInfo(model);
  const bytes = info.tensors.reduce((a, t) => a + t.bytes, 0);
  let seconds;
  if (mode === 'read') {
    const t0 = process.hrtime.bigint();
    for (const t of info.tensors) addon.readTensor(model, t.name);
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  } else {
    const out = path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), `bitsmith-read-bench-${process.pid}`);
    const tensors = info.tensors.map((t) =>
      mode === 'int8' && t.shape.length === 2
        ? { name: t.name, shape: t.shape, action: 'quantize', config: { format: 'int8', group: 128 } }
        : { name: t.name, shape: t.shape, action: 'keep' },
    );
    const job = {
      model,
      tensors,
      threads: Number(threads),
      ...(mode === 'copy' ? { output: { kind: 'fake', path: path.join(out, 'out.safetensors') } } : {}),
    };
    fs.mkdirSync(out, { recursive: true });
    const done = await addon.startRun(job, () => {}).done;
    fs.rmSync(out, { recursive: true, force: true });
    seconds = done.totals?.seconds ?? done.seconds;
  }
  process.stdout.write(JSON.stringify({ seconds, bytes }));
  process.exit(0);
}

// ---- parent ------------------------------------------------------------------------------

const baseline = opt('--baseline');
const params = Number(opt('--params', '3e8'));
const dtype = opt('--dtype', 'bf16');
const repeat = Math.max(1, Number(opt('--repeat', '5')));
const threads = opt('--threads', '2');
const modes = opt('--modes', 'read,copy,int8').split(',');
const current = path.join(root, 'native', 'build', 'Release', 'bitsmith.node');
const model = path.join(os.tmpdir(), 'bitsmith-bench', `read-${params.toExponential().replace('+', '')}-${dtype}`);

if (!fs.existsSync(path.join(model, 'model.safetensors'))) {
  process.stderr.write(`bench: writing a ${params.toExponential()} parameter ${dtype} model to ${model} ...\n`);
  writeSyntheticModel(model, { params, dtype, quiet: true });
}
// Into the page cache: every measurement reads from memory, not the disk.
fs.readFileSync(path.join(model, 'model.safetensors'));

const addons = [['this build', current], ...(baseline ? [['baseline', path.resolve(baseline)]] : [])];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`model ${model} (${dtype}), ${repeat} runs each, alternating; threads ${threads} for runs`);
for (const mode of modes) {
  const times = new Map(addons.map(([name]) => [name, []]));
  let bytes = 0;
  for (let r = 0; r < repeat; r++) {
    for (const [name, file] of r % 2 ? [...addons].reverse() : addons) {
      const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, model, threads], {
        env: { ...process.env, BITSMITH_NATIVE: file },
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (p.status !== 0) {
        console.error(`bench: ${mode} with ${name} failed: ${p.stderr}`);
        process.exit(1);
      }
      const m = JSON.parse(p.stdout);
      times.get(name).push(m.seconds);
      bytes = m.bytes;
    }
  }
  const line = [`${mode.padEnd(5)}`];
  for (const [name] of addons) {
    const s = median(times.get(name));
    line.push(`${name}: ${s.toFixed(3)} s, ${(bytes / s / 1e9).toFixed(2)} GB/s`);
  }
  if (baseline)
    line.push(`this/baseline time ${(median(times.get('this build')) / median(times.get('baseline'))).toFixed(3)}`);
  console.log(line.join('   '));
}
