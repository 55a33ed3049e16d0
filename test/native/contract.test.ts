// The run contract (cli/src/run/contract.schema.json), checked on both sides: every job the
// CLI builds from the examples validates; every member of a job is read by the native
// parser (napi/run_api.cc); every event the runner emits on those jobs validates, and
// every event type is one core/src/runReport.ts declares.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ggufSpecFor, runOutput, buildJob } from '../../cli/src/run/job';
import { loadRecipe } from '../../cli/src/load';
import { planToJson, pushAll } from '../../core/src/index';
import { propertyNames, validate, type Schema } from '../helpers/jsonSchema';

const root = path.resolve(__dirname, '../..');
const schema = JSON.parse(fs.readFileSync(path.join(root, 'cli/src/run/contract.schema.json'), 'utf8')) as Schema;
const defs = schema.definitions as Record<string, Schema>;
const addon = require(path.join(root, 'native')) as {
  startRun(job: unknown, onEvent: (e: Record<string, unknown>) => void): { done: Promise<unknown> };
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-contract-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function jobsFromExamples() {
  const dir = path.join(root, 'examples');
  const jobs: { name: string; job: ReturnType<typeof buildJob> }[] = [];
  for (const f of fs
    .readdirSync(dir)
    .filter((x) => x.endsWith('.quant'))
    .sort()) {
    // Copied beside the model so relative paths resolve; outputs go to the temporary folder.
    const loaded = loadRecipe(path.join(dir, f))!;
    if (loaded.analysis.diagnostics.some((d) => d.severity === 'error')) continue;
    if (loaded.analysis.allocation) continue; // allocate measures first (cli/src/run/measure.ts)
    const plan = planToJson(loaded.analysis, loaded.text)!;
    const target = runOutput(loaded);
    const gguf = loaded.analysis.recipe.outputs.some((o) => o.kind === 'gguf')
      ? { path: path.join(tmp, `${f}.gguf`), spec: ggufSpecFor(loaded, plan, '0.0.0') }
      : undefined;
    const job = buildJob(loaded, plan, {
      threads: 2,
      output: target ? path.join(tmp, `${f}.${target.kind === 'fake' ? 'safetensors' : 'ct'}`) : undefined,
      outputKind: target?.kind,
      version: '0.0.0',
      gguf,
    });
    if (job.logitsCache) job.logitsCache = path.join(tmp, 'logits');
    jobs.push({ name: f, job });
  }
  return jobs;
}

describe('run contract (cli/src/run/contract.schema.json)', function () {
  this.timeout(300000);
  const jobs = jobsFromExamples();

  it('every job the CLI builds from the examples validates', () => {
    assert.ok(jobs.length >= 8, `${jobs.length} example jobs`);
    const members = new Set<string>();
    for (const { name, job } of jobs) {
      assert.deepEqual(validate(schema, defs.job, job), [], name);
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object')
          for (const [k, x] of Object.entries(v)) {
            members.add(k);
            walk(x);
          }
      };
      walk(job);
    }
    // The examples exercise the contract: calibration, evaluate, gguf, outputs, methods.
    for (const k of ['calibration', 'evaluate', 'gguf', 'output', 'imatrix', 'sequential', 'logitsCache', 'method'])
      assert.ok(members.has(k), `no example job sends ${k}`);
  });

  it('the native parsers read every member of the job', () => {
    // The job's own members in run_api.cc; each tensor's quantizer config in quant_config.cc.
    const src = ['run_api.cc', 'quant_config.cc']
      .map((f) => fs.readFileSync(path.join(root, 'native/src/napi', f), 'utf8'))
      .join('\n');
    const literals = new Set([...src.matchAll(/"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((m) => m[1]));
    const names = propertyNames(schema, defs.job);
    assert.ok(names.length > 30);
    const unread = names.filter(([k]) => !literals.has(k)).map(([, p]) => p);
    assert.deepEqual(unread, [], 'job members napi/run_api.cc and quant_config.cc never read');
  });

  it('every event type the runner emits is declared by core/src/runReport.ts', () => {
    const ts = fs.readFileSync(path.join(root, 'core/src/runReport.ts'), 'utf8');
    for (const k of Object.keys(defs).filter((d) => d.startsWith('event.')))
      assert.match(ts, new RegExp(`type: '${k.slice(6)}'`), k);
  });

  it('every event the runner emits on the example jobs validates', async () => {
    const seen = new Set<string>();
    for (const { name, job } of jobs) {
      const problems: string[] = [];
      const h = addon.startRun(job, (e) => {
        seen.add(e.type as string);
        const def = defs[`event.${e.type as string}`];
        if (!def) problems.push(`unknown event type ${String(e.type)}`);
        else pushAll(problems, validate(schema, def, e, `${name} ${String(e.type)}`));
      });
      await h.done;
      assert.deepEqual(problems.slice(0, 5), [], name);
    }
    for (const t of ['start', 'progress', 'calibration', 'importance', 'tensor-start', 'tensor', 'evaluation', 'done'])
      assert.ok(seen.has(t), `no example emitted ${t}`);
    // An error event validates too.
    const errors: Record<string, unknown>[] = [];
    const bad = addon.startRun({ model: path.join(tmp, 'missing'), tensors: [] }, (e) => errors.push(e));
    await bad.done.catch(() => undefined);
    assert.equal(errors.length, 1);
    assert.deepEqual(validate(schema, defs['event.error'], errors[0]), []);
  });
});
