// Offsets to 0-based line/character positions (LSP convention: UTF-16 code units, which
// is what JavaScript string offsets already are). Lines end at '\n', '\r\n' or a lone
// '\r', as the LSP specification and editors count them; the lexer also ends statements
// there (and at U+2028/U+2029, which editors show inline and offer to remove).

export interface Position {
  line: number;
  character: number;
}

/** Length of the line break starting at `i` ('\r\n' is 2), or 0 when there is none. */
export function lineBreakAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 10) return 1;
  if (c === 13) return text.charCodeAt(i + 1) === 10 ? 2 : 1;
  return 0;
}

/** Offset where the line holding `offset` starts. */
export function lineStartOf(text: string, offset: number): number {
  let i = Math.min(Math.max(0, offset), text.length);
  while (i > 0) {
    const c = text.charCodeAt(i - 1);
    if (c === 10 || c === 13) break;
    i--;
  }
  return i;
}

/** Offset where the line holding `offset` ends (before its line break). */
export function lineEndOf(text: string, offset: number): number {
  let i = Math.min(Math.max(0, offset), text.length);
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) break;
    i++;
  }
  return i;
}

/** Line breaks in text[from, to) ('\r\n' counts once). */
export function countLineBreaks(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) n++;
  }
  return n;
}

/** Whether text[from, to) contains a line break. */
export function hasLineBreak(text: string, from = 0, to = text.length): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return true;
  }
  return false;
}

/** The line ending a file mostly uses (for edits that insert lines). */
export function lineEnding(text: string): '\n' | '\r\n' | '\r' {
  let lf = 0;
  let crlf = 0;
  let cr = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) lf++;
    else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) {
        crlf++;
        i++;
      } else cr++;
    }
  }
  if (crlf >= lf && crlf >= cr && crlf > 0) return '\r\n';
  return cr > lf ? '\r' : '\n';
}

export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      }
    }
  }

  get lineCount(): number {
    return this.starts.length;
  }

  position(offset: number): Position {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    // An offset between '\r' and '\n' belongs to the end of the line they close.
    return { line: lo, character: Math.min(o, this.lineEnd(lo)) - this.starts[lo] };
  }

  offset(p: Position): number {
    if (p.line < 0) return 0;
    if (p.line >= this.starts.length) return this.text.length;
    return Math.min(this.starts[p.line] + Math.max(0, p.character), this.lineEnd(p.line));
  }

  range(span: { start: number; end: number }): { start: Position; end: Position } {
    return { start: this.position(span.start), end: this.position(span.end) };
  }

  /** Offset of the end of a line's content (before its line break). */
  private lineEnd(line: number): number {
    if (line + 1 >= this.starts.length) return this.text.length;
    const next = this.starts[line + 1];
    return next >= 2 && this.text.charCodeAt(next - 1) === 10 && this.text.charCodeAt(next - 2) === 13
      ? next - 2
      : next - 1;
  }
}
