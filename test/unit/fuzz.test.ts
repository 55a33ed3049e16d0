// Property tests: random and mutated recipes never make the parser or analyzer throw,
// and every diagnostic they report lies inside the text.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { analyze } from '../../core/src/analysis/analyze';
import { parse } from '../../core/src/syntax/parser';
import { llamaHeader } from '../helpers/syntheticModel';
import { oneOf } from '../helpers/arbitraries';

const model = llamaHeader();
const examples = fs
  .readdirSync(path.join(__dirname, '../../examples'))
  .filter((f) => f.endsWith('.quant'))
  .map((f) => fs.readFileSync(path.join(__dirname, '../../examples', f), 'utf8'));

const words = [
  'recipe',
  'model',
  'budget',
  'defaults',
  'match',
  'format',
  'method',
  'gptq',
  'group',
  'keep',
  'int4',
  'q4_k',
  'outliers',
  'lowrank',
  'rotate',
  'calibration',
  'generated',
  'output',
  'gguf',
  'allocate',
  'formats',
  'evaluate',
  'perplexity',
  '{',
  '}',
  ';',
  ',',
  '\n',
  '"',
  '"**"',
  '"*.mlp.*"',
  '"re:(x"',
  '4.5',
  'bpw',
  '0.5%',
  '%',
  '#c',
  '128',
  '-1',
  '1e400',
  '\\',
  '@',
];
const tokenSoup = fc.array(oneOf(words), { maxLength: 60 }).map((ws) => ws.join(' '));

function mutate(text: string, edits: { at: number; del: number; ins: string }[]): string {
  let t = text;
  for (const e of edits) {
    const at = Math.min(e.at, t.length);
    t = t.slice(0, at) + e.ins + t.slice(at + e.del);
  }
  return t;
}
const mutated = fc
  .tuple(
    oneOf(examples),
    fc.array(
      fc.record({ at: fc.nat(2000), del: fc.nat(8), ins: fc.oneof(fc.string({ maxLength: 6 }), oneOf(words)) }),
      { maxLength: 8 },
    ),
  )
  .map(([text, edits]) => mutate(text, edits));

function checkInvariants(text: string) {
  const { file, errors } = parse(text);
  assert.equal(file.end, text.length);
  for (const e of errors)
    assert.ok(e.start >= 0 && e.end <= text.length && e.start <= e.end, `syntax error range ${e.start}-${e.end}`);
  const a = analyze(text, { recipePath: '/fuzz/r.quant', loadModel: () => model, exists: () => false });
  for (const d of a.diagnostics) {
    assert.ok(d.start >= 0 && d.end <= text.length && d.start <= d.end, `${d.code} range ${d.start}-${d.end}`);
    assert.ok(d.message.length > 0);
  }
}

describe('fuzz: parser and analyzer never throw', () => {
  it('on random token soups', () => {
    fc.assert(
      fc.property(tokenSoup, (t) => {
        checkInvariants(t);
      }),
      { numRuns: 3000, seed: 42 },
    );
  });
  it('on mutated example recipes', () => {
    assert.ok(examples.length >= 3);
    fc.assert(
      fc.property(mutated, (t) => {
        checkInvariants(t);
      }),
      { numRuns: 3000, seed: 7 },
    );
  });
  it('on arbitrary unicode strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (t) => {
        checkInvariants(t);
      }),
      { numRuns: 2000, seed: 1 },
    );
  });
});
