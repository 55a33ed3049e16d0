// The hostile-input corpus (test/fuzz-corpus, see its README): every recipe terminates with
// sane diagnostics and the codes it must have; every header is refused (or read) as its
// manifest says; every lying config.json gets its model/bad-config diagnostic, and output
// gguf refuses to take its values.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze } from '../../core/src/analyze';
import { ggufModelProblem } from '../../core/src/export/gguf';
import { readModelHeader } from '../../core/src/models/load';
import { ModelReadError } from '../../core/src/models/types';
import { LineIndex } from '../../core/src/text';
import { checkAnalysis } from '../helpers/invariants';

const corpus = path.join(__dirname, '../fuzz-corpus');
const stories = path.join(__dirname, '../../examples/stories260K');
const json = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('hostile-input corpus', () => {
  const model = readModelHeader(stories);

  describe('recipes', () => {
    const dir = path.join(corpus, 'recipes');
    const expected: Record<string, { codes: string[]; lines?: Record<string, number>; messages?: string[] }> = json(
      path.join(dir, 'expected.json'),
    );
    const cases: [string, string][] = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.quant'))
      .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]);
    for (const s of json(path.join(dir, 'strings.json')) as { name: string; text: string }[])
      cases.push([s.name, s.text]);

    it('has an expectation for every case, and a case for every expectation', () => {
      assert.deepEqual(cases.map(([n]) => n).sort(), Object.keys(expected).sort());
    });

    for (const [name, text] of cases) {
      it(name, () => {
        const a = analyze(text, { recipePath: path.join(dir, name), loadModel: () => model, exists: () => false });
        checkAnalysis(text, a);
        const want = expected[name];
        const codes = new Set(a.diagnostics.map((d) => d.code));
        for (const c of want.codes) assert.ok(codes.has(c), `${name}: no ${c} in ${[...codes].join(', ')}`);
        if (want.codes.length === 0) assert.deepEqual(a.diagnostics, [], `${name}: expected no diagnostics`);
        const lines = new LineIndex(text);
        for (const [code, line] of Object.entries(want.lines ?? {})) {
          const d = a.diagnostics.find((x) => x.code === code)!;
          assert.equal(lines.position(d.start).line, line, `${name}: ${code} line`);
        }
        const messages = a.diagnostics.map((d) => d.message).join('\n');
        for (const m of want.messages ?? [])
          assert.ok(messages.includes(m), `${name}: no message with "${m}" in\n${messages}`);
      });
    }
  });

  describe('headers', () => {
    const dir = path.join(corpus, 'headers');
    const expected: Record<string, { code?: string; message?: string; tensors?: number }> = json(
      path.join(dir, 'expected.json'),
    );
    const files = fs.readdirSync(dir).filter((f) => f !== 'expected.json');

    it('has an expectation for every header, and a header for every expectation', () => {
      assert.deepEqual(files.sort(), Object.keys(expected).sort());
    });

    for (const f of files) {
      it(f, () => {
        const want = expected[f];
        const file = path.join(dir, f);
        if (want.tensors !== undefined) {
          assert.equal(readModelHeader(file).tensors.length, want.tensors);
          return;
        }
        assert.throws(
          () => readModelHeader(file),
          (e: unknown) => {
            assert.ok(e instanceof ModelReadError, String(e));
            assert.equal(e.code, want.code, e.message);
            assert.ok(e.message.includes(file), `names the file: ${e.message}`);
            assert.ok(e.message.includes(want.message!), `"${want.message}" in: ${e.message}`);
            return true;
          },
        );
      });
    }
  });

  describe('config.json against the tensors', () => {
    const dir = path.join(corpus, 'configs');
    const expected: Record<string, { message: string; readError?: string }> = json(path.join(dir, 'expected.json'));
    const files = fs.readdirSync(dir).filter((f) => f !== 'expected.json');
    let tmp: string;
    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-corpus-'));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('has an expectation for every config, and a config for every expectation', () => {
      assert.deepEqual(files.sort(), Object.keys(expected).sort());
    });

    for (const f of files) {
      it(f, () => {
        const want = expected[f];
        const folder = path.join(tmp, path.basename(f, '.json'));
        fs.mkdirSync(folder);
        fs.copyFileSync(path.join(stories, 'model.safetensors'), path.join(folder, 'model.safetensors'));
        fs.copyFileSync(path.join(dir, f), path.join(folder, 'config.json'));
        const text = `model "${folder}"\ndefaults { format q4_0 }\noutput gguf "out.gguf"\n`;
        const a = analyze(text, { recipePath: path.join(tmp, 'r.quant'), exists: () => false });
        checkAnalysis(text, a);
        if (want.readError) {
          const d = a.diagnostics.find((x) => x.code === want.readError);
          assert.ok(d && d.message.includes(want.message), JSON.stringify(a.diagnostics));
          return;
        }
        const bad = a.diagnostics.filter((d) => d.code === 'model/bad-config');
        assert.ok(
          bad.some((d) => d.severity === 'error' && d.message.includes(want.message)),
          `${f}: ${JSON.stringify(bad.map((d) => d.message))}`,
        );
        assert.ok(
          bad.every((d) => d.message.includes(path.join(folder, 'config.json'))),
          'names config.json',
        );
        // The model line carries it, and output gguf will not take the lying values.
        assert.equal(text.slice(bad[0].start, bad[0].end), `"${folder}"`);
        assert.ok(ggufModelProblem(a.model!)?.includes('config.json'), 'output gguf refuses the config');
      });
    }
  });
});
