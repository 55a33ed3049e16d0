// Scratch workspaces (copies of examples/, so runs never write into the repo), the slow synthetic
// model for the cancel test, and the expected values computed with the CLI.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './server.mjs';

const CLI = path.join(REPO, 'dist', 'cli.js');

/** Copies examples/ (recipes and stories260K; not out/ or .bitsmith/) to `dest`. */
export function copyExamples(dest) {
  const src = path.join(REPO, 'examples');
  fs.mkdirSync(dest, { recursive: true });
  fs.cpSync(src, dest, {
    recursive: true,
    filter: (p) => {
      const rel = path.relative(src, p);
      const top = rel.split(path.sep)[0];
      return top !== 'out' && top !== '.bitsmith';
    },
  });
  return dest;
}

/**
 * Makes the workspace copy of allocate.quant quick to measure: metric weight instead of
 * metric output (one pass per candidate, about 4 s on a loaded 2-core machine, instead of a
 * KL pass per tensor, about 45 s). The editor flow the e2e test checks (Measure, the panel,
 * the info squiggle going away) is the same; the output metric has its CLI tests.
 */
export function quickAllocation(ws) {
  const file = path.join(ws, 'allocate.quant');
  const text = fs.readFileSync(file, 'utf8');
  if (!/^ {2}metric output$/m.test(text))
    throw new Error('examples/allocate.quant no longer has `metric output`: update test/e2e/lib/fixtures.mjs');
  fs.writeFileSync(file, text.replace(/^ {2}metric output$/m, '  metric weight   # e2e: quick to measure'));
}

export function cliJson(args, { allowExit1 = false } = {}) {
  try {
    return JSON.parse(
      execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    );
  } catch (e) {
    if (allowExit1 && e.status === 1 && e.stdout) return JSON.parse(e.stdout);
    throw new Error(`bitsmith ${args.join(' ')} failed (${e.status}): ${e.stderr || e.message}`);
  }
}

/** The exact message `bitsmith check` gives for int4.quant with `format int4` changed to `format int44`. */
export function brokenFormatDiagnostic(scratch) {
  const dir = path.join(scratch, 'broken-check');
  copyExamples(dir);
  const file = path.join(dir, 'int4.quant');
  const text = fs.readFileSync(file, 'utf8');
  if (!/format int4\n/.test(text))
    throw new Error('examples/int4.quant no longer has a `format int4` line: update the e2e test');
  fs.writeFileSync(file, text.replace('format int4\n', 'format int44\n'));
  const out = cliJson(['check', '--json', file], { allowExit1: true });
  const d = out.diagnostics.find((x) => x.severity === 'error');
  if (!d) throw new Error(`bitsmith check found no error in the broken copy: ${JSON.stringify(out)}`);
  return d;
}

/** Tensor counts of a recipe's plan, by action ('quantize', 'keep', ...). */
export function planCounts(recipe) {
  const out = cliJson(['budget', '--json', recipe]);
  const byAction = {};
  for (const t of out.plan.tensors) byAction[t.action] = (byAction[t.action] ?? 0) + 1;
  return {
    total: out.plan.tensors.length,
    byAction,
    tensors: out.plan.tensors.map((t) => t.name),
    actions: out.plan.tensors.map((t) => t.action),
  };
}

/**
 * A workspace whose recipe runs for ~15 s at one thread (94 MiB bf16 synthetic model; low-rank
 * correction and outlier search make each tensor slow), so that it can be cancelled mid-run.
 */
export function makeSlowWorkspace(dest) {
  fs.mkdirSync(dest, { recursive: true });
  execFileSync(
    process.execPath,
    [
      path.join(REPO, 'bench', 'make-synthetic-model.mjs'),
      '--out',
      path.join(dest, 'synth'),
      '--params',
      '5e7',
      '--dtype',
      'bf16',
      '--quiet',
    ],
    { stdio: 'inherit' },
  );
  fs.writeFileSync(
    path.join(dest, 'slow.quant'),
    [
      '# Slow on purpose (about 15 s at one thread): the e2e cancel test stops it midway.',
      'recipe "slow"',
      'model "synth"',
      'threads 1',
      '',
      'defaults {',
      '  format int4',
      '  group 32',
      '  symmetric false',
      '  clip mse',
      '  lowrank 64',
      '  outliers 1%',
      '}',
      '',
      'output fake "out/slow.safetensors"',
      '',
    ].join('\n'),
  );
  const check = cliJson(['check', '--json', path.join(dest, 'slow.quant')], { allowExit1: true });
  if (check.errors) throw new Error(`slow.quant has errors: ${JSON.stringify(check.diagnostics)}`);
  return dest;
}
