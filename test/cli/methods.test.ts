// bitsmith run with method hqq and method awq on the bundled stories260K model: the
// methods run end to end (CLI -> job -> native runner -> report), keep RTN's stored size,
// and do what they optimise, measured here on the written fake-quant files (hqq: the
// |e|^0.7 loss against the source weights) or on the report (awq: output error).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { RunReport } from '../../core/src/runReport';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const MODEL = path.join(root, 'examples/stories260K');
const addon = require(path.join(root, 'native')) as { readTensor(path: string, name: string): Float32Array };
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

function readFake(file: string): Map<string, Float32Array> {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out = new Map<string, Float32Array>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    assert.equal(v.dtype, 'F32', name);
    const b = buf.subarray(8 + len + v.data_offsets[0], 8 + len + v.data_offsets[1]);
    out.set(name, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
  }
  return out;
}

describe('cli run: methods hqq and awq', function () {
  this.timeout(120000);
  let tmp: string;
  const write = (name: string, lines: string[]) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, lines.join('\n') + '\n');
    return p;
  };
  const report = (file: string, ...args: string[]): RunReport & { text?: string } => {
    const r = run('run', file, '--json', '--report-dir', path.join(tmp, 'reports'), ...args);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as RunReport;
  };

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-methods-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const hqqRecipe = (name: string, method: string, zero: string, output: string, format = 'int3') => write(name, [
    `model "${MODEL}"`,
    `defaults { format ${format}; group 32; symmetric false; zero ${zero}; method ${method} }`,
    'match "*.mlp.down_proj" { group channel }',
    'match "model.embed_tokens" { keep }',
    output,
  ]);

  it('hqq: lower |e|^0.7 loss than rtn over the model, same bytes; the table names the method', () => {
    const rtn = report(hqqRecipe('rtn.quant', 'rtn', 'f16', 'output fake "rtn.safetensors"'));
    const hqq = report(hqqRecipe('hqq.quant', 'hqq { iters 20; lp_norm 0.7 }', 'f16', 'output fake "hqq.safetensors"'));
    assert.equal(hqq.totals.bytesOut, rtn.totals.bytesOut);
    const fr = readFake(path.join(tmp, 'rtn.safetensors')), fh = readFake(path.join(tmp, 'hqq.safetensors'));
    let lr = 0, lh = 0, count = 0, lower = 0;
    for (const t of hqq.tensors) {
      if (t.action !== 'quantize') continue;
      assert.equal(t.method, 'hqq');
      count++;
      const w = addon.readTensor(MODEL, t.name), a = fr.get(t.name)!, b = fh.get(t.name)!;
      let sr = 0, sh = 0;
      for (let i = 0; i < w.length; i++) {
        sr += Math.abs(w[i] - a[i]) ** 0.7;
        sh += Math.abs(w[i] - b[i]) ** 0.7;
      }
      assert.ok(sh <= sr * (1 + 1e-5), `${t.name}: hqq ${sh} > rtn ${sr}`);
      if (sh < sr) lower++;
      lr += sr;
      lh += sh;
    }
    assert.equal(count, 35);
    assert.equal(lower, count, 'every tensor\'s loss goes down');
    assert.ok(lh < 0.99 * lr, `model |e|^0.7 loss: hqq ${lh} vs rtn ${lr}`);
    const human = run('run', hqqRecipe('hqq2.quant', 'hqq', 'f16', ''), '--report-dir', path.join(tmp, 'reports'));
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /int3 asym g32 hqq/);
  });

  it('hqq with zero int writes compressed_tensors (RTN\'s layout) and says zero int rarely changes', () => {
    const file = hqqRecipe('hqq-ct.quant', 'hqq', 'int', 'output compressed_tensors "ct"', 'int4');
    const check = run('check', file);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out + check.err, /info: method hqq moves zero points by fractions of a step/);
    const r = report(file);
    assert.ok(fs.existsSync(path.join(tmp, 'ct', 'model.safetensors')));
    assert.ok(r.tensors.filter((t) => t.action === 'quantize').every((t) => t.method === 'hqq' && t.bpw === t.planBpw));
  });

  it('hqq on a symmetric grid is an error on the method line', () => {
    const file = write('hqq-sym.quant', [`model "${MODEL}"`, 'defaults { format int4; group 32; method hqq }', 'match "model.embed_tokens" { keep }']);
    const r = run('run', file);
    assert.equal(r.code, 1);
    assert.match(r.err, /hqq-sym\.quant:2:35: error: method hqq optimises the zero point, which a symmetric grid does not have/);
  });
});
