// The CLI as a user runs it: node dist/cli.js (the bundle `npx bitsmith` runs).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-cli-'));
const write = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};
const model = path.join(root, 'examples/stories260K');

describe('cli', () => {
  before(() => assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm install (npm run build)'));

  for (const example of ['int4.quant', 'mixed.quant']) {
    it(`check passes on examples/${example}`, () => {
      const r = run('check', `examples/${example}`);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /no problems/);
    });
  }

  it('check passes on examples/ggml.quant with no run warnings (ggml block formats run)', () => {
    const r = run('check', 'examples/ggml.quant');
    assert.equal(r.code, 0, r.out + r.err);
    assert.doesNotMatch(r.out, /llama\.cpp block format|not executed by bitsmith run|not written by bitsmith run/);
    // The bundled model has no tokenizer.json: the one thing said, on the output line.
    assert.match(
      r.out,
      /ggml\.quant:\d+:1: warning: output gguf: written without a tokenizer .*\[output\/gguf-metadata\]/,
    );
    assert.match(r.out, /0 error\(s\), 1 warning\(s\)/);
  });

  it('check reports errors as file:line:col with codes and exits 1', () => {
    const f = write('broken.quant', `model "${model}"\ndefaults {\n  formt int4\n  format int4; group 32\n}\n`);
    const r = run('check', f);
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /broken\.quant:3:3: error: Unknown property 'formt'\. Did you mean 'format'\? \[recipe\/unknown-property\]/,
    );
    assert.match(
      r.out,
      /broken\.quant:4:16: error: group 32 does not divide the input dimension of model\.layers\.0\.mlp\.down_proj\.weight \[64, 172\]/,
    );
  });

  it('check --json gives 0-based LSP ranges', () => {
    const f = write('json.quant', `model "${model}"\nbudget 4.5\n`);
    const r = run('check', f, '--json');
    assert.equal(r.code, 1);
    const j = JSON.parse(r.out);
    const d = j.diagnostics.find((x: { code: string }) => x.code === 'recipe/missing-unit');
    assert.deepEqual(d.range, { start: { line: 1, character: 7 }, end: { line: 1, character: 10 } });
  });

  it('check names an unreadable model on the model line', () => {
    const f = write('missing.quant', 'model "no/such/model"\ndefaults { format int8 }\n');
    const r = run('check', f);
    assert.equal(r.code, 1);
    assert.match(r.out, /missing\.quant:1:7: error: .*no\/such\/model/);
  });

  it('budget prints per-rule and per-tensor bpw and the totals', () => {
    const r = run('budget', 'examples/int4.quant');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /model\.layers\.0\.self_attn\.q_proj\.weight\s+64x64\s+F32\s+int4\s+32\s+4\.5\s/);
    assert.match(r.out, /total: \d+ of \d+ tensors quantized/);
  });

  it('budget --json agrees with the plan arithmetic', () => {
    const r = run('budget', 'examples/mixed.quant', '--json');
    assert.equal(r.code, 0, r.err);
    const { plan } = JSON.parse(r.out);
    const sum = plan.tensors.reduce((a: number, t: { bytesOut: number }) => a + t.bytesOut, 0);
    assert.equal(plan.totals.bytesOut, sum);
    const q = plan.tensors.find((t: { name: string }) => t.name === 'model.layers.2.self_attn.q_proj.weight');
    // int4, group 32, asymmetric: 4 + (16+16)/32 = 5 bpw
    assert.equal(q.format, 'int4');
    assert.equal(q.bpw, 5);
    assert.ok(plan.budget.fits);
  });

  it('inspect lists the tensors of the llama2.c checkpoint under Hugging Face names', () => {
    const r = run('inspect', 'examples/stories260K/stories260K.bin', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.format, 'llama2c');
    assert.ok(
      j.tensors.some(
        (t: { name: string; shape: number[] }) =>
          t.name === 'model.layers.4.mlp.down_proj.weight' && t.shape.join() === '64,172',
      ),
    );
  });

  it('inspect of a hostile file is a clear error, exit 1', () => {
    const f = write(
      'bad.safetensors',
      Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]), Buffer.from('{}')]).toString('latin1'),
    );
    const r = run('inspect', f);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.safetensors/);
  });

  it('usage errors exit 2', () => {
    assert.equal(run('frobnicate').code, 2);
    assert.equal(run('check').code, 2);
    assert.equal(run('check', path.join(tmp, 'nope.quant')).code, 2);
  });
});
