#!/usr/bin/env node
// A long fuzzing session of every native reader (what `npm test` does for ~12 s per
// target, for an hour by default): the wall time is shared between the targets, `--jobs`
// at a time. Run it with `nice` on a shared machine. Failures print the report and the
// saved input (native/fuzz/build/artifacts/); fix them and add the input to
// native/fuzz/corpus/<target>/. --merge adds the inputs that reached new code to the
// corpus afterwards (only those; small files: -max_len 64 KiB).
//
//   nice node bench/fuzz-long.mjs [--minutes 60] [--jobs 2] [--targets a,b] [--merge]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const minutes = Number(opt('--minutes', '60'));
const jobs = Math.max(1, Number(opt('--jobs', String(os.availableParallelism?.() ?? os.cpus().length))));
const all = fs
  .readdirSync(path.join(root, 'native', 'fuzz'))
  .filter((f) => f.endsWith('.cc'))
  .map((f) => f.slice(0, -3));
const targets = opt('--targets', all.join(',')).split(',');
// Every target gets the same share; `jobs` of them run at once.
const seconds = Math.max(10, Math.floor((minutes * 60 * jobs) / targets.length));

console.log(`fuzz-long: ${targets.length} targets x ${seconds} s, ${jobs} at a time (~${minutes} min)`);
const started = Date.now();
const r = spawnSync(
  process.execPath,
  [
    path.join(root, 'scripts', 'fuzz.mjs'),
    '--seconds',
    String(seconds),
    '--jobs',
    String(jobs),
    '--targets',
    targets.join(','),
    ...(args.includes('--merge') ? ['--merge'] : []),
  ],
  { stdio: 'inherit' },
);
console.log(`fuzz-long: ${((Date.now() - started) / 60000).toFixed(1)} min, exit ${r.status}`);
process.exit(r.status ?? 1);
