// The families as they ship, end to end: a tiny model with each family's real config.json
// key set (test/helpers/families.ts) runs through `bitsmith run` with calibration
// generated, gptq and evaluate (the runner's forward pass reads the Llama 3 rope, Qwen's
// biases and norms, Mistral's window); `bitsmith check` refuses one the forward pass
// cannot run, on the calibration line, before any run.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { forwardSupport } from '../../core/src/analysis/forwardSupport';
import { readModelHeader } from '../../core/src/models/load';
import type { RunReport } from '../../core/src/runReport';
import { FAMILY_NAMES, family, type FamilyName } from '../helpers/families';
import { tinyWeights, writeTinyModel } from '../helpers/tinyLlama';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const run = (...args: (string | string[])[]) => {
  const r = spawnSync(process.execPath, [cli, ...args.flat()], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('cli: model families as they ship', function () {
  this.timeout(120000);
  let tmp: string;
  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-families-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const recipe = (name: string, model: string) => {
    const file = path.join(tmp, `${name}.quant`);
    fs.writeFileSync(
      file,
      [
        `model "${model}"`,
        'calibration generated samples 4 length 24',
        'defaults { format int4; group 4; method gptq }',
        'match "model.embed_tokens" { keep }',
        'match "lm_head" { keep }',
        'evaluate { perplexity samples 4 length 24; kl_divergence }',
        `output fake "${path.join(tmp, name + '.out.safetensors')}"`,
      ].join('\n') + '\n',
    );
    return file;
  };

  for (const name of FAMILY_NAMES) {
    it(`${name}: check is clean; run calibrates, quantizes with gptq and evaluates`, () => {
      const f = family(name);
      const dir = path.join(tmp, name);
      writeTinyModel(dir, f.tiny, 7, undefined, f.config);
      const file = recipe(name, dir);
      const c = run('check', file);
      assert.equal(c.code, 0, c.err + c.out);
      const r = run('run', file, '--json', '--report-dir', path.join(tmp, 'reports'));
      assert.equal(r.code, 0, r.err);
      const rep = JSON.parse(r.out) as RunReport & {
        calibration?: { hessians: number };
        evaluation?: { perplexityOriginal: number; perplexityQuantized: number; klMean: number };
      };
      assert.ok(rep.calibration && rep.calibration.hessians === f.tiny.layers * 4, JSON.stringify(rep.calibration));
      const ev = rep.evaluation!;
      assert.ok(
        Number.isFinite(ev.perplexityOriginal) && ev.perplexityOriginal > 1,
        `perplexity ${ev.perplexityOriginal}`,
      );
      assert.ok(Number.isFinite(ev.klMean) && ev.klMean > 0, `kl ${ev.klMean}`);
    });
  }

  it("bench/make-synthetic-model.mjs --family writes the family's config key set and the tensors the forward pass reads", () => {
    const pairs: [string, FamilyName, string[]][] = [
      ['llama3', 'llama-3.2-1b', ['--tied']],
      ['llama2', 'llama-2', []],
      ['qwen2', 'qwen2.5-0.5b', []],
      ['qwen3', 'qwen3-0.6b', ['--head-dim', '16']],
      ['mistral', 'mistral-7b-v0.1', []],
    ];
    for (const [flag, name, extra] of pairs) {
      const out = path.join(tmp, `synthetic-${flag}`);
      const r = spawnSync(
        process.execPath,
        [
          path.join(root, 'bench/make-synthetic-model.mjs'),
          ['--out', out, '--family', flag, '--dim', '64', '--layers', '2', '--heads', '4', '--kv-heads', '2'],
          ['--hidden', '96', '--vocab', '128', '--dtype', 'f32', '--quiet'],
          extra,
        ].flat(),
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      delete cfg.bitsmith_synthetic;
      assert.deepEqual(Object.keys(cfg), Object.keys(family(name).config), `${flag}: key set and order`);
      const s = forwardSupport(readModelHeader(out));
      assert.ok(s.ok, `${flag}: ${!s.ok ? s.message : ''}`);
      assert.equal(s.arch.qkvBias, flag === 'qwen2');
      assert.equal(s.arch.qkNorm, flag === 'qwen3');
      if (flag === 'llama3')
        assert.deepEqual([s.arch.rope.type, s.arch.rope.factor, s.arch.tied], ['llama3', 32, true]);
      if (flag === 'qwen3') assert.equal(s.arch.headDim, 16);
    }
    // --rope-scaling with the real keys, on the plain config.
    for (const [type, key] of [
      ['linear', 'type'],
      ['dynamic', 'type'],
      ['yarn', 'type'],
      ['llama3', 'rope_type'],
    ]) {
      const out = path.join(tmp, `synthetic-rope-${type}`);
      const r = spawnSync(
        process.execPath,
        [
          path.join(root, 'bench/make-synthetic-model.mjs'),
          '--out',
          out,
          '--params',
          '2e5',
          '--rope-scaling',
          type,
          '--quiet',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as {
        rope_scaling: Record<string, unknown>;
      };
      assert.equal(cfg.rope_scaling[key], type);
      const s = forwardSupport(readModelHeader(out));
      assert.ok(s.ok && s.arch.rope.type === type, !s.ok ? s.message : s.arch.rope.type);
    }
    const bad = spawnSync(
      process.execPath,
      [path.join(root, 'bench/make-synthetic-model.mjs'), '--out', path.join(tmp, 'x'), '--family', 'gpt2'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--family must be one of llama, llama3, llama2, qwen2, qwen3, mistral, not gpt2/);
    assert.ok(!fs.existsSync(path.join(tmp, 'x')), 'nothing written');
  });

  it('check refuses a Llama 3 with an unsupported rope type and a Qwen3 without q_norm, on the calibration line', () => {
    const f = family('llama-3.1-8b');
    const dir = path.join(tmp, 'longrope');
    writeTinyModel(dir, f.tiny, 7, undefined, {
      ...f.config,
      rope_scaling: { rope_type: 'longrope', short_factor: [1, 1], long_factor: [1, 1] },
    });
    const r = run('check', recipe('longrope', dir));
    assert.equal(r.code, 1);
    assert.match(
      r.err + r.out,
      /longrope\.quant:2:1: error: calibration generated runs the built-in forward pass, which cannot run this model: .*llama with rope_scaling of type "longrope"/,
    );
    const q = family('qwen3-0.6b');
    const qdir = path.join(tmp, 'qwen3-no-norm');
    const w = tinyWeights(q.tiny, 7);
    w.delete('model.layers.0.self_attn.q_norm.weight');
    writeTinyModel(qdir, q.tiny, 7, w, q.config);
    const rq = run('check', recipe('qwen3', qdir));
    assert.equal(rq.code, 1);
    assert.match(rq.err + rq.out, /qwen3 forward pass needs tensor "model\.layers\.0\.self_attn\.q_norm\.weight"/);
    assert.match(rq.err + rq.out, /evaluate runs the built-in forward pass/);
  });
});
