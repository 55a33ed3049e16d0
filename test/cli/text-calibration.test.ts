// `calibration text "file"`: the text is tokenized with the tokenizer.json beside the
// model and cut into BOS-led windows. Checked against a token file holding the windows
// this test computes itself (a word-level vocabulary is easy to tokenize independently):
// both runs must calibrate on the same ids, so every tensor's output error is the same.
// Errors (no tokenizer, ids outside the model's vocabulary) land on the calibration line.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { RunReport } from '../../core/src/runReport';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const SOURCE = path.join(root, 'examples/stories260K');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

import { BOS, tokenize, tokenizerJson } from '../helpers/wordTokenizer';

describe('cli run: calibration text', function () {
  this.timeout(120000);
  let tmp: string;
  let model: string;
  let text: string;
  const write = (name: string, body: string) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, body);
    return p;
  };
  const recipe = (name: string, calibration: string, modelPath = model) =>
    write(
      name,
      [
        `model "${modelPath}"`,
        calibration,
        'defaults { format int4; group 32 }',
        'match "*.mlp.down_proj" { group channel }',
        'match "*.self_attn.*" { method gptq }',
        'match "model.embed_tokens" { keep }',
      ].join('\n') + '\n',
    );

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-text-'));
    model = path.join(tmp, 'model');
    fs.mkdirSync(model);
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(SOURCE, f), path.join(model, f));
    fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
    fs.writeFileSync(
      path.join(model, 'tokenizer_config.json'),
      JSON.stringify({ bos_token: '<s>', add_bos_token: true }),
    );
    const sentences = [
      'Once upon a time, there was a little girl named Lily.',
      'She liked to play in the park with her dog.',
      'The sun was big. Lily liked the red ball.',
    ];
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(sentences[i % 3]);
    text = lines.join('\n');
    write('story.txt', text);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('calibrates on BOS-led windows of the tokenized text, the same ids as a token file with those windows', () => {
    const length = 48;
    const ids = tokenize(text);
    const body = length - 1;
    const windows: number[][] = [];
    for (let i = 0; i < ids.length; i += body) {
      const piece = ids.slice(i, i + body);
      if (windows.length > 0 && piece.length < body / 2) break;
      windows.push([BOS, ...piece]);
    }
    assert.ok(windows.length >= 3, `the text gives several windows (${windows.length})`);
    write('windows.json', JSON.stringify(windows));

    const reports = path.join(tmp, 'reports');
    const a = run(
      'run',
      recipe('text.quant', `calibration text "story.txt" length ${length}`),
      '--json',
      '--report-dir',
      reports,
    );
    assert.equal(a.code, 0, a.err);
    const b = run(
      'run',
      recipe('tokens.quant', 'calibration tokens "windows.json"'),
      '--json',
      '--report-dir',
      reports,
    );
    assert.equal(b.code, 0, b.err);
    const ra = JSON.parse(a.out) as RunReport,
      rb = JSON.parse(b.out) as RunReport;
    assert.equal(ra.calibration?.source.kind, 'text');
    assert.equal(ra.calibration?.source.path, path.join(tmp, 'story.txt'));
    assert.equal(ra.calibration?.source.sequences, windows.length);
    assert.equal(
      ra.calibration?.source.tokens,
      windows.reduce((n, w) => n + w.length, 0),
    );
    const errs = (r: RunReport) =>
      new Map(r.tensors.filter((t) => t.outputError !== undefined).map((t) => [t.name, t.outputError!]));
    const ea = errs(ra),
      eb = errs(rb);
    assert.ok(ea.size >= 8, 'output error on the calibration inputs is reported');
    assert.deepEqual([...ea.keys()].sort(), [...eb.keys()].sort());
    for (const [name, e] of ea) assert.equal(e, eb.get(name), `${name}: same calibration ids, same output error`);
  });

  it('samples caps the number of windows', () => {
    const r = run(
      'run',
      recipe('capped.quant', 'calibration text "story.txt" samples 2 length 32'),
      '--json',
      '--report-dir',
      path.join(tmp, 'reports'),
    );
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as RunReport;
    assert.equal(rep.calibration?.source.sequences, 2);
    assert.equal(rep.calibration?.source.tokens, 64);
  });

  it('without a tokenizer.json beside the model, check and run give an error on the calibration line', () => {
    const file = recipe('notok.quant', 'calibration text "story.txt"', SOURCE);
    for (const cmd of ['check', 'run']) {
      const r = run(cmd, file);
      assert.equal(r.code, 1, `${cmd}: ${r.out}${r.err}`);
      assert.match(
        r.out + r.err,
        /notok\.quant:2:1: error: calibration text needs the model's tokenizer: no tokenizer\.json beside .*\[calibration\/no-tokenizer\]/,
      );
    }
  });

  it('a tokenizer whose ids are outside the model vocabulary is refused, naming the text file', () => {
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(SOURCE, f), path.join(other, f));
    fs.writeFileSync(path.join(other, 'tokenizer.json'), JSON.stringify(tokenizerJson(600)));
    const r = run('run', recipe('vocab.quant', 'calibration text "story.txt" length 32', other));
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.err + r.out,
      /vocab\.quant:2:1: error: .*story\.txt: window 0, position 1: token id \d+ is outside the model's vocabulary \(0\.\.511\)/,
    );
  });

  it('an empty text file is an error on the calibration line', () => {
    write('empty.txt', '  \n');
    const r = run('run', recipe('empty.quant', 'calibration text "empty.txt"'));
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.err + r.out,
      /empty\.quant:2:1: error: .*empty\.txt: the file holds no text \[calibration\/bad-text\]/,
    );
  });
});
