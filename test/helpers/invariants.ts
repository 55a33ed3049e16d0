// What must hold for any text the parser and analyzer are given, however hostile: the tree
// covers the text, every range lies inside it, diagnostics come sorted by offset with a
// code, a severity and a message, and line/character positions map back to the offsets.
import { strict as assert } from 'node:assert';
import type { Analysis } from '../../core/src/analyze';
import type { Statement } from '../../core/src/syntax/ast';
import { parse } from '../../core/src/syntax/parser';
import { LineIndex } from '../../core/src/text';

const SEVERITIES = new Set(['error', 'warning', 'info', 'hint']);

export function checkParse(text: string): void {
  const { file, errors } = parse(text);
  assert.equal(file.start, 0);
  assert.equal(file.end, text.length);
  for (const e of errors) {
    assert.ok(e.start >= 0 && e.end <= text.length && e.start <= e.end, `syntax error range ${e.start}-${e.end}`);
    assert.ok(e.code.startsWith('syntax/') && e.message.length > 0);
  }
  for (let i = 1; i < errors.length; i++) assert.ok(errors[i - 1].start <= errors[i].start, 'syntax errors sorted');
  // Every node inside the text, children inside their parents, in order. Iterative: the
  // tree is at most MAX_NESTING deep, but this check should not rely on that.
  const stack: { s: Statement; lo: number; hi: number }[] = file.statements.map((s) => ({ s, lo: 0, hi: text.length }));
  let prevEnd = 0;
  for (const s of file.statements) {
    assert.ok(s.start >= prevEnd, 'top-level statements in order');
    prevEnd = s.end;
  }
  while (stack.length) {
    const { s, lo, hi } = stack.pop()!;
    assert.ok(lo <= s.start && s.start <= s.end && s.end <= hi, `statement ${s.keyword.name} ${s.start}-${s.end}`);
    for (const a of s.args) assert.ok(a.start >= s.start && a.end <= s.end && a.start <= a.end, 'argument range');
    if (s.block) {
      assert.ok(s.block.start >= s.start && s.block.end <= s.end, 'block inside its statement');
      for (const c of s.block.statements) stack.push({ s: c, lo: s.block.start, hi: s.block.end });
    }
  }
  for (const c of file.comments) assert.ok(c.start >= 0 && c.end <= text.length && c.start < c.end, 'comment range');
}

export function checkAnalysis(text: string, a: Analysis): void {
  checkParse(text);
  const lines = new LineIndex(text);
  for (let i = 0; i < a.diagnostics.length; i++) {
    const d = a.diagnostics[i];
    assert.ok(d.start >= 0 && d.end <= text.length && d.start <= d.end, `${d.code} range ${d.start}-${d.end}`);
    assert.ok(d.code.length > 0 && d.message.length > 0, `${d.code}: empty code or message`);
    assert.ok(SEVERITIES.has(d.severity), `${d.code}: severity ${d.severity}`);
    if (i > 0)
      assert.ok(a.diagnostics[i - 1].start <= d.start, `diagnostics sorted (${a.diagnostics[i - 1].code}, ${d.code})`);
    // Positions round-trip (offsets inside a CRLF pair map to the end of its line).
    const p = lines.position(d.start);
    assert.ok(p.line >= 0 && p.line < lines.lineCount && p.character >= 0);
    const back = lines.offset(p);
    assert.ok(back === d.start || (text[back] === '\r' && back + 1 === d.start), `${d.code} position round-trip`);
  }
}
