// Property tests: random and mutated recipes, Unicode of every kind included, never make
// the parser or analyzer throw or hang, and every diagnostic they report lies inside the
// text, sorted (test/helpers/invariants.ts). Fixed seeds and run counts keep the time
// bounded; test/fuzz-corpus holds the cases that once failed.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as path from 'path';
import fc from 'fast-check';
import { analyze } from '../../core/src/analyze';
import { llamaHeader } from '../helpers/syntheticModel';
import { oneOf } from '../helpers/arbitraries';
import { checkAnalysis, checkParse } from '../helpers/invariants';
import { JsonError, parseStrictJson } from '../../core/src/models/json';

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
  const a = analyze(text, { recipePath: '/fuzz/r.quant', loadModel: () => model, exists: () => false });
  checkAnalysis(text, a);
}

// Unicode that has broken lexers: every space JavaScript's \s knows (the lexer once looped
// on them), line and paragraph separators, CR, lone and paired surrogates, bidi and
// zero-width marks, emoji, controls.
const unicode = [
  '\u00a0',
  '\u1680',
  '\u2000',
  '\u2003',
  '\u200a',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
  '\ufeff',
  '\u0085',
  '\u200b',
  '\u200e',
  '\u200f',
  '\u202e',
  '\u2066',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u{1F680}',
  '\r',
  '\r\n',
  '\n\r',
  '\t',
  '\v',
  '\f',
  '\0',
  '\x1b',
  '\x7f',
];
const hostileWords = [
  ...words,
  ...unicode,
  '1e308',
  '-1e308',
  '1e-400',
  '9'.repeat(400),
  '0x10',
  '1e15',
  '99999999999999999999',
  '-0',
  '"re:((\\w|\\.)+)+X$"',
  '"re:(a|aa)+(a|aa)+(a|aa)+b"',
  '"re:(?=x)"',
  '"re:(a)\\1"',
  '"**.**.**.**.**.x"',
  '"*a*a*a*a*a*b"',
  '"!(x)"',
  '"{0..99999}"',
  'samples',
  'length',
  'perplexity',
  'outliers',
  'lowrank',
  '50%',
];
const nesting = fc.nat(300).map((n) => '{'.repeat(n));
const unicodeSoup = fc
  .array(fc.oneof(oneOf(hostileWords), oneOf(unicode), nesting, fc.string({ unit: 'binary', maxLength: 4 })), {
    maxLength: 60,
  })
  .chain((ws) =>
    fc
      .array(oneOf([' ', '', '\n', '\r', '\r\n', '\u2028', '\u00a0']), { minLength: ws.length, maxLength: ws.length })
      .map((seps) => ws.map((w, i) => w + seps[i]).join('')),
  );
const unicodeMutated = fc
  .tuple(
    oneOf(examples),
    fc.array(
      fc.record({
        at: fc.nat(2000),
        del: fc.nat(8),
        ins: fc.oneof(oneOf(hostileWords), oneOf(unicode), nesting, fc.string({ unit: 'binary', maxLength: 6 })),
      }),
      { maxLength: 10 },
    ),
    oneOf(['\n', '\r', '\r\n']),
  )
  .map(([text, edits, eol]) => mutate(text.replace(/\n/g, eol), edits));

describe('fuzz: parser and analyzer never throw', function () {
  // A fixed number of runs (a few seconds of CPU); the limit is for a machine busy with other work.
  this.timeout(120_000);
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
  it('on soups of Unicode spaces, surrogates, marks, deep nesting, huge numbers and hostile patterns', () => {
    fc.assert(
      fc.property(unicodeSoup, (t) => {
        checkInvariants(t);
      }),
      { numRuns: 1000, seed: 13 },
    );
  });
  it('on example recipes with CR, CRLF or LF line ends and hostile insertions', () => {
    fc.assert(
      fc.property(unicodeMutated, (t) => {
        checkInvariants(t);
      }),
      { numRuns: 1000, seed: 21 },
    );
  });
  it('parses arbitrarily deep nesting without recursion trouble', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20000 }), oneOf(['{', '{ a ', 'match "x" {', '}{']), (n, unit) => {
        checkParse(unit.repeat(n));
      }),
      { numRuns: 40, seed: 5 },
    );
  });
});

describe('fuzz: strict JSON', () => {
  it('agrees with JSON.parse on JSON without repeated keys', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 8 }), (s) => {
        assert.deepEqual(parseStrictJson(s), JSON.parse(s));
      }),
      { numRuns: 1000, seed: 3 },
    );
  });
  it('returns or throws a JsonError with an offset inside the text, on anything', () => {
    const piece = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }),
      oneOf(['{', '}', '[', ']', ',', ':', '"', '\\u', '\\ud800', '1.0', '1e5', '-', 'true', 'nul', '"a":1']),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (ps) => {
        const s = ps.join('');
        try {
          parseStrictJson(s, { exactIntegers: true });
        } catch (e) {
          assert.ok(e instanceof JsonError, String(e));
          assert.ok(e.offset >= 0 && e.offset <= s.length);
        }
      }),
      { numRuns: 2000, seed: 4 },
    );
  });
});
