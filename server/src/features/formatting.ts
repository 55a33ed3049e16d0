// The canonical layout of a recipe: one statement per line, blocks indented by two
// spaces, single spaces between arguments and ", " between patterns, comments kept
// (trailing comments of consecutive lines at one depth aligned), at most one blank line in a row,
// one newline at the end. One-line blocks stay on one line when they hold a single
// statement or are a method's options (`method gptq { damp 0.01; block 128 }`); other
// `;`-separated statements are split onto lines. A file with syntax errors is left alone,
// and the result is checked to hold exactly the same non-blank text (minus `;`), so
// formatting can never lose content.
import type { TextEdit } from 'vscode-languageserver';
import {
  countLineBreaks,
  hasLineBreak,
  lineEnding,
  type Block,
  type RecipeFile,
  type Span,
  type Statement,
  type Value,
} from '../../../core/src/index';
import type { AnalyzedDocument } from './document';

const INDENT = '  ';

export function formatting(doc: AnalyzedDocument): TextEdit[] {
  if (doc.analysis.diagnostics.some((d) => d.code.startsWith('syntax/'))) return [];
  const formatted = formatRecipe(doc.text, doc.analysis.file);
  if (formatted === undefined || formatted === doc.text) return [];
  return [{ range: doc.lines.range({ start: 0, end: doc.text.length }), newText: formatted }];
}

interface Line {
  indent: number;
  code: string;
  comment?: string;
}

/** The formatted text, or undefined if formatting would change more than layout (a safety net). */
export function formatRecipe(text: string, file: RecipeFile): string | undefined {
  const f = new Formatter(text, file.comments);
  f.container(file.statements, 0, undefined, file.end);
  const out = f.render(lineEnding(text));
  const result = (text.startsWith('\uFEFF') ? '\uFEFF' : '') + out;
  const essence = (s: string) => s.replace(/[\s;]+/g, '');
  return essence(result) === essence(text) ? result : undefined;
}

class Formatter {
  private readonly lines: (Line | null)[] = []; // null = blank line
  private next = 0; // index of the next comment not yet placed

  constructor(
    private readonly text: string,
    private readonly comments: Span[],
  ) {}

  /**
   * Lays out the statements of one container (the file, or a block whose '{' is at `open`),
   * with the comments between them, up to `end`.
   */
  container(statements: Statement[], indent: number, open: number | undefined, end: number): void {
    let prevEnd = open; // where the previous item ended; undefined at the start of the file
    let first = true;
    const place = (start: number) => {
      if (!first && prevEnd !== undefined && newlines(this.text, prevEnd, start) >= 2) this.lines.push(null);
      first = false;
    };
    const comments = (limit: number) => {
      while (this.next < this.comments.length && this.comments[this.next].start < limit) {
        const c = this.comments[this.next++];
        const body = this.text.slice(c.start, c.end).trimEnd();
        const last = this.lines[this.lines.length - 1];
        if (
          prevEnd !== undefined &&
          newlines(this.text, prevEnd, c.start) === 0 &&
          last &&
          last.comment === undefined
        ) {
          last.comment = body; // on the line of the code before it
        } else {
          place(c.start);
          this.lines.push({ indent, code: '', comment: body });
        }
        prevEnd = c.end;
      }
    };
    for (const s of statements) {
      comments(s.start);
      place(s.start);
      this.statement(s, indent);
      prevEnd = s.end;
    }
    comments(end);
  }

  private statement(s: Statement, indent: number): void {
    const head = this.head(s);
    const b = s.block;
    if (!b) {
      this.lines.push({ indent, code: head });
    } else if (inlineable(this.text, s)) {
      this.lines.push({ indent, code: `${head} ${this.inlineBlock(b)}` });
    } else {
      this.lines.push({ indent, code: `${head} {` });
      this.container(b.statements, indent + 1, b.start + 1, b.close ?? b.end);
      this.lines.push({ indent, code: '}' });
    }
  }

  /** Keyword and arguments, commas kept where they were written. */
  private head(s: Statement): string {
    const parts: { at: number; text: string }[] = [
      ...s.args.map((a) => ({ at: a.start, text: this.value(a) })),
      ...s.separators.map((at) => ({ at, text: ',' })),
    ].sort((a, b) => a.at - b.at);
    let out = s.keyword.name;
    for (const p of parts) out += p.text === ',' ? ',' : ` ${p.text}`;
    return out;
  }

  private value(v: Value): string {
    if (v.kind === 'string') return this.text.slice(v.start, v.end);
    if (v.kind === 'ident') return v.name;
    return v.text + (v.unit ? (v.unit.text === '%' ? '%' : ` ${v.unit.text}`) : '');
  }

  private inlineBlock(b: Block): string {
    if (b.statements.length === 0) return '{ }';
    return `{ ${b.statements.map((s) => (s.block ? `${this.head(s)} ${this.inlineBlock(s.block)}` : this.head(s))).join('; ')} }`;
  }

  render(eol: string): string {
    // Align the trailing comments of consecutive lines at the same depth.
    const width = (l: Line) => l.indent * INDENT.length + l.code.length;
    const column = new Map<Line, number>();
    for (let i = 0; i < this.lines.length;) {
      const l = this.lines[i];
      if (!l || !l.code || l.comment === undefined) {
        i++;
        continue;
      }
      let j = i;
      let max = 0;
      for (; j < this.lines.length; j++) {
        const m = this.lines[j];
        if (!m || !m.code || m.comment === undefined || m.indent !== l.indent) break;
        max = Math.max(max, width(m));
      }
      for (let k = i; k < j; k++) column.set(this.lines[k]!, max + 1);
      i = j;
    }
    const out = this.lines.map((l) => {
      if (!l) return '';
      const code = INDENT.repeat(l.indent) + l.code;
      if (l.comment === undefined) return code;
      if (!l.code) return INDENT.repeat(l.indent) + l.comment;
      return code.padEnd(column.get(l)!) + l.comment;
    });
    return out.length ? out.join(eol) + eol : '';
  }
}

function newlines(text: string, from: number, to: number): number {
  return countLineBreaks(text, from, to);
}

/** Whether a block stays on one line: written on one line, and one statement or method options, all the way down. */
function inlineable(text: string, s: Statement): boolean {
  const b = s.block!;
  if (b.close === undefined || hasLineBreak(text, b.start, b.close)) return false;
  if (b.statements.length > 1 && s.keyword.name !== 'method') return false;
  return b.statements.every((c) => !c.block || inlineable(text, c));
}
