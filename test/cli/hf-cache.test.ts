// Hugging Face ids as a user runs them: a cache laid out as huggingface_hub writes it
// (snapshots of links into blobs, refs/main) in a temp folder, found through HF_HUB_CACHE
// or HF_HOME in the child's environment; `run` reads the linked weights and carries the
// linked tokenizer and config files into a compressed-tensors folder as real files;
// `--model` points one recipe at several checkpoints.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { COMMIT_A, COMMIT_B, makeHfRepo, stories260KFiles } from '../helpers/hfCache';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-hfcli-'));
const home = path.join(tmp, 'hfhome');
const cache = path.join(home, 'hub');
const work = path.join(tmp, 'work');
fs.mkdirSync(work);

/** The CLI with the cache found through `cacheVar` (HF_HUB_CACHE or HF_HOME), from `cwd`. */
function run(args: string[], opts: { cacheVar?: 'HF_HUB_CACHE' | 'HF_HOME' | 'none'; cwd?: string } = {}) {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) delete env[k];
  const v = opts.cacheVar ?? 'HF_HUB_CACHE';
  if (v === 'HF_HUB_CACHE') env.HF_HUB_CACHE = cache;
  else if (v === 'HF_HOME') env.HF_HOME = home;
  else env.HF_HUB_CACHE = path.join(tmp, 'empty-cache');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: opts.cwd ?? work, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const write = (name: string, text: string) => {
  const p = path.join(work, name);
  fs.writeFileSync(p, text);
  return p;
};

let repo: string;
const files = stories260KFiles(root);
before(() => {
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm install (npm run build)');
  repo = makeHfRepo(cache, 'tiny/stories260K', [
    { hash: COMMIT_A, files },
    { hash: COMMIT_B, files: { ...files, 'README.md': 'the second revision\n' } },
  ]);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const RULES =
  'defaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\nmatch "model.embed_tokens" { keep }\n';

describe('cli: Hugging Face ids', () => {
  it('check finds the id through HF_HUB_CACHE and through HF_HOME; without the cache it names every path tried', () => {
    const f = write('id.quant', `model "tiny/stories260K"\n${RULES}`);
    for (const cacheVar of ['HF_HUB_CACHE', 'HF_HOME'] as const) {
      const r = run(['check', f], { cacheVar });
      assert.equal(r.code, 0, `${cacheVar}: ${r.out}${r.err}`);
    }
    const r = run(['check', f], { cacheVar: 'none' });
    assert.equal(r.code, 1);
    assert.match(r.out, /id\.quant:1:7: error: "tiny\/stories260K" is not a path/);
    assert.ok(r.out.includes(path.join(work, 'tiny/stories260K')), r.out);
    assert.ok(r.out.includes(path.join(tmp, 'empty-cache', 'models--tiny--stories260K')), r.out);
    assert.match(r.out, /huggingface-cli download tiny\/stories260K/);
  });

  it('budget --json names the id, the revision and the commit; @revision picks another snapshot', () => {
    const f = write('rev.quant', `model "tiny/stories260K@${COMMIT_B.slice(0, 10)}"\n${RULES}`);
    const r = run(['budget', f, '--json']);
    assert.equal(r.code, 0, r.err);
    const { plan } = JSON.parse(r.out);
    assert.equal(plan.model.path, path.join(repo, 'snapshots', COMMIT_B));
    assert.deepEqual(plan.model.hub, { id: 'tiny/stories260K', revision: COMMIT_B.slice(0, 10), commit: COMMIT_B });
  });

  it('run reads the linked weights; a compressed-tensors folder gets the linked files as regular files', () => {
    const f = write(
      'ct.quant',
      `model "tiny/stories260K"\n${RULES}output compressed_tensors "out/ct"\nexport llm_compressor "out/ct.yaml"\n`,
    );
    const r = run(['run', f, '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.deepEqual(report.model.hub, { id: 'tiny/stories260K', revision: 'main', commit: COMMIT_A });
    const out = path.join(work, 'out/ct');
    for (const name of [
      'tokenizer_config.json',
      'generation_config.json',
      'special_tokens_map.json',
      'README.md',
      'LICENSE.llama2c',
    ]) {
      const p = path.join(out, name);
      assert.ok(fs.lstatSync(p).isFile(), `${name} is copied as a regular file, not a link`);
      assert.deepEqual(fs.readFileSync(p), Buffer.from(files[name]), `${name}: the blob's content`);
    }
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'llama');
    assert.equal(config.quantization_config.quant_method, 'compressed-tensors');
    assert.match(
      fs.readFileSync(path.join(work, 'out/ct.yaml'), 'utf8'),
      /# model: tiny\/stories260K@main \(commit a{8}/,
    );
    // Nothing was written into the cache.
    assert.deepEqual(fs.readdirSync(path.join(repo, 'snapshots')).sort(), [COMMIT_A, COMMIT_B].sort());
  });

  it('run reads a sharded snapshot whose index names a shard that links to a blob outside the folder', () => {
    const names = Object.keys(
      JSON.parse(
        (() => {
          const b = fs.readFileSync(path.join(root, 'examples/stories260K/model.safetensors'));
          return b.toString('utf8', 8, 8 + Number(b.readBigUInt64LE(0)));
        })(),
      ) as Record<string, unknown>,
    ).filter((n) => n !== '__metadata__');
    const weightMap = Object.fromEntries(names.map((n) => [n, 'model-00001-of-00001.safetensors']));
    makeHfRepo(cache, 'tiny/sharded', [
      {
        hash: COMMIT_A,
        files: {
          'config.json': files['config.json'],
          'model-00001-of-00001.safetensors': files['model.safetensors'],
          'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: weightMap }),
        },
      },
    ]);
    const f = write('sharded.quant', `model "tiny/sharded"\n${RULES}output fake "out/sharded.safetensors"\n`);
    const r = run(['run', f, '--json']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { tensors: unknown[]; model: { format: string } };
    assert.equal(report.model.format, 'hf-folder');
    assert.equal(report.tensors.length, names.length);
  });

  it('an output inside the snapshot is refused before any write', () => {
    const target = path.join(repo, 'snapshots', COMMIT_A, 'fake.safetensors');
    const f = write('bad.quant', `model "tiny/stories260K"\n${RULES}output fake "${target}"\n`);
    const r = run(['run', f]);
    assert.equal(r.code, 1);
    assert.match(r.out + r.err, /output\/overwrites-model/);
    assert.ok(!fs.existsSync(target));
  });
});

describe('cli: --model', () => {
  // One recipe, no model statement: the checkpoint comes from the command line.
  const recipe = () =>
    write('any.quant', `${RULES}output fake "out/any.safetensors"\nexport llama_quantize "out/any.sh"\n`);

  it('check, budget and export take a path relative to the current folder or an id', () => {
    const f = recipe();
    const byPath = run(['check', f, '--model', 'examples/stories260K'], { cwd: root });
    assert.equal(byPath.code, 0, byPath.out + byPath.err);
    const budget = run(['budget', f, '--json', '--model', 'tiny/stories260K@main']);
    assert.equal(budget.code, 0, budget.err);
    assert.equal(JSON.parse(budget.out).plan.model.hub.commit, COMMIT_A);
    const exp = run(['export', f, '--model', path.join(root, 'examples/stories260K')]);
    assert.equal(exp.code, 0, exp.err);
    assert.match(fs.readFileSync(path.join(work, 'out/any.sh'), 'utf8'), /# model: .*examples\/stories260K/);
    // Without --model the recipe has no model.
    const none = run(['check', f]);
    assert.equal(none.code, 1);
    assert.match(none.out, /recipe\/missing-model/);
    // A --model that names nothing is an error that says so.
    const bad = run(['check', f, '--model', 'nobody/nothing']);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /any\.quant:1:1: error: --model nobody\/nothing: "nobody\/nothing" is not a path/);
  });

  it('run --model overrides the recipe model (the report and the output follow it)', () => {
    const f = write('pinned.quant', `model "does/not-exist"\n${RULES}output fake "out/pinned.safetensors"\n`);
    const r = run(['run', f, '--json', '--model', 'tiny/stories260K@main']);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.model.path, path.join(repo, 'snapshots', COMMIT_A));
    assert.ok(fs.statSync(path.join(work, 'out/pinned.safetensors')).size > 0);
  });

  it('allocate --model measures the given checkpoint', () => {
    const f = write(
      'alloc.quant',
      'calibration generated samples 2 length 16\nbudget 6 bpw\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\nallocate { formats int4 int8; metric weight }\n',
    );
    const r = run(['allocate', f, '--json', '--model', 'tiny/stories260K']);
    assert.equal(r.code, 0, r.err);
    const a = JSON.parse(r.out) as { type: string; measurements: string; counts: Record<string, number> };
    assert.equal(a.type, 'allocation');
    assert.ok(Object.values(a.counts).reduce((x, y) => x + y, 0) > 0, r.out);
    // The measurements were taken on the snapshot the id resolves to.
    const m = JSON.parse(fs.readFileSync(a.measurements, 'utf8')) as { context: { model: string } };
    assert.equal(m.context.model, path.join(repo, 'snapshots', COMMIT_A));
  });
});
