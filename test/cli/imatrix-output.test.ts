// `output imatrix "file"`: llama.cpp's importance matrix from the calibration's forward pass.
// Read back by Bitsmith's own readers (native and the editor's header reader); its means
// equal the diagonal of the forward pass's Hessians over the same sequences (sequential
// false: the original model's inputs); both layouts (GGUF, legacy .dat); read as
// `calibration imatrix` by a second run; output safety (its own file replaced, a foreign
// one refused); errors before any run; export llama_quantize references it.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { RunReport } from '../../core/src/runReport';
import { readImatrixHeader } from '../../core/src/models/imatrix';
import type { ForwardApi } from '../native/forward.test';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const MODEL = path.join(root, 'examples/stories260K');
const addon = require(path.join(root, 'native')) as {
  forward: ForwardApi;
  readImatrix(p: string): {
    format: string;
    entries: { name: string; nIn: number; nMat: number; mean: Float32Array }[];
  };
};
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const SITE_TENSORS: Record<string, string[]> = {
  attn: ['attn_q', 'attn_k', 'attn_v'],
  attn_out: ['attn_output'],
  mlp: ['ffn_gate', 'ffn_up'],
  down: ['ffn_down'],
};

describe('output imatrix', function () {
  this.timeout(120000);
  let tmp: string;
  const write = (name: string, lines: string[]) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, lines.join('\n') + '\n');
    return p;
  };
  const recipe = (name: string, out: string, extra: string[] = []) =>
    write(name, [
      `model "${MODEL}"`,
      'calibration tokens "seqs.json" sequential false',
      'defaults { format int8; group 32 }',
      'match "*.mlp.down_proj" { group channel }',
      `output imatrix "${out}"`,
      ...extra,
    ]);
  let seqs: number[][];

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-imatrix-out-'));
    seqs = addon.forward.sequences(MODEL, { kind: 'generated', samples: 3, length: 40, seed: 5 });
    fs.writeFileSync(path.join(tmp, 'seqs.json'), JSON.stringify(seqs));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const format of ['gguf', 'dat'] as const) {
    it(`writes the ${format} layout whose means are the Hessians' diagonal, read back by both readers`, () => {
      const file = `out/im.${format}`;
      const r = run('run', recipe(`w-${format}.quant`, file), '--json', '--report-dir', path.join(tmp, 'reports'));
      assert.equal(r.code, 0, r.err);
      const rep = JSON.parse(r.out) as RunReport;
      const abs = path.join(tmp, file);
      assert.deepEqual(
        rep.outputs?.find((o) => o.kind === 'imatrix'),
        { kind: 'imatrix', path: abs, notes: [`llama.cpp importance matrix (${format})`] },
      );
      const header = readImatrixHeader(abs);
      assert.equal(header.format, format);
      assert.equal(header.entries.length, 5 * 7, 'every linear weight of the 5 layers');
      assert.match(header.dataset ?? '', format === 'dat' ? /^bitsmith \S+: .*seqs\.json$/ : /seqs\.json$/);
      const im = addon.readImatrix(abs);
      const byName = new Map(im.entries.map((e) => [e.name, e]));
      const hs = addon.forward.calibrate(MODEL, seqs, { reference: true });
      let compared = 0;
      for (const h of hs) {
        for (const base of SITE_TENSORS[h.site]) {
          const e = byName.get(`blk.${h.layer}.${base}.weight`);
          assert.ok(e, `blk.${h.layer}.${base}.weight is in the file`);
          assert.equal(e.nIn, h.n);
          assert.equal(e.nMat, 1);
          assert.equal(h.tokens, 3 * 40);
          for (let j = 0; j < h.n; j++) {
            const want = h.h[j * h.n + j] / h.tokens;
            assert.ok(Math.abs(e.mean[j] - want) <= 2e-6 * want + 1e-12, `${e.name}[${j}]: ${e.mean[j]} vs ${want}`);
          }
          compared++;
        }
      }
      assert.equal(compared, 35);
    });
  }

  it('a second run reads it as calibration imatrix; a rerun replaces its own file', () => {
    const file = path.join(tmp, 'out/im.gguf');
    const stat0 = fs.statSync(file);
    const again = run('run', recipe('w-gguf.quant', 'out/im.gguf'), '--json', '--report-dir', path.join(tmp, 'r2'));
    assert.equal(again.code, 0, again.err);
    assert.notEqual(fs.statSync(file).mtimeMs, stat0.mtimeMs, 'replaced');
    const use = write('use.quant', [
      `model "${MODEL}"`,
      `calibration imatrix "${file}"`,
      'defaults { format q4_0 }',
      'match "*.mlp.down_proj" { keep }',
    ]);
    const r = run('run', use, '--json', '--report-dir', path.join(tmp, 'reports'));
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as RunReport;
    assert.equal(rep.importance?.format, 'gguf');
    assert.equal(rep.importance?.entries, 35);
    assert.equal(rep.importance?.tensors, 5 * 6, 'the quantized projections get weights');
  });

  it('refuses to replace a file it did not write, and needs a forward-pass calibration', () => {
    fs.mkdirSync(path.join(tmp, 'foreign'), { recursive: true });
    for (const ext of ['gguf', 'dat']) {
      fs.writeFileSync(path.join(tmp, `foreign/im.${ext}`), 'not mine');
      const r = run('check', recipe(`f-${ext}.quant`, `foreign/im.${ext}`));
      assert.equal(r.code, 1, r.out);
      assert.match(r.out + r.err, /exists and Bitsmith did not write it .*\[output\/overwrites-foreign\]/);
      assert.equal(fs.readFileSync(path.join(tmp, `foreign/im.${ext}`), 'utf8'), 'not mine');
    }
    const none = write('none.quant', [
      `model "${MODEL}"`,
      'defaults { format int8; group 32 }',
      'match "*.mlp.down_proj" { group channel }',
      'output imatrix "x.gguf"',
    ]);
    const r = run('check', none);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out + r.err, /output imatrix needs calibration generated, tokens or text/);
  });

  it('export llama_quantize references it with --imatrix', () => {
    const file = recipe('exp.quant', 'out/im.dat', ['export llama_quantize "out/q.sh"']);
    const r = run('export', file);
    assert.equal(r.code, 0, r.out + r.err);
    const sh = fs.readFileSync(path.join(tmp, 'out/q.sh'), 'utf8');
    assert.match(sh, /--imatrix 'out\/im\.dat'/);
    assert.doesNotMatch(sh, /calibration tokens does not translate/);
  });
});
