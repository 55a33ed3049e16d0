#!/usr/bin/env node
// The native fuzzers (native/fuzz/*.cc, libFuzzer): builds them with clang under
// AddressSanitizer + UndefinedBehaviorSanitizer into native/fuzz/build/ (ignored by git;
// objects are rebuilt only when a source or a header they include changed), replays the
// whole corpus (native/fuzz/corpus/<target>/: seeds and every input that ever failed) as
// a regression test, then fuzzes each target for a bounded time. Exits 1 on any crash,
// sanitizer report, leak, timeout or allocation over the limit, printing the report and
// the saved input (native/fuzz/build/artifacts/).
//
//   node scripts/fuzz.mjs [--seconds 12] [--targets json,gguf,...] [--jobs N]
//       [--regression-only] [--merge] [--quiet]
//
//   --seconds S        fuzz each target for S seconds after the replay (0: replay only)
//   --jobs N           targets fuzzed at once (default: the number of CPUs)
//   --merge            afterwards, add the inputs that found new coverage to the corpus
//                      (libFuzzer -merge=1: only those that add coverage)
// Needs clang with libFuzzer: `bash scripts/setup-system.sh fuzz` installs it on Debian.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'native', 'src');
const fuzzDir = path.join(root, 'native', 'fuzz');
const build = path.join(fuzzDir, 'build');
const corpusRoot = path.join(fuzzDir, 'corpus');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const seconds = Number(opt('--seconds', '12'));
const jobs = Math.max(1, Number(opt('--jobs', String(os.availableParallelism?.() ?? os.cpus().length))));
const regressionOnly = args.includes('--regression-only') || seconds <= 0;
const merge = args.includes('--merge');
const quiet = args.includes('--quiet');
const allTargets = fs
  .readdirSync(fuzzDir)
  .filter((f) => f.endsWith('.cc'))
  .map((f) => f.slice(0, -3))
  .sort();
const targets = opt('--targets', allTargets.join(',')).split(',');
for (const t of targets) {
  if (!allTargets.includes(t)) {
    console.error(`fuzz: unknown target '${t}' (${allTargets.join(', ')})`);
    process.exit(2);
  }
}
const log = (s) => {
  if (!quiet) process.stdout.write(`${s}\n`);
};

// ---- the compiler ----------------------------------------------------------------------

function findClang() {
  const candidates = process.env.CXX_FUZZ ? [process.env.CXX_FUZZ] : ['clang++', 'clang++-14'];
  for (let v = 20; v >= 13; v--) candidates.push(`clang++-${v}`);
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return undefined;
}
const cxx = findClang();
if (!cxx) {
  console.error(
    'fuzz: clang++ not found; install it with `bash scripts/setup-system.sh fuzz` (Debian: clang-14 libclang-rt-14-dev)',
  );
  process.exit(1);
}

// The addon's own warning flags (native/binding.gyp, a Python literal: '#' comments), as
// errors: the native sources stay warning-free under clang as well as gcc.
const gyp = JSON.parse(
  fs
    .readFileSync(path.join(root, 'native', 'binding.gyp'), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n'),
);
const warnings = gyp.targets[0].cflags_cc.filter((f) => f.startsWith('-W'));
const sanitize = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
const cflags = [
  '-std=c++17',
  '-O1',
  '-g',
  '-fno-omit-frame-pointer',
  '-pthread',
  ...warnings,
  '-Werror',
  `-I${src}`,
  // As binding.gyp defines it (provenance written into outputs).
  `-DBITSMITH_VERSION="${JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version}"`,
  ...sanitize,
  ...(process.arch === 'x64' ? ['-march=x86-64-v2'] : []),
];

// ---- incremental build -------------------------------------------------------------------

function sourcesUnder(dir) {
  return fs
    .readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.cc'))
    .map((f) => path.join(dir, f))
    .sort();
}

const mtime = (p) => {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

/** True when obj is missing or older than a dependency in its .d file (or the flags changed). */
function stale(obj, dep, flagsFile) {
  const t = mtime(obj);
  if (t < 0 || !fs.existsSync(dep) || mtime(flagsFile) > t) return true;
  const text = fs.readFileSync(dep, 'utf8').replace(/\\\n/g, ' ');
  const deps = text
    .slice(text.indexOf(':') + 1)
    .split(/\s+/)
    .filter(Boolean);
  return deps.some((d) => mtime(d) < 0 || mtime(d) > t);
}

function runParallel(tasks, limit) {
  return new Promise((resolve) => {
    const results = new Array(tasks.length);
    let next = 0;
    let running = 0;
    const start = () => {
      if (next >= tasks.length && running === 0) return resolve(results);
      while (running < limit && next < tasks.length) {
        const i = next++;
        running++;
        tasks[i]().then((r) => {
          results[i] = r;
          running--;
          start();
        });
      }
    };
    start();
  });
}

function exec(cmd, argv, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, ...opts });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
}

async function buildAll() {
  fs.mkdirSync(path.join(build, 'obj'), { recursive: true });
  // The flags are part of every object: a change rebuilds all.
  const flagsFile = path.join(build, 'flags.txt');
  const flags = [cxx, ...cflags].join(' ');
  if (!fs.existsSync(flagsFile) || fs.readFileSync(flagsFile, 'utf8') !== flags) fs.writeFileSync(flagsFile, flags);

  // The backend minus its N-API layer, and the harnesses.
  const lib = sourcesUnder(src).filter((f) => !f.startsWith(path.join(src, 'napi')) && path.basename(f) !== 'addon.cc');
  const units = [
    ...lib.map((f) => ({
      src: f,
      obj: path.join(build, 'obj', path.relative(src, f).replace(/\.cc$/, '.o')),
      fuzz: false,
    })),
    ...targets.map((t) => ({
      src: path.join(fuzzDir, `${t}.cc`),
      obj: path.join(build, 'obj', 'fuzz', `${t}.o`),
      fuzz: true,
    })),
  ];
  const todo = units.filter((u) => stale(u.obj, u.obj.replace(/\.o$/, '.d'), flagsFile));
  if (todo.length) log(`fuzz: compiling ${todo.length} file(s) with ${cxx} (ASan + UBSan)`);
  const results = await runParallel(
    todo.map((u) => () => {
      fs.mkdirSync(path.dirname(u.obj), { recursive: true });
      const extra = u.fuzz ? ['-fsanitize=fuzzer-no-link', `-I${fuzzDir}`] : ['-fsanitize=fuzzer-no-link'];
      return exec(cxx, [
        ...cflags,
        ...extra,
        '-MMD',
        '-MF',
        u.obj.replace(/\.o$/, '.d'),
        '-c',
        u.src,
        '-o',
        u.obj,
      ]).then((r) => ({ ...r, unit: u }));
    }),
    jobs,
  );
  const failed = results.filter((r) => r.code !== 0);
  for (const r of results) if (r.out.trim()) process.stderr.write(r.out);
  if (failed.length) {
    for (const r of failed) fs.rmSync(r.unit.obj, { force: true });
    console.error(`fuzz: ${failed.length} file(s) failed to compile`);
    process.exit(1);
  }
  // Each fuzzer links the library objects it needs from an archive.
  const archive = path.join(build, 'libbitsmith.a');
  const libObjs = units.filter((u) => !u.fuzz).map((u) => u.obj);
  if (todo.some((u) => !u.fuzz) || mtime(archive) < 0) {
    fs.rmSync(archive, { force: true });
    const r = spawnSync('ar', ['rcs', archive, ...libObjs], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`fuzz: ar failed: ${r.stderr}`);
      process.exit(1);
    }
  }
  for (const t of targets) {
    const bin = path.join(build, `fuzz-${t}`);
    const obj = path.join(build, 'obj', 'fuzz', `${t}.o`);
    if (mtime(bin) > Math.max(mtime(obj), mtime(archive))) continue;
    const r = spawnSync(cxx, [...cflags, '-fsanitize=fuzzer', obj, archive, '-o', bin], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`fuzz: linking ${t} failed:\n${r.stderr}`);
      process.exit(1);
    }
  }
}

// ---- running -----------------------------------------------------------------------------

const common = (t) => [
  '-max_len=65536',
  '-rss_limit_mb=2048',
  // Inputs are at most 64 KiB: an allocation of 512 MiB is an unbounded size, not a model.
  '-malloc_limit_mb=512',
  // A hang detector, not a speed test: a single input never legitimately takes a minute.
  '-timeout=60',
  `-artifact_prefix=${path.join(build, 'artifacts', `${t}-`)}`,
  ...(fs.existsSync(path.join(fuzzDir, 'dict', `${t}.dict`))
    ? [`-dict=${path.join(fuzzDir, 'dict', `${t}.dict`)}`]
    : []),
];

function report(t, what, r) {
  const lines = r.out.split('\n');
  const start = Math.max(
    0,
    lines.findIndex((l) => /ERROR: |runtime error|invariant broken|unexpected error code|==\d+==/.test(l)),
  );
  console.error(`\nfuzz: ${t}: ${what} FAILED (exit ${r.code ?? r.signal})`);
  console.error(lines.slice(start, start + 60).join('\n'));
  const artifact = /Test unit written to (\S+)/.exec(r.out);
  if (artifact) {
    console.error(`fuzz: the failing input: ${artifact[1]}`);
    console.error(`fuzz: reproduce: ${path.join(build, `fuzz-${t}`)} ${artifact[1]}`);
    console.error(`fuzz: once fixed, add it to native/fuzz/corpus/${t}/ as a regression case`);
  }
}

const stats = (out) => {
  const cov = [...out.matchAll(/cov: (\d+)/g)].pop();
  const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(out);
  const corpus = [...out.matchAll(/corp: (\d+)/g)].pop();
  return `${execs ? execs[1] : '?'} execs, coverage ${cov ? cov[1] : '?'}, corpus ${corpus ? corpus[1] : '?'}`;
};

async function main() {
  await buildAll();
  fs.mkdirSync(path.join(build, 'artifacts'), { recursive: true });
  let failures = 0;

  // 1. Replay every corpus input once.
  const replays = await runParallel(
    targets.map((t) => async () => {
      const dir = path.join(corpusRoot, t);
      if (!fs.existsSync(dir) || fs.readdirSync(dir).length === 0) return { t, code: 1, out: `no corpus in ${dir}` };
      const r = await exec(path.join(build, `fuzz-${t}`), [...common(t), '-runs=0', dir]);
      return { t, ...r, n: fs.readdirSync(dir).length };
    }),
    jobs,
  );
  for (const r of replays) {
    if (r.code !== 0) {
      failures++;
      report(r.t, 'corpus replay', r);
    } else log(`fuzz: ${r.t}: replayed ${r.n} corpus input(s)`);
  }

  // 2. Fuzz each target for `seconds`; new inputs go to build/work/<t>, not the corpus.
  if (!regressionOnly && failures === 0) {
    const runs = await runParallel(
      targets.map((t) => async () => {
        const work = path.join(build, 'work', t);
        fs.mkdirSync(work, { recursive: true });
        const r = await exec(path.join(build, `fuzz-${t}`), [
          ...common(t),
          `-max_total_time=${seconds}`,
          '-print_final_stats=1',
          work,
          path.join(corpusRoot, t),
        ]);
        return { t, ...r };
      }),
      jobs,
    );
    for (const r of runs) {
      if (r.code !== 0) {
        failures++;
        report(r.t, `fuzzing for ${seconds} s`, r);
      } else log(`fuzz: ${r.t}: ${seconds} s, ${stats(r.out)}`);
    }
  }

  // 3. Optionally keep what found new coverage (small inputs only: -max_len above).
  if (merge && failures === 0) {
    for (const t of targets) {
      const r = await exec(path.join(build, `fuzz-${t}`), [
        ...common(t),
        '-merge=1',
        path.join(corpusRoot, t),
        path.join(build, 'work', t),
      ]);
      if (r.code !== 0) {
        failures++;
        report(t, 'merge', r);
      } else log(`fuzz: ${t}: merged; corpus has ${fs.readdirSync(path.join(corpusRoot, t)).length} input(s)`);
    }
  }
  if (failures) {
    console.error(`\nfuzz: ${failures} failure(s)`);
    process.exit(1);
  }
  log(`fuzz: ${targets.length} target(s) clean`);
}

await main();
