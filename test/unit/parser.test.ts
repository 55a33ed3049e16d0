import { strict as assert } from 'node:assert';
import { parse } from '../../core/src/syntax/parser';

const codes = (text: string) => parse(text).errors.map((e) => e.code);
const keywords = (text: string) => parse(text).file.statements.map((s) => s.keyword.name);

describe('parser', () => {
  it('parses statements, arguments with units, commas and nested blocks with offsets', () => {
    const text = 'budget 4.5 bpw\nmatch "a.*", "b" { format int4; method gptq { damp 0.01; act_order true } }\n';
    const { file, errors } = parse(text);
    assert.deepEqual(errors, []);
    const [budget, match] = file.statements;
    assert.equal(budget.args[0].kind, 'number');
    assert.equal((budget.args[0] as { unit?: { text: string } }).unit?.text, 'bpw');
    assert.equal(text.slice(budget.start, budget.end), 'budget 4.5 bpw');
    assert.deepEqual(
      match.args.map((a) => (a.kind === 'string' ? a.value : '')),
      ['a.*', 'b'],
    );
    assert.equal(match.separators.length, 1);
    const [format, method] = match.block!.statements;
    assert.equal(format.keyword.name, 'format');
    assert.equal(method.block!.statements.map((s) => s.keyword.name).join(','), 'damp,act_order');
    assert.equal(text.slice(match.block!.start, match.block!.end).startsWith('{'), true);
    assert.equal(text[match.block!.close!], '}');
  });

  it('reads 0.5% as a number with a percent unit, and 1e-3 as a number', () => {
    const { file } = parse('outliers 0.5%\ndamp 1e-3');
    const a = file.statements[0].args[0];
    assert.ok(a.kind === 'number' && a.value === 0.5 && a.unit?.text === '%');
    const b = file.statements[1].args[0];
    assert.ok(b.kind === 'number' && b.value === 0.001);
  });

  it('keeps escapes in strings and reports an unterminated string, then goes on', () => {
    const { file, errors } = parse('recipe "a \\"b\\" \\\\ c"\nmodel "unterminated\nbudget 4 bpw');
    const s = file.statements[0].args[0];
    assert.ok(s.kind === 'string' && s.value === 'a "b" \\ c');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['syntax/unterminated-string'],
    );
    assert.deepEqual(
      file.statements.map((x) => x.keyword.name),
      ['recipe', 'model', 'budget'],
    );
  });

  it('keeps backslashes other than \\" and \\\\ as written, for regular expressions', () => {
    const s = parse('match "re:.*\\.q_proj" { keep }').file.statements[0].args[0];
    assert.ok(s.kind === 'string' && s.value === 're:.*\\.q_proj');
  });

  it('reports invalid characters with their code and goes on', () => {
    assert.deepEqual(codes('format int4 @@ \nkeep'), ['syntax/invalid-character']);
    assert.deepEqual(keywords('format int4 @@ \nkeep'), ['format', 'keep']);
  });

  it('reports a number glued to letters as one invalid number', () => {
    const { errors } = parse('group 128x');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'syntax/invalid-number');
    assert.equal(errors[0].end - errors[0].start, 4);
  });

  it('recovers from a stray closing brace and keeps parsing', () => {
    assert.deepEqual(codes('}\nmodel "x"'), ['syntax/unexpected-brace']);
    assert.deepEqual(keywords('}\nmodel "x"'), ['model']);
  });

  it('recovers from a statement that does not start with a keyword', () => {
    assert.deepEqual(codes('"oops" 12\nmodel "x"\n12 { keep }\nbudget 1 bpw'), [
      'syntax/expected-keyword',
      'syntax/expected-keyword',
    ]);
    assert.deepEqual(keywords('"oops" 12\nmodel "x"\n12 { keep }\nbudget 1 bpw'), ['model', 'budget']);
  });

  it('closes an unclosed block at the next top-level keyword so later rules survive', () => {
    const text = 'defaults {\n  format int4\nmatch "x" { keep }\noutput fake "o.safetensors"\n';
    const { file, errors } = parse(text);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['syntax/unclosed-block'],
    );
    assert.deepEqual(
      file.statements.map((s) => s.keyword.name),
      ['defaults', 'match', 'output'],
    );
    assert.deepEqual(
      file.statements[0].block!.statements.map((s) => s.keyword.name),
      ['format'],
    );
    assert.equal(file.statements[0].block!.close, undefined);
  });

  it('reports an unclosed block at end of file', () => {
    assert.deepEqual(codes('match "x" {\n  keep\n'), ['syntax/unclosed-block']);
  });

  it('reports misplaced and trailing commas', () => {
    assert.deepEqual(codes('match , "a" { keep }'), ['syntax/misplaced-comma']);
    assert.deepEqual(codes('match "a", , "b" { keep }'), ['syntax/misplaced-comma']);
    assert.deepEqual(codes('match "a",\n'), ['syntax/misplaced-comma']);
  });

  it('reports a percent sign that follows no number', () => {
    assert.deepEqual(codes('outliers 5 %'), ['syntax/invalid-number']);
  });

  it('terminates on dots that start no number (found by the fuzz test)', () => {
    assert.deepEqual(codes('group ..5 .. -. +'), [
      'syntax/invalid-character',
      'syntax/invalid-character',
      'syntax/invalid-character',
      'syntax/invalid-character',
    ]);
  });

  it('collects comments and never puts them in statements', () => {
    const { file } = parse('# head\nmodel "x" # trailing\n');
    assert.equal(file.comments.length, 2);
    assert.equal(file.statements[0].args.length, 1);
  });

  it('gives every node a range inside the text', () => {
    const text = 'match "a" { format int4; method gptq { damp 0.1 } }\nbudget 3 GiB';
    const { file } = parse(text);
    const walk = (s: { start: number; end: number; block?: { statements: unknown[] } }) => {
      assert.ok(s.start >= 0 && s.end <= text.length && s.start <= s.end);
      for (const c of (s.block?.statements ?? []) as (typeof s)[]) walk(c);
    };
    file.statements.forEach(walk);
  });
});
