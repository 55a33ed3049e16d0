#!/usr/bin/env node
// Forward-pass throughput for calibration: tokens per second of the batched forward pass
// (one call per whole sequence, every linear layer one GEMM over its tokens) with the
// Hessian collection calibration does (X^T X per linear input, f64), the same without
// Hessians, and one token at a time through the KV cache with next-token logits (what a
// llama2.c-style reference does), at 1 and 2 threads. Models: the bundled stories260K
// and a synthetic ~100M-parameter Llama (bf16, written on demand by
// bench/make-synthetic-model.mjs into the temp folder).
//
//   node bench/forward-bench.mjs [--threads 1,2] [--params 1e8] [--model DIR]
//       [--stories-seqs 32] [--big-seqs 4] [--length 256] [--repeat 3] [--skip-big] [--skip-incremental]
//
// Reference point (from the issue): a one-token-at-a-time C implementation does about
// 6,500 tokens/s on stories260K; batched calibration should do several times better.
// Run `npm run build:native` first. Model loading and packing are excluded from the times.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chooseArchitecture, writeSyntheticModel } from './make-synthetic-model.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = createRequire(import.meta.url)(path.join(root, 'native'));
const fwd = native.forward;

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const threadList = opt('--threads', '1,2').split(',').map(Number);
const params = Number(opt('--params', '1e8'));
const length = Number(opt('--length', '256'));
const storiesSeqs = Number(opt('--stories-seqs', '32'));
const bigSeqs = Number(opt('--big-seqs', '4'));
const skipIncremental = args.includes('--skip-incremental');

function ensureBig() {
  const dir = path.resolve(
    opt('--model', path.join(os.tmpdir(), 'bitsmith-bench', `llama-${params.toExponential().replace('+', '')}-bf16`)),
  );
  const arch = chooseArchitecture({ params });
  const cfgPath = path.join(dir, 'config.json');
  if (fs.existsSync(cfgPath) && fs.existsSync(path.join(dir, 'model.safetensors'))) {
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    if (opt('--model') || (cfg.hidden_size === arch.dim && cfg.num_hidden_layers === arch.layers)) return dir;
  }
  process.stderr.write(`bench: writing a ${params.toExponential()} parameter bf16 model to ${dir} ...\n`);
  writeSyntheticModel(dir, { params });
  return dir;
}

/** n sequences of `len` ids: BOS then ids from a fixed LCG (throughput does not depend on content). */
function sequences(n, len, vocab) {
  let s = 12345;
  const out = [];
  for (let i = 0; i < n; i++) {
    const q = [1];
    while (q.length < len) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      q.push(2 + (s % (vocab - 2)));
    }
    out.push(q);
  }
  return out;
}

// Best of --repeat runs (the machine may be shared). CPU seconds: the process's CPU time
// (all threads) over the timed part, which other processes competing for the cores do not
// inflate: tokens per CPU second is the work rate of one core.
const repeat = Math.max(1, Number(opt('--repeat', '3')));
function measure(label, model, seqs, opts) {
  const rows = [];
  for (const threads of threadList) {
    let best;
    for (let i = 0; i < repeat; i++) {
      const r = fwd.bench(model, seqs, { ...opts, threads });
      const row = {
        label,
        threads: r.threads,
        tokens: r.tokens,
        seconds: r.seconds,
        tps: r.tokens / r.seconds,
        load: r.loadSeconds,
        cpu: r.cpuSeconds,
      };
      if (!best || row.seconds < best.seconds) best = row;
    }
    rows.push(best);
  }
  return rows;
}

function report(title, cfg, rows) {
  console.log(
    `\n${title}: dim ${cfg.dim}, hidden ${cfg.hidden}, ${cfg.layers} layers, ${cfg.heads}/${cfg.kvHeads} heads, vocab ${cfg.vocab}`,
  );
  console.log('  mode                              threads   tokens   seconds     tokens/s    CPU s  tokens/CPU-s');
  for (const r of rows)
    console.log(
      `  ${r.label.padEnd(34)}${String(r.threads).padStart(7)}${String(r.tokens).padStart(9)}${r.seconds.toFixed(3).padStart(10)}${Math.round(r.tps).toLocaleString('en-US').padStart(13)}${r.cpu.toFixed(2).padStart(9)}${Math.round(
        r.tokens / r.cpu,
      )
        .toLocaleString('en-US')
        .padStart(14)}`,
    );
}

console.log(
  `bitsmith forward-bench: GEMM kernel ${native.linalg.gemmKernel()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), sequences of ${length} tokens`,
);

const stories = path.join(root, 'examples', 'stories260K');
{
  const cfg = fwd.config(stories);
  const seqs = sequences(storiesSeqs, Math.min(length, cfg.maxPositions || length), cfg.vocab);
  fwd.bench(stories, seqs.slice(0, 2), { threads: threadList[0] }); // warm-up
  const rows = [
    ...measure('batched + Hessians (calibration)', stories, seqs, { hessians: true }),
    ...measure('batched, forward only', stories, seqs, { hessians: false }),
    ...(skipIncremental ? [] : measure('one token at a time (KV cache)', stories, seqs, { mode: 'incremental' })),
  ];
  report('stories260K', cfg, rows);
}

if (!args.includes('--skip-big')) {
  const big = ensureBig();
  const cfg = fwd.config(big);
  const seqs = sequences(bigSeqs, length, cfg.vocab);
  const rows = [
    ...measure('batched + Hessians (calibration)', big, seqs, { hessians: true }),
    ...measure('batched, forward only', big, seqs, { hessians: false }),
    ...(skipIncremental
      ? []
      : measure('one token at a time (KV cache)', big, seqs.slice(0, 1), { mode: 'incremental' })),
  ];
  const p = fs.statSync(path.join(big, 'model.safetensors')).size / 2;
  report(`synthetic Llama (~${(p / 1e6).toFixed(0)}M params, ${big})`, cfg, rows);
}
