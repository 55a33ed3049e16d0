// gptq and awq need a layer's input activations: on weights without them (the token
// embedding) they fall back to rtn visibly (a hint on the rule, the report names the method
// asked for), and a rule that asks for them only where they cannot run is an error.
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

describe('cli: gptq/awq without input activations', function () {
  this.timeout(120000);
  let tmp: string;
  const recipe = (name: string, lines: string[]) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, [`model "${MODEL}"`, 'calibration generated samples 4 length 64', ...lines].join('\n') + '\n');
    return p;
  };
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-fallback-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const method of ['gptq', 'awq']) {
    it(`${method} on every weight: a hint on the rule, the embedding runs as rtn and the report says so`, () => {
      const file = recipe(`${method}.quant`, [
        'defaults {',
        '  format int4',
        '  group 32',
        `  method ${method}`,
        '}',
        'match "*.mlp.down_proj" { group channel }',
      ]);
      const check = run('check', file);
      assert.equal(check.code, 0, check.out + check.err);
      assert.match(
        check.out + check.err,
        new RegExp(
          `${method}\\.quant:6:3: hint: method ${method} falls back to rtn for model\\.embed_tokens\\.weight \\(no input activations`,
        ),
      );
      const r = run('run', file, '--json', '--report-dir', path.join(tmp, 'reports'));
      assert.equal(r.code, 0, r.err);
      const rep = JSON.parse(r.out) as RunReport;
      const embed = rep.tensors.find((t) => t.name === 'model.embed_tokens.weight')!;
      assert.equal(embed.method, 'rtn');
      assert.equal(embed.methodRequested, method);
      const q = rep.tensors.find((t) => t.name === 'model.layers.1.self_attn.q_proj.weight')!;
      assert.equal(q.method, method);
      assert.equal(q.methodRequested, undefined);
      const human = run('run', file, '--report-dir', path.join(tmp, 'reports'));
      assert.match(
        human.out,
        new RegExp(`model\\.embed_tokens\\.weight .*\\(${method} -> rtn: no input activations\\)`),
      );
    });
  }

  it('a rule that gives gptq only to weights without activations is an error on its method', () => {
    const file = recipe('embed.quant', [
      'defaults { format int4; group 32 }',
      'match "*.mlp.down_proj" { group channel }',
      'match "model.embed_tokens" {',
      '  method gptq',
      '}',
    ]);
    for (const cmd of ['check', 'run']) {
      const r = run(cmd, file);
      assert.equal(r.code, 1, cmd);
      assert.match(
        r.out + r.err,
        /embed\.quant:6:3: error: method gptq needs a layer's input activations, which model\.embed_tokens\.weight does not have .* \[method\/no-activations\]/,
      );
    }
  });
});
