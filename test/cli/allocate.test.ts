// bitsmith allocate and run with `allocate`, end to end on the bundled stories260K: the
// first call measures (errors per format, KL divergences per tensor) into the cache, the
// second reuses it; the allocation fits the budget, honours the pin, and `run` executes
// exactly it. Against uniform int4 at no smaller size, the allocation's measured KL
// divergence is lower: the point of measuring.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { RunReport } from '../../core/src/runReport';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const MODEL = path.join(root, 'examples/stories260K');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

interface AllocJson {
  bytes: number;
  bpw: number;
  error: number;
  bound: number;
  gap: number;
  optimal: boolean;
  budget: { bytes: number; bpw: number };
  counts: Record<string, number>;
  tensors: { name: string; format: string; bytes: number; error?: number; pinned: boolean }[];
  frontier?: { budget: number; bytes: number; error: number }[];
}

describe('cli allocate', function () {
  this.timeout(300000);
  let tmp: string;
  const recipe = (name: string, lines: string[]) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, lines.join('\n') + '\n');
    return p;
  };
  const common = [
    `model "${MODEL}"`,
    'calibration generated samples 8 length 128',
    'defaults { format int4; group 32 }',
    'match "*.mlp.down_proj" { group channel }',
    'evaluate { perplexity samples 8 length 128; kl_divergence }',
  ];
  let file: string;

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-allocate-'));
    file = recipe('alloc.quant', [
      ...common,
      'budget 4.48 bpw',
      'match "*.layers.0.self_attn.v_proj" { format int8 }',
      'allocate { formats int2 int3 int4 int5 int6 int8; metric output }',
    ]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('measures once into the cache, then allocates from it: within budget, pin honoured, optimal on this size', () => {
    const before = run('check', file);
    assert.match(
      before.out + before.err,
      /info: 210 \(tensor, candidate\) errors and 35 KL divergences not measured yet/,
    );
    const first = run('allocate', file, '--json', '--frontier');
    assert.equal(first.code, 0, first.err);
    const a = JSON.parse(first.out) as AllocJson;
    assert.ok(a.bytes <= a.budget.bytes, `${a.bytes} <= ${a.budget.bytes}`);
    assert.ok(a.bpw > 4.3, `spends the budget (${a.bpw} bpw)`);
    assert.equal(a.tensors.find((t) => t.name === 'model.layers.0.self_attn.v_proj.weight')!.format, 'int8');
    assert.ok(a.tensors.find((t) => t.name === 'model.layers.0.self_attn.v_proj.weight')!.pinned);
    assert.ok(a.optimal, 'every item in the exact repair for 35 tensors');
    assert.ok(Object.keys(a.counts).length >= 3, `a real mix: ${JSON.stringify(a.counts)}`);
    assert.equal(a.tensors.reduce((s, t) => s + t.bytes, 0) + 0 <= a.bytes, true);
    // The frontier falls as bytes grow, and the chosen point is on it.
    const f = a.frontier!;
    for (let i = 1; i < f.length; i++) assert.ok(f[i].error <= f[i - 1].error, `frontier point ${i}`);
    const cache = fs.readdirSync(path.join(tmp, '.bitsmith', 'measure'));
    assert.equal(cache.length, 1);

    const t0 = Date.now();
    const second = run('allocate', file, '--json');
    assert.equal(second.code, 0, second.err);
    assert.ok(!/measured/.test(second.err), 'nothing re-measured');
    assert.deepEqual((JSON.parse(second.out) as AllocJson).tensors, a.tensors);
    assert.ok(Date.now() - t0 < 20000);
    const check = run('check', file);
    assert.doesNotMatch(check.out + check.err, /not measured yet/);
  });

  it('run executes the allocation, and its KL divergence beats uniform int4 at no smaller size', () => {
    const alloc = JSON.parse(run('allocate', file, '--json').out) as AllocJson;
    const r = run('run', file, '--json', '--report-dir', path.join(tmp, 'reports'));
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as RunReport;
    const byName = new Map(rep.tensors.map((t) => [t.name, t]));
    for (const t of alloc.tensors) assert.equal(byName.get(t.name)!.format, t.format, t.name);
    assert.equal(rep.totals.bytesOut, alloc.bytes);
    // The report carries the prediction beside the measurement.
    assert.deepEqual(rep.allocation!.counts, alloc.counts);
    assert.equal(rep.allocation!.predictedError, alloc.error);
    assert.equal(rep.allocation!.metric, 'output');
    const human = run('run', file, '--report-dir', path.join(tmp, 'reports'));
    assert.match(
      human.out,
      /allocation \(metric output\): .*; predicted KL [\d.e+-]+, measured KL [\d.e+-]+ \(ratio [\d.]+\)/,
    );

    const uniform = recipe('uniform.quant', common);
    const u = run('run', uniform, '--json', '--report-dir', path.join(tmp, 'reports'));
    assert.equal(u.code, 0, u.err);
    const ur = JSON.parse(u.out) as RunReport;
    assert.ok(
      ur.totals.bytesOut >= rep.totals.bytesOut,
      `uniform ${ur.totals.bytesOut} >= allocated ${rep.totals.bytesOut} bytes`,
    );
    assert.ok(
      rep.evaluation!.klMean < ur.evaluation!.klMean,
      `allocated KL ${rep.evaluation!.klMean} < uniform ${ur.evaluation!.klMean}`,
    );
  });

  it('an infeasible budget fails allocate and run with the error on the budget line', () => {
    const bad = recipe('tight.quant', [...common, 'budget 2 bpw', 'allocate { formats int2 int4 }']);
    for (const cmd of ['allocate', 'run']) {
      const r = run(cmd, bad);
      assert.equal(r.code, 1, cmd);
      assert.match(
        r.err,
        /tight\.quant:6:1: error: The budget cannot be met: with the smallest candidates the model is .* bpw\), over the budget .* \[allocate\/infeasible\]/,
      );
    }
  });
});
