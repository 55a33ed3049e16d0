// Issue 13 through the CLI: hostile recipes and model files give an error naming the file
// (never a hang: every spawn has a timeout, and a timeout fails the test), CR-only recipes
// report the right file:line:col, and a 130,000-tensor model goes through inspect, check
// and budget.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MANY_TENSORS, writeManyTensorModel } from '../helpers/manyTensors';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const stories = path.join(root, 'examples/stories260K');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 90_000,
    maxBuffer: 512 * 1024 * 1024,
  });
  assert.equal(r.signal, null, `bitsmith ${args.join(' ')} was killed (${r.signal}): it hung`);
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const mkfifo = (p: string) => spawnSync('mkfifo', [p]).status === 0;

describe('cli: bounded inputs', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm install (npm run build)');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-cli-bounds-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('check of /dev/zero or a FIFO as the recipe is a usage error, not an endless read', function () {
    if (!fs.existsSync('/dev/zero')) this.skip();
    const z = run('check', '/dev/zero');
    assert.equal(z.code, 2);
    assert.match(z.err, /cannot read \/dev\/zero: is a device, not a regular file/);
    const f = path.join(tmp, 'pipe.quant');
    if (!mkfifo(f)) this.skip();
    const p = run('check', f);
    assert.equal(p.code, 2);
    assert.match(p.err, /pipe\.quant: is a named pipe \(FIFO\), not a regular file/);
  });

  it('a FIFO named model.safetensors or config.json fails check and inspect at once, naming it', function () {
    const dir = path.join(tmp, 'fifo-config');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(stories, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    if (!mkfifo(path.join(dir, 'config.json'))) this.skip();
    const r = path.join(tmp, 'fifo.quant');
    fs.writeFileSync(r, `model "${dir}"\ndefaults { format int8 }\n`);
    const c = run('check', r);
    assert.equal(c.code, 1);
    assert.match(
      c.out,
      /fifo\.quant:1:7: error: .*config\.json: is a named pipe \(FIFO\), not a regular file .*\[model\/unreadable\]/,
    );
    const i = run('inspect', dir);
    assert.equal(i.code, 1);
    assert.match(i.err, /config\.json: is a named pipe \(FIFO\)/);
    const m = path.join(tmp, 'fifo-model');
    fs.mkdirSync(m);
    assert.ok(mkfifo(path.join(m, 'model.safetensors')));
    const b = run('budget', r.replace('fifo.quant', 'fifo2.quant'));
    assert.equal(b.code, 2); // no such recipe yet: a usage error, as before
    fs.writeFileSync(path.join(tmp, 'fifo2.quant'), `model "${m}"\n`);
    const b2 = run('budget', path.join(tmp, 'fifo2.quant'));
    assert.equal(b2.code, 1);
    assert.match(b2.err, /model\.safetensors: is a named pipe \(FIFO\)/);
  });

  it('reports file:line:col of CR-only and CRLF recipes on the right lines', () => {
    for (const eol of ['\r', '\r\n']) {
      const f = path.join(tmp, `eol${eol.length}.quant`);
      fs.writeFileSync(
        f,
        `model "${stories}"${eol}defaults { format int4; group 32 }${eol}${eol}match "*.mlp.down_proj" { formt int8 }${eol}`,
      );
      const r = run('check', f);
      assert.equal(r.code, 1);
      assert.match(r.out, new RegExp(`eol${eol.length}\\.quant:4:27: error: Unknown property 'formt'`));
    }
  });

  it('a lying config.json fails check on the model line before any run', () => {
    const dir = path.join(tmp, 'lying');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(stories, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const config = JSON.parse(fs.readFileSync(path.join(stories, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 2 }));
    const f = path.join(tmp, 'lying.quant');
    fs.writeFileSync(
      f,
      `model "${dir}"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\ncalibration generated\n`,
    );
    const c = run('check', f);
    assert.equal(c.code, 1);
    assert.match(
      c.out,
      /lying\.quant:1:7: error: .*"num_hidden_layers" is 2, but the model's tensors have 5 layers .*\[model\/bad-config\]/,
    );
    const r = run('run', f);
    assert.equal(r.code, 1);
    assert.match(r.err, /not running: the recipe has \d+ errors?/);
  });

  it('runs a model with a zero-size tensor: kept, 0 bytes, in the output as it was', () => {
    const dir = path.join(tmp, 'zero');
    fs.mkdirSync(dir);
    const header = Buffer.from(
      JSON.stringify({
        'a.weight': { dtype: 'F32', shape: [4, 32], data_offsets: [0, 512] },
        'z.weight': { dtype: 'F32', shape: [0, 32], data_offsets: [512, 512] },
      }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const weights = Buffer.alloc(512);
    for (let i = 0; i < 128; i++) weights.writeFloatLE(Math.sin(i), i * 4);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([len, header, weights]));
    const f = path.join(dir, 'zero.quant');
    fs.writeFileSync(
      f,
      'model "model.safetensors"\ndefaults { format int8; group 32 }\noutput fake "out.safetensors"\n',
    );
    assert.equal(run('check', f).code, 0);
    const r = run('run', f, '--json');
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { tensors: { name: string; action: string; bytesOut: number }[] };
    const z = report.tensors.find((t) => t.name === 'z.weight')!;
    assert.deepEqual([z.action, z.bytesOut], ['keep', 0]);
    const out = fs.readFileSync(path.join(dir, 'out.safetensors'));
    const n = Number(out.readBigUInt64LE(0));
    const h = JSON.parse(out.subarray(8, 8 + n).toString('utf8'));
    assert.deepEqual(h['z.weight'].shape, [0, 32]);
  });

  it(`inspect, check and budget a ${MANY_TENSORS}-tensor model`, () => {
    const dir = path.join(tmp, 'many');
    fs.mkdirSync(dir);
    writeManyTensorModel(dir);
    const i = run('inspect', dir);
    assert.equal(i.code, 0, i.err);
    assert.match(i.out, new RegExp(`${MANY_TENSORS} tensors`));
    assert.match(i.out, /model\.layers\.59\.mlp\.experts\.719\.down_proj\.weight\s+2x32\s+F16/);
    const f = path.join(tmp, 'many.quant');
    fs.writeFileSync(
      f,
      `model "${dir}"\ndefaults { format int4; group 32 }\nmatch "*.mlp.experts.*.down_proj" { format int8 }\nmatch "re:.*\\.self_attn\\.(q|k)_proj" { format int8 }\n`,
    );
    const c = run('check', f);
    assert.equal(c.code, 0, c.out + c.err);
    assert.match(c.out, /no problems/);
    const b = run('budget', f);
    assert.equal(b.code, 0, b.err);
    assert.match(b.out, new RegExp(`total: \\d+ of ${MANY_TENSORS} tensors quantized`));
    assert.match(b.out, /model\.layers\.59\.mlp\.experts\.719\.down_proj\.weight\s+2x32\s+F16\s+int8\s+32/);
  });
});
