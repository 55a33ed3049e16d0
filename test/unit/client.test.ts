// The extension's pure parts: the run event stream, the status bar text, and the
// package.json contributions that must agree with the code (commands, settings, matcher).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { budgetText } from '../../client/src/budgetText';
import { EventLineReader, failureSummary, RunProgress, type StreamItem } from '../../client/src/run/eventStream';
import type { ProgressEvent } from '../../core/src/runReport';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('client: run progress through every phase', () => {
  const ev = (phase: ProgressEvent['phase'], step: number, steps: number, fraction: number): ProgressEvent => ({
    type: 'progress',
    phase,
    step,
    steps,
    label: `layer 1/2, sequence ${step}/${steps}`,
    elapsed: 2,
    eta: step ? (2 / step) * (steps - step) : null,
    fraction,
  });
  it('progress events drive the percentage (calibration, quantization, evaluation), never back, to 100', () => {
    const p = new RunProgress();
    let sum = 0;
    const steps: [ProgressEvent['phase'], number, number, number][] = [
      ['calibration', 1, 4, 0.1],
      ['calibration', 4, 4, 0.3],
      ['quantize', 1, 7, 0.35],
      ['propagate', 4, 4, 0.5],
      ['calibration', 2, 4, 0.45], // a late event never moves the bar back
      ['evaluation', 3, 3, 1],
    ];
    for (const [phase, step, n, f] of steps) {
      const r = p.apply(ev(phase, step, n, f))!;
      assert.ok(r.increment >= 0);
      sum += r.increment;
      assert.ok(r.message.startsWith(`${phase}: layer 1/2`), r.message);
    }
    assert.ok(Math.abs(sum - 100) < 1e-9, `${sum}`);
    // With progress events, tensors no longer add their own share.
    const t = p.apply({
      type: 'tensor',
      index: 0,
      name: 't',
      shape: [1],
      dtype: 'f32',
      action: 'keep',
      format: 'keep',
      bpw: 32,
      bytesIn: 4,
      bytesOut: 4,
      seconds: 0,
    })!;
    assert.equal(t.increment, 0);
  });
  it('the message has the ETA once a step is done', () => {
    assert.match(
      new RunProgress().apply(ev('calibration', 1, 4, 0.1))!.message,
      /\[1\/4\] 2\.0 s, ETA 6\.0 s \(run 10%\)/,
    );
    assert.doesNotMatch(new RunProgress().apply(ev('calibration', 0, 4, 0))!.message, /ETA/);
  });
});

describe('client: run event stream', () => {
  it('splits chunks at newlines wherever they fall, and passes non-JSON lines as text', () => {
    const items: StreamItem[] = [];
    const text: string[] = [];
    const r = new EventLineReader(
      (i) => items.push(i),
      (t) => text.push(t),
    );
    const lines = [
      JSON.stringify({
        type: 'start',
        tensors: 2,
        params: 10,
        bytesIn: 40,
        model: 'm',
        modelFormat: 'safetensors',
        threads: 1,
        output: null,
      }),
      'not json',
      JSON.stringify({ type: 'tensor-start', index: 0, name: 'a' }),
      JSON.stringify([1, 2]),
      JSON.stringify({ type: 'tensor-start', index: 1, name: 'b\u00e9' }),
    ];
    const all = lines.join('\r\n') + '\n';
    for (let i = 0; i < all.length; i += 7) r.push(all.slice(i, i + 7));
    r.end();
    assert.deepEqual(
      items.map((i) => i.type),
      ['start', 'tensor-start', 'tensor-start'],
    );
    assert.equal((items[2] as { name: string }).name, 'b\u00e9');
    assert.deepEqual(text, ['not json', '[1,2]']);
  });

  it('a last line without a newline is read at end()', () => {
    const items: StreamItem[] = [];
    const r = new EventLineReader(
      (i) => items.push(i),
      () => undefined,
    );
    r.push('{"type":"tensor-start","index":0,"name":"x"}');
    assert.equal(items.length, 0);
    r.end();
    assert.equal(items.length, 1);
  });

  it('progress increments add up to 100 over the tensors; the error and the report are kept', () => {
    const p = new RunProgress();
    let sum = 0;
    const start = p.apply({
      type: 'start',
      tensors: 3,
      params: 1,
      bytesIn: 1,
      model: 'm',
      modelFormat: 'gguf',
      threads: 2,
      output: null,
    });
    assert.match(start!.message, /3 tensors, 2 threads/);
    for (let i = 0; i < 3; i++) {
      assert.equal(p.apply({ type: 'tensor-start', index: i, name: `t${i}` })!.message, `tensor ${i + 1}/3: t${i}`);
      sum += p.apply({
        type: 'tensor',
        index: i,
        name: `t${i}`,
        shape: [1],
        dtype: 'f32',
        action: 'keep',
        format: 'keep',
        bpw: 32,
        bytesIn: 4,
        bytesOut: 4,
        seconds: 0,
      })!.increment;
    }
    assert.ok(Math.abs(sum - 100) < 1e-9);
    assert.equal(p.done, 3);
    const source = { kind: 'generated' as const, seed: 0, sequences: 16, tokens: 2048 };
    assert.match(
      p.apply({ type: 'calibration', source, hessians: 20, seconds: 0.1 })!.message,
      /calibrated on 16 sequences \(2,048 tokens\)/,
    );
    const ev = p.apply({
      type: 'evaluation',
      source,
      sequences: 16,
      tokens: 2032,
      perplexityOriginal: 15.149,
      perplexityQuantized: 197.2,
      nllOriginal: 2.7,
      nllQuantized: 5.3,
      klMean: 2.5612,
      klP99: 10,
      klMax: 12,
      top1Agreement: 0.25,
      seconds: 0.2,
    });
    assert.equal(ev!.message, 'evaluated: perplexity 15.15 → 197.20, KL 2.56');
    assert.equal(ev!.increment, 0);
    assert.equal(p.apply({ type: 'error', code: 'run/non-finite', message: 'NaN', tensor: 't1' }), undefined);
    assert.deepEqual(p.error, { code: 'run/non-finite', message: 'NaN', tensor: 't1' });
  });

  it('failureSummary picks the diagnostic, else the bitsmith: line', () => {
    assert.equal(
      failureSummary("x.quant:2:9: error: Unknown format 'int44' [recipe/unknown-format]\nbitsmith: not running\n"),
      "x.quant:2:9: error: Unknown format 'int44' [recipe/unknown-format]",
    );
    assert.equal(failureSummary('\nwarning: a\nbitsmith: cannot read x\n'), 'bitsmith: cannot read x');
    assert.equal(failureSummary(''), undefined);
  });
});

describe('client: budget status bar text', () => {
  const base = {
    uri: 'file:///r.quant',
    version: 1,
    bpw: 4.625,
    bytesIn: 1024 * 1024,
    bytesOut: 151552,
    quantized: 7,
    tensors: 9,
    errors: 0,
  };
  it('without a budget: bpw and size', () => {
    const t = budgetText(base);
    assert.equal(t.text, '$(symbol-ruler) 4.625 bpw · 148.0 KiB');
    assert.equal(t.over, false);
    assert.match(t.tooltip, /7 of 9 tensors quantized/);
    assert.match(t.tooltip, /1\.00 MiB → 148\.0 KiB/);
  });
  it('within and over a budget', () => {
    const fits = budgetText({ ...base, budgetBpw: 5, budgetBytes: 160000, fits: true });
    assert.match(fits.text, / \/ 5 bpw budget$/);
    assert.match(fits.tooltip, /fits/);
    const over = budgetText({ ...base, budgetBpw: 4, budgetBytes: 131072, fits: false });
    assert.equal(over.over, true);
    assert.match(over.text, /\$\(warning\) over 4 bpw budget/);
    assert.match(over.tooltip, /over by 20\.00 KiB/);
  });
  it('a recipe with errors is marked: the figures leave out the statements in error', () => {
    const t = budgetText({ ...base, errors: 2 });
    assert.equal(t.errors, true);
    assert.match(t.text, /^\$\(error\) /);
    assert.match(t.tooltip, /^The recipe has 2 errors/);
  });
});

describe('client: package.json contributions agree with the code', () => {
  it('every command of the commands table is contributed, and nothing else', () => {
    const src = fs.readFileSync(path.join(root, 'client/src/commands.ts'), 'utf8');
    const table = /export const commands: Record<string, CmdFactory> = \{([^}]*)\}/.exec(src);
    assert.ok(table, 'the commands table is where commands.ts declares it');
    const inCode = table[1]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((n) => `bitsmith.${n}`)
      .sort();
    const contributed = (pkg.contributes.commands as { command: string }[]).map((c) => c.command).sort();
    assert.deepEqual(contributed, inCode);
    for (const menu of Object.values(pkg.contributes.menus) as { command: string }[][]) {
      for (const m of menu)
        assert.ok(contributed.includes(m.command), `menu entry ${m.command} is a contributed command`);
    }
  });

  it('every setting the client reads is declared with a scope', () => {
    const src = fs.readFileSync(path.join(root, 'client/src/config.ts'), 'utf8');
    const read = [...src.matchAll(/cfg\.get<\w+>\('([\w.]+)'/g)].map((m) => `bitsmith.${m[1]}`);
    assert.ok(read.length >= 3);
    for (const key of read) {
      const prop = pkg.contributes.configuration.properties[key];
      assert.ok(prop, `${key} is declared`);
      assert.ok(prop.scope, `${key} has a scope`);
    }
  });

  it('the $bitsmith problem matcher reads what the CLI prints', function () {
    this.timeout(20000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-matcher-'));
    const recipe = path.join(dir, 'broken.quant');
    fs.writeFileSync(recipe, `model "${path.join(root, 'examples/stories260K')}"\ndefaults {\n  format int44\n}\n`);
    const r = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'run', recipe], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    const matcher = pkg.contributes.problemMatchers.find((m: { name: string }) => m.name === 'bitsmith');
    const re = new RegExp(matcher.pattern.regexp);
    const hits = r.stderr
      .split('\n')
      .map((l) => re.exec(l))
      .filter((m): m is RegExpExecArray => !!m);
    assert.equal(hits.length, 1, r.stderr);
    const m = hits[0];
    assert.equal(m[matcher.pattern.file], 'broken.quant');
    assert.equal(m[matcher.pattern.line], '3');
    assert.equal(m[matcher.pattern.column], '10');
    assert.equal(m[matcher.pattern.severity], 'error');
    assert.match(m[matcher.pattern.message], /^Unknown format 'int44'/);
    assert.equal(m[matcher.pattern.code], 'recipe/unknown-format');
  });
});
