// Issue 13: every input bounded, and check agreeing with run. One test per probe that hung,
// crashed, or was accepted by check and refused by run (test/fuzz-corpus holds the inputs
// themselves; this file checks the mechanisms one by one).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze } from '../../core/src/analyze';
import { AnalysisTimeout, checkDeadline, withDeadline } from '../../core/src/analysis/deadline';
import { MAX_PATTERN_LENGTH, compilePattern } from '../../core/src/analysis/pattern';
import { ggufModelProblem } from '../../core/src/export/gguf';
import { readRegularFile } from '../../core/src/models/files';
import { JsonError, JsonNonInteger, parseStrictJson } from '../../core/src/models/json';
import { readGgufHeader } from '../../core/src/models/gguf';
import { readLlama2cHeader } from '../../core/src/models/llama2c';
import { readModelHeader } from '../../core/src/models/load';
import { checkModelConfig } from '../../core/src/models/modelConfig';
import { MAX_TENSORS, ModelReadError, type ModelHeader } from '../../core/src/models/types';
import { planToJson } from '../../core/src/serialize';
import { lex } from '../../core/src/syntax/lexer';
import { MAX_NESTING, parse } from '../../core/src/syntax/parser';
import { LineIndex, countLineBreaks, lineEnding } from '../../core/src/text';
import { checkAnalysis } from '../helpers/invariants';
import { MANY_TENSORS, writeManyTensorModel } from '../helpers/manyTensors';
import { llamaHeader, tensor } from '../helpers/syntheticModel';

const stories = path.join(__dirname, '../../examples/stories260K');
const storiesConfig = JSON.parse(fs.readFileSync(path.join(stories, 'config.json'), 'utf8')) as Record<string, unknown>;
let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-bounds-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** mkfifo, where the system has it (Linux, macOS). */
function fifo(p: string): boolean {
  return spawnSync('mkfifo', [p]).status === 0;
}

function expectModelError(fn: () => unknown, code: string, ...fragments: string[]): ModelReadError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ModelReadError, String(e));
    assert.equal(e.code, code, e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${f}" in: ${e.message}`);
    return e;
  }
  assert.fail('no error');
}

/** A llama-shaped synthetic model whose config.json says what stories260K's says (plus `change`). */
function withConfig(change: Record<string, unknown> = {}, header: ModelHeader = llamaHeader()): ModelHeader {
  return { ...header, config: { ...storiesConfig, ...change }, files: ['/synthetic/config.json'] };
}

describe('bounds: the lexer advances on every character', () => {
  const spaces = [
    '\u00a0',
    '\u1680',
    '\u2000',
    '\u2003',
    '\u200a',
    '\u202f',
    '\u205f',
    '\u3000',
    '\ufeff',
    '\t',
    '\v',
    '\f',
  ];
  for (const sp of spaces) {
    it(`reads U+${sp.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} as a space`, () => {
      assert.deepEqual(
        lex(sp).tokens.map((t) => t.kind),
        ['eof'],
      );
      const r = lex(`defaults${sp}{${sp}format${sp}int4${sp}}`);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(
        r.tokens.map((t) => t.text),
        ['defaults', '{', 'format', 'int4', '}', ''],
      );
    });
  }

  it('ends statements at CR, CRLF, U+2028 and U+2029 (one newline token each)', () => {
    const r = lex('a\rb\r\nc\u2028d\u2029e\nf');
    assert.deepEqual(
      r.tokens.filter((t) => t.kind === 'newline').map((t) => t.end - t.start),
      [1, 2, 1, 1, 1],
    );
    const { file } = parse('defaults { format int4 }\rmatch "x" { keep }\r');
    assert.deepEqual(
      file.statements.map((s) => s.keyword.name),
      ['defaults', 'match'],
    );
  });

  it('ends comments and unterminated strings at a CR', () => {
    const r = lex('# note\rdefaults "open\rformat');
    assert.deepEqual(
      r.tokens.map((t) => t.kind),
      ['comment', 'newline', 'ident', 'string', 'newline', 'ident', 'eof'],
    );
  });

  it('groups invisible and unexpected characters into one error naming their code points', () => {
    const r = lex('a\u200b\u200f\u202e@b');
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0].message, /U\+200BU\+200FU\+202E@/);
    const lone = lex('\ud800 \udfff');
    assert.equal(lone.errors.length, 2);
    assert.match(lone.errors[0].message, /U\+D800/);
  });
});

describe('bounds: line ends', () => {
  it('LineIndex counts LF, CRLF and lone CR, and maps offsets both ways', () => {
    const text = 'a\rbb\r\nccc\nd\u2028e';
    const li = new LineIndex(text);
    assert.equal(li.lineCount, 4);
    assert.deepEqual(li.position(text.indexOf('bb')), { line: 1, character: 0 });
    assert.deepEqual(li.position(text.indexOf('ccc') + 2), { line: 2, character: 2 });
    assert.deepEqual(li.position(text.indexOf('e')), { line: 3, character: 2 }, 'U+2028 is not an LSP line break');
    // The offset between CR and LF is the end of its line.
    assert.deepEqual(li.position(text.indexOf('\r\n') + 1), { line: 1, character: 2 });
    for (let o = 0; o <= text.length; o++) {
      const p = li.position(o);
      const back = li.offset(p);
      assert.ok(back === o || (text[back] === '\r' && back + 1 === o), `offset ${o}`);
    }
    assert.equal(li.offset({ line: 1, character: 99 }), text.indexOf('\r\n'), 'clamped before the line break');
    assert.equal(countLineBreaks(text, 0, text.length), 3);
    assert.equal(lineEnding('a\rb\rc\n'), '\r');
    assert.equal(lineEnding('a\r\nb\r\nc\n'), '\r\n');
  });

  it('reports diagnostics of a CR-only recipe on their own lines', () => {
    const text = `model "${stories}"\rdefaults { format int4; group 32 }\r\rmatch "*.mlp.down_proj" { formt int8 }\r`;
    const a = analyze(text, { exists: () => false });
    checkAnalysis(text, a);
    const d = a.diagnostics.find((x) => x.code === 'recipe/unknown-property')!;
    assert.deepEqual(new LineIndex(text).position(d.start), { line: 3, character: 26 });
  });
});

describe('bounds: nesting', () => {
  it(`skips blocks nested deeper than ${MAX_NESTING} with one error, without recursion`, () => {
    const r = parse(`match "x" ${'{'.repeat(100_000)}`);
    assert.equal(r.errors.filter((e) => e.code === 'syntax/too-deep').length, 1);
    const closed = parse(`match "x" ${'{ a '.repeat(MAX_NESTING + 1)}${'}'.repeat(MAX_NESTING + 1)}\nrecipe "after"`);
    assert.equal(closed.errors.filter((e) => e.code === 'syntax/too-deep').length, 1);
    assert.equal(
      closed.file.statements[closed.file.statements.length - 1].keyword.name,
      'recipe',
      'parsing goes on after',
    );
    const ok = parse(`match "x" ${'{ a '.repeat(MAX_NESTING)}${'}'.repeat(MAX_NESTING)}`);
    assert.ok(!ok.errors.some((e) => e.code === 'syntax/too-deep'));
  });
});

describe('bounds: patterns run in linear time', () => {
  const long = `${'model.layers.0.self_attn.q_proj.'.repeat(40)}weightY`;
  it('a nested quantifier is a valid pattern that answers at once', () => {
    const p = compilePattern('re:((\\w|\\.)+)+X$');
    assert.equal(p.error, undefined);
    assert.equal(p.test(long), false);
    assert.equal(compilePattern(`re:${'(a|aa)+'.repeat(24)}b`).test('a'.repeat(5000)), false);
    assert.equal(compilePattern('re:(x+x+)+y').test('x'.repeat(10000)), false);
  });

  it('globs with many stars answer at once', () => {
    assert.equal(compilePattern(`${'**.'.repeat(40)}down_proj`).test(long), false);
    assert.equal(compilePattern(`${'*a'.repeat(40)}*b`).test('a'.repeat(5000)), false);
    assert.ok(compilePattern(`${'**.'.repeat(5)}q_proj`).test('model.layers.0.self_attn.q_proj.weight'));
  });

  it('names what the linear engine cannot run', () => {
    assert.match(compilePattern('re:(?=x)y').error!, /^Lookahead \(\?=\.\.\.\) is not supported/);
    assert.match(compilePattern('re:(?!x)y').error!, /^Negative lookahead/);
    assert.match(compilePattern('re:(?<=x)y').error!, /^Lookbehind/);
    assert.match(compilePattern('re:(?<!x)y').error!, /^Negative lookbehind/);
    assert.match(compilePattern('re:(a)\\1').error!, /^Backreferences \(\\1\)/);
    assert.match(compilePattern('re:(?<n>a)\\k<n>').error!, /^Backreferences \(\\k<name>\)/);
    assert.match(compilePattern('!(lm_head)').error!, /extglob negation/);
    assert.match(compilePattern(`re:${'a'.repeat(MAX_PATTERN_LENGTH)}`).error!, /limit 2000/);
    // Inside a class, (?= is three characters.
    assert.equal(compilePattern('re:[(?=]+x').error, undefined);
  });

  it('keeps JavaScript spellings that RE2 writes differently', () => {
    assert.ok(compilePattern('re:\\u006dodel\\..*').test('model.norm.weight'));
    assert.ok(compilePattern('re:(?<layer>\\d+)').test('12'));
    assert.ok(compilePattern('re:model/x').test('model/x'));
  });
});

describe('bounds: strict JSON', () => {
  it('refuses repeated keys, naming the key and its depth', () => {
    assert.throws(
      () => parseStrictJson('{"a": {"b": 1, "b": 2}}'),
      (e: unknown) => e instanceof JsonError && e.duplicate?.key === 'b' && e.duplicate.depth === 2,
    );
  });
  it('refuses unpaired surrogate escapes and keeps paired ones', () => {
    assert.throws(() => parseStrictJson('"\\ud800"'), /unpaired surrogate/);
    assert.throws(() => parseStrictJson('"\\udc00\\ud800"'), /unpaired surrogate/);
    assert.throws(() => parseStrictJson('"\\ud800\\u0041"'), /unpaired surrogate/);
    assert.equal(parseStrictJson('"\\ud83d\\ude00"'), '\u{1F600}');
  });
  it('keeps the form of non-integers when asked, and limits nesting', () => {
    const v = parseStrictJson('[1, 2.0, 3e0, -4]', { exactIntegers: true }) as unknown[];
    assert.equal(v[0], 1);
    assert.ok(v[1] instanceof JsonNonInteger && v[1].text === '2.0');
    assert.ok(v[2] instanceof JsonNonInteger && v[2].text === '3e0');
    assert.equal(v[3], -4);
    assert.deepEqual(parseStrictJson('[2.5]'), [2.5]);
    assert.deepEqual(parseStrictJson('['.repeat(64) + ']'.repeat(64)), JSON.parse('['.repeat(64) + ']'.repeat(64)));
    assert.throws(() => parseStrictJson('['.repeat(65) + ']'.repeat(65)), /nesting deeper than 64/);
    assert.throws(() => parseStrictJson('['.repeat(1_000_000)), /nesting deeper than 64/);
  });
  it('stores "__proto__" as a key, never as the prototype', () => {
    const o = parseStrictJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(o), Object.prototype);
    assert.deepEqual(Object.keys(o), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('bounds: only regular files are opened', () => {
  it('a FIFO named model.safetensors or config.json is a clear error, not a blocked open', function () {
    const dir = path.join(tmp, 'fifo-model');
    fs.mkdirSync(dir);
    if (!fifo(path.join(dir, 'model.safetensors'))) this.skip();
    expectModelError(() => readModelHeader(dir), 'model/unreadable', 'model.safetensors', 'named pipe (FIFO)');
    expectModelError(
      () => readModelHeader(path.join(dir, 'model.safetensors')),
      'model/unreadable',
      'named pipe (FIFO)',
    );
    const cfg = path.join(tmp, 'fifo-config');
    fs.mkdirSync(cfg);
    fs.copyFileSync(path.join(stories, 'model.safetensors'), path.join(cfg, 'model.safetensors'));
    assert.ok(fifo(path.join(cfg, 'config.json')));
    expectModelError(() => readModelHeader(cfg), 'model/unreadable', 'config.json', 'named pipe (FIFO)');
    expectModelError(
      () => readModelHeader(path.join(cfg, 'model.safetensors')),
      'model/unreadable',
      'config.json',
      'named pipe (FIFO)',
    );
  });

  it('a device or a folder where a file is expected is a clear error', function () {
    if (!fs.existsSync('/dev/zero')) this.skip();
    expectModelError(() => readRegularFile('/dev/zero', 1024, 'a recipe'), 'model/unreadable', 'is a device');
    const dir = path.join(tmp, 'dir-shard');
    fs.mkdirSync(path.join(dir, 'model.safetensors'), { recursive: true });
    expectModelError(() => readModelHeader(dir), 'model/unreadable', 'is a folder, not a regular file');
  });

  it('a file over its cap is refused before reading', () => {
    const f = path.join(tmp, 'big.json');
    fs.writeFileSync(f, '{}');
    fs.truncateSync(f, 64 * 1024 * 1024);
    expectModelError(
      () => readRegularFile(f, 16 * 1024 * 1024, 'config.json'),
      'model/header-too-large',
      '(limit 16777216)',
    );
  });
});

describe('bounds: header counts and sizes', () => {
  it('a llama2.c header claiming more layers than any model has is refused before listing them', () => {
    const f = path.join(tmp, 'layers.bin');
    const h = Buffer.alloc(28);
    [2, 2, 200_000, 1, 1, 4, 4].forEach((v, i) => h.writeInt32LE(v, i * 4));
    fs.writeFileSync(f, h);
    fs.truncateSync(f, 26 * 1024 * 1024); // enough bytes for all 200,000 layers
    expectModelError(() => readLlama2cHeader(f), 'model/bad-header', 'n_layers = 200000', 'more than 4096');
  });

  it('a llama2.c header describing more data than the file holds is refused before listing tensors', () => {
    const f = path.join(tmp, 'short.bin');
    const h = Buffer.alloc(28);
    [4096, 11008, 4096, 32, 32, 32000, 4096].forEach((v, i) => h.writeInt32LE(v, i * 4));
    fs.writeFileSync(f, h);
    expectModelError(() => readLlama2cHeader(f), 'model/truncated', 'needs');
  });

  it(`a GGUF declaring more than ${MAX_TENSORS} tensors is refused before reading them`, () => {
    const f = path.join(tmp, 'count.gguf');
    const head = Buffer.alloc(24);
    head.write('GGUF', 0, 'latin1');
    head.writeUInt32LE(3, 4);
    head.writeBigUInt64LE(BigInt(MAX_TENSORS + 1), 8);
    head.writeBigUInt64LE(0n, 16);
    fs.writeFileSync(f, head);
    fs.truncateSync(f, 24 + 24 * (MAX_TENSORS + 2)); // sparse: room for every tensor info
    expectModelError(() => readGgufHeader(f), 'model/header-too-large', `${MAX_TENSORS + 1} tensors`);
  });

  it('zero-size tensors are kept at 0 bpw, as the backend reports them', () => {
    const m = llamaHeader();
    m.tensors.push(tensor('model.extra.weight', [0, 64]));
    const text = 'model "m"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n';
    const a = analyze(text, { loadModel: () => m, exists: () => false });
    assert.deepEqual(
      a.diagnostics.map((d) => d.code),
      [],
    );
    const t = a.plan!.tensors.find((x) => x.tensor.name === 'model.extra.weight')!;
    assert.deepEqual([t.action, t.keepReason, t.bpw, t.bytesOut], ['keep', 'not-quantizable', 0, 0]);
  });
});

describe('bounds: config.json against the tensors', () => {
  it('accepts the real config and gives checked hyperparameters', () => {
    const c = checkModelConfig(readModelHeader(stories));
    assert.deepEqual(c.problems, []);
    assert.deepEqual(
      [c.hparams!.embd, c.hparams!.blocks, c.hparams!.heads, c.hparams!.kvHeads, c.hparams!.headDim, c.hparams!.ffn],
      [64, 5, 8, 4, 8, 172],
    );
  });

  it('counts multi-token-prediction layers apart (num_nextn_predict_layers)', () => {
    const m = withConfig({ num_hidden_layers: 4, num_nextn_predict_layers: 1 });
    assert.deepEqual(checkModelConfig(m).problems, []);
    assert.equal(checkModelConfig(withConfig({ num_hidden_layers: 4 })).problems.length, 1);
  });

  it('warns (does not refuse) for architectures whose layout it does not know', () => {
    const p = checkModelConfig(withConfig({ model_type: 'gemma', num_hidden_layers: 7 })).problems;
    assert.deepEqual(
      p.map((x) => [x.key, x.severity]),
      [['num_hidden_layers', 'warning']],
    );
  });

  it('output gguf takes no value from a config that contradicts the tensors', () => {
    const m = withConfig({ hidden_size: 128 });
    assert.match(ggufModelProblem(m)!, /"hidden_size" is 128, but tensor "model\.embed_tokens\.weight"/);
    assert.equal(ggufModelProblem(withConfig()), undefined);
  });
});

describe('bounds: sizes a run cannot hold', () => {
  const base = 'model "m"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n';
  const diags = (extra: string, m: ModelHeader = withConfig()) =>
    analyze(base + extra, { loadModel: () => m, exists: () => true }).diagnostics;

  it('evaluation and calibration sequences longer than the model are errors on their length', () => {
    const text = `${base}evaluate { perplexity samples 1e9 length 1e9 }\n`;
    const d = diags('evaluate { perplexity samples 1e9 length 1e9 }\n');
    assert.deepEqual(
      d.map((x) => x.code),
      ['recipe/too-long'],
    );
    assert.equal(text.slice(d[0].start, d[0].end), '1e9');
    assert.equal(d[0].start, text.lastIndexOf('1e9'));
    assert.match(d[0].message, /perplexity length 1000000000 is more than the model's 512 positions/);
    assert.deepEqual(
      diags('calibration generated length 513\n').map((x) => x.code),
      ['recipe/too-long'],
    );
    assert.deepEqual(diags('calibration generated length 512\nevaluate { perplexity length 512 }\n'), []);
  });

  it('too many tokens in all is an error naming the product', () => {
    const d = diags('evaluate { perplexity samples 100000 length 512 }\n');
    assert.deepEqual(
      d.map((x) => x.code),
      ['recipe/too-many-tokens'],
    );
    assert.match(d[0].message, /samples 100000 × length 512 = 51,200,000 tokens/);
  });

  it('one sequence that cannot fit in memory is an error', () => {
    // A config with huge positions and vocabulary: 16M tokens of logits over 2^24 entries.
    const m = withConfig({ max_position_embeddings: 2 ** 30 });
    const d = diags('evaluate { perplexity samples 1 length 16000000 }\n', m);
    const perToken = 2 * 5 * 4 * 8 + 4 * 64 + 3 * 172 + 512;
    const fits = 4 * 16_000_000 * perToken <= os.totalmem();
    assert.deepEqual(
      d.map((x) => x.code),
      fits ? [] : ['recipe/too-long'],
    );
    if (!fits) assert.match(d[0].message, /needs about .* in the forward pass, more than this machine's/);
  });

  it('outliers that make a tensor no smaller than its source are an error naming the bpw', () => {
    const d = diags('match "model.embed_tokens" { outliers 1e15 }\n', llamaHeader());
    assert.deepEqual(
      d.map((x) => [x.code, x.severity]),
      [['property/outliers-too-many', 'error']],
    );
    assert.match(
      d[0].message,
      /outliers keep 100% of tensor "model\.embed_tokens\.weight" exactly .*: 52\.5 bpw, no smaller than its 32-bit source/,
    );
    const many = diags('match "*.mlp.down_proj" { outliers 20% }\n', llamaHeader());
    assert.deepEqual(
      many.map((x) => [x.code, x.severity]),
      [['property/outliers-too-many', 'warning']],
    );
    assert.deepEqual(diags('match "*.mlp.down_proj" { outliers 1% }\n', llamaHeader()), []);
  });
});

describe('bounds: analysis time budget', () => {
  it('checkDeadline throws only inside an expired budget', () => {
    checkDeadline('nothing');
    assert.throws(() => withDeadline(0, () => checkDeadline('a step')), AnalysisTimeout);
    assert.equal(
      withDeadline(60_000, () => 7),
      7,
    );
  });

  it('an analysis past its budget stops with a warning and no half-made plan', () => {
    const text = 'model "m"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n';
    const m = llamaHeader();
    const a = analyze(text, { loadModel: () => m, exists: () => false, timeLimitMs: 0 });
    checkAnalysis(text, a);
    assert.deepEqual(
      a.diagnostics.map((d) => [d.code, d.severity]),
      [['analysis/timeout', 'warning']],
    );
    assert.equal(a.plan, undefined);
    assert.ok(a.model);
    assert.ok(analyze(text, { loadModel: () => m, exists: () => false, timeLimitMs: 60_000 }).plan);
  });
});

describe('bounds: a 130,000-tensor model', function () {
  this.timeout(120_000);
  it('is read, analysed and serialised', () => {
    const dir = path.join(tmp, 'many');
    fs.mkdirSync(dir);
    writeManyTensorModel(dir);
    const m = readModelHeader(dir);
    assert.equal(m.tensors.length, MANY_TENSORS);
    const text = `model "${dir}"\ndefaults { format int4; group 32 }\nmatch "*.mlp.experts.*.down_proj" { format int8 }\nmatch "re:.*\\.self_attn\\.(q|k)_proj" { format int8 }\n`;
    const a = analyze(text, { loadModel: () => m, exists: () => false });
    assert.deepEqual(a.diagnostics, []);
    assert.equal(a.plan!.totals.tensors, MANY_TENSORS);
    assert.equal(a.plan!.rules[1].matched.length, 60 * 720);
    assert.equal(a.plan!.rules[2].matched.length, 120);
    assert.equal(planToJson(a, text)!.tensors.length, MANY_TENSORS);
  });
});

describe('bounds: calibration and held-out files', () => {
  it('a FIFO or folder given as calibration or held-out tokens is an error on its path', function () {
    const f = path.join(tmp, 'cal.fifo');
    if (!fifo(f)) this.skip();
    fs.mkdirSync(path.join(tmp, 'held-out'));
    const text = `model "m"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\ncalibration tokens "cal.fifo"\nevaluate { perplexity "held-out" }\n`;
    const a = analyze(text, { recipePath: path.join(tmp, 'r.quant'), loadModel: () => withConfig() });
    const d = a.diagnostics.filter((x) => x.code === 'calibration/unreadable');
    assert.deepEqual(
      d.map((x) => text.slice(x.start, x.end)),
      ['"cal.fifo"', '"held-out"'],
    );
    assert.match(d[0].message, /cal\.fifo: is a named pipe \(FIFO\), not a regular file/);
    assert.match(d[1].message, /held-out: is a folder, not a regular file/);
  });
});
