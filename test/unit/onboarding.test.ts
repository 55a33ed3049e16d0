// The getting-started contributions: the recipe snippets (every one, with every choice it
// offers, is valid recipe language, and checks clean against a Llama-shaped model where it
// needs no file), and the walkthrough (its media exist and ship in the .vsix, and every
// completion event names a command the extension contributes or a context key it sets).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { analyze, type Analysis } from '../../core/src/analyze';
import type { ModelHeader } from '../../core/src/models/types';
import { recipePathOf } from '../../server/src/workspace';
import { ggufLlama2_7b, llama32_1b } from '../helpers/modelShapes';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

interface Snippet {
  prefix: string | string[];
  body: string | string[];
  description: string;
}

/** The text a snippet inserts with choice `pick` (index) at placeholder `at`, defaults elsewhere. */
function expand(body: string, at?: number, pick = 0): string {
  return body
    .replace(/\$\{(\d+)\|([^|]*)\|\}/g, (_, n: string, choices: string) => {
      const options = choices.split(/(?<!\\),/).map((c) => c.replace(/\\,/g, ','));
      return options[Number(n) === at ? pick : 0];
    })
    .replace(/\$\{\d+:([^}]*)\}/g, '$1')
    .replace(/\$\d+/g, '');
}

/** Every choice placeholder: its number and how many options it has. */
function choices(body: string): { n: number; count: number }[] {
  return [...body.matchAll(/\$\{(\d+)\|([^|]*)\|\}/g)].map((m) => ({
    n: Number(m[1]),
    count: m[2].split(/(?<!\\),/).length,
  }));
}

const snippets = JSON.parse(fs.readFileSync(path.join(root, 'snippets', 'quant.json'), 'utf8')) as Record<
  string,
  Snippet
>;
const bodyOf = (s: Snippet) => (Array.isArray(s.body) ? s.body.join('\n') : s.body);

const llama = llama32_1b();
const gguf = ggufLlama2_7b();
const check = (text: string, model: ModelHeader): Analysis =>
  analyze(text, { recipePath: '/work/r/new.quant', loadModel: () => model, exists: () => true });
const languageErrors = (a: Analysis) =>
  a.diagnostics
    .filter((d) => /^(syntax|recipe)\//.test(d.code) || d.code === 'pattern/invalid')
    .map((d) => `${d.code}: ${d.message}`);
const errors = (a: Analysis) =>
  a.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${d.message}`);

/** Where a snippet goes: a whole recipe, a property line (in a defaults block), or a top-level statement. */
function inContext(name: string, text: string): { recipe: string; model: ModelHeader; needsFile: boolean } {
  const base = 'model "m"\ndefaults { format int4; group 128 }\n';
  if (name === 'Recipe skeleton') return { recipe: text.replace('path/to/model', 'm'), model: llama, needsFile: false };
  if (/^(GPTQ|AWQ|HQQ)$/.test(name))
    return {
      recipe: `model "m"\ncalibration generated\ndefaults {\n  format int4\n  group 128\n  symmetric ${name === 'HQQ' ? 'false' : 'true'}\n  ${text}\n}\n`,
      model: llama,
      needsFile: false,
    };
  if (/GGUF models/.test(name)) return { recipe: `model "m"\n${text}\n`, model: gguf, needsFile: false };
  if (/GGUF for llama/.test(name))
    return { recipe: `model "m"\ndefaults { format q4_k }\n${text}\n`, model: llama, needsFile: false };
  return { recipe: base + text + '\n', model: llama, needsFile: /text file|token ids|imatrix/.test(name) };
}

describe('snippets for the recipe language', () => {
  it('are contributed for the quant language from snippets/quant.json, with the common prefixes', () => {
    assert.deepEqual(pkg.contributes.snippets, [{ language: 'quant', path: './snippets/quant.json' }]);
    const prefixes = Object.values(snippets).flatMap((s) => (Array.isArray(s.prefix) ? s.prefix : [s.prefix]));
    for (const p of [
      'recipe',
      'match-keep',
      'match-attn',
      'match-mlp',
      'calibration',
      'evaluate',
      'output',
      'allocate',
    ])
      assert.ok(prefixes.includes(p), `a snippet with prefix ${p}`);
    assert.equal(new Set(prefixes).size, prefixes.length, 'prefixes are unique');
  });

  for (const [name, s] of Object.entries(snippets)) {
    it(`"${name}": valid recipe language with every choice it offers${/text file|token ids|imatrix/.test(name) ? '' : ', and no error'}`, () => {
      const body = bodyOf(s);
      const variants = [expand(body)];
      for (const c of choices(body)) for (let i = 1; i < c.count; i++) variants.push(expand(body, c.n, i));
      // Every choice is valid language (whether it suits a given model is the editor's job).
      for (const text of variants) {
        const { recipe, model } = inContext(name, text);
        assert.deepEqual(languageErrors(check(recipe, model)), [], recipe);
      }
      // The default choices check clean outright.
      const { recipe, model, needsFile } = inContext(name, variants[0]);
      if (!needsFile) assert.deepEqual(errors(check(recipe, model)), [], recipe);
    });
  }
});

describe('the Get Started walkthrough', () => {
  const [walk] = pkg.contributes.walkthroughs;
  const commands = new Set((pkg.contributes.commands as { command: string }[]).map((c) => c.command));
  const keys = new Set(
    [
      ...fs
        .readFileSync(path.join(root, 'client/src/walkthrough.ts'), 'utf8')
        .matchAll(/^\/\/ +(bitsmith\.walkthrough\.\w+)/gm),
    ].map((m) => m[1]),
  );

  it('has the six steps, in order: model, recipe, budget, run, report, allocate', () => {
    assert.equal(walk.id, 'gettingStarted');
    assert.deepEqual(
      walk.steps.map((s: { id: string }) => s.id),
      ['openModel', 'writeRecipe', 'seeBudget', 'runRecipe', 'reviewReport', 'allocate'],
    );
    const src = fs.readFileSync(path.join(root, 'client/src/walkthrough.ts'), 'utf8');
    assert.match(src, new RegExp(`'${pkg.publisher}\\.${pkg.name}#${walk.id}'`), 'Get Started opens this walkthrough');
  });

  it("every step's media is a markdown file shipped in the .vsix", () => {
    const ignore = fs
      .readFileSync(path.join(root, '.vscodeignore'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => picomatch(l.slice(1), { dot: true }));
    for (const s of walk.steps) {
      const file = s.media.markdown as string;
      assert.ok(fs.existsSync(path.join(root, file)), `${file} exists`);
      assert.ok(
        ignore.some((m) => m(file)),
        `${file} is re-included by .vscodeignore`,
      );
    }
    assert.ok(
      ignore.some((m) => m('snippets/quant.json')),
      'snippets/quant.json is re-included by .vscodeignore',
    );
  });

  it('every completion event is a contributed command or a context key the extension sets', () => {
    assert.ok(keys.size >= 4, `context keys documented in walkthrough.ts: ${[...keys]}`);
    for (const s of walk.steps) {
      assert.ok(s.completionEvents.length > 0, `${s.id} completes on something`);
      for (const e of s.completionEvents as string[]) {
        const [kind, what] = e.split(/:(.*)/s);
        if (kind === 'onCommand') assert.ok(commands.has(what), `${s.id}: ${what} is contributed`);
        else if (kind === 'onContext') assert.ok(keys.has(what), `${s.id}: ${what} is set by walkthrough.ts`);
        else assert.fail(`${s.id}: unexpected completion event ${e}`);
      }
      // Step buttons run contributed commands (or the workbench's quick open).
      for (const m of (s.description as string).matchAll(/\(command:([\w.]+)/g))
        assert.ok(commands.has(m[1]) || m[1].startsWith('workbench.'), `${s.id}: link to ${m[1]}`);
    }
  });
});

describe('a new recipe before it is saved', () => {
  it('the language server resolves an untitled recipe with a path from that path; a bare untitled one from nowhere', () => {
    assert.equal(recipePathOf('untitled:/ws/stories260K-w4a16.quant'), '/ws/stories260K-w4a16.quant');
    assert.equal(recipePathOf('untitled:/ws/my%20models/a.quant'), '/ws/my models/a.quant');
    assert.equal(recipePathOf('file:///ws/a.quant'), '/ws/a.quant');
    assert.equal(recipePathOf('untitled:Untitled-1'), undefined);
    assert.equal(recipePathOf('vscode-notebook-cell:/ws/a.quant'), undefined);
  });

  it('so its relative model path resolves beside it', () => {
    const a = analyze('model "stories260K"\ndefaults { format int8; group channel }\n', {
      recipePath: recipePathOf(`untitled:${path.join(root, 'examples', 'new.quant')}`),
    });
    assert.deepEqual(errors(a), []);
    assert.equal(a.modelPath, path.join(root, 'examples', 'stories260K'));
  });
});
