// Recursive-descent parser for recipes. Never throws; always returns a tree covering
// everything it could make sense of, plus errors with stable codes. Recovery points are
// statement ends (newline, ';') and block ends ('}'), so one typo does not hide the
// rest of the file.

import type { Block, IdentValue, RecipeFile, Span, Statement, SyntaxError, Value } from './ast';
import { lex, type Token } from './lexer';

/** Words that attach to a preceding number as its unit ("4.5 bpw", "2.1 MiB"). */
export const UNIT_WORDS = ['bpw', 'B', 'KB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
const UNITS = new Set<string>(UNIT_WORDS);

/** Keywords that only start top-level statements. Met at the start of a statement inside
 * a block on a new line, they mean the block was not closed: end it there so the rest of the file
 * still parses as written. (Checked against the schema by a test.) */
export const TOP_LEVEL_ONLY = new Set([
  'recipe',
  'model',
  'calibration',
  'budget',
  'threads',
  'defaults',
  'match',
  'allocate',
  'evaluate',
  'output',
  'export',
]);

/** Blocks nest at most this deep (recipes use 2 or 3): deeper text is skipped with an
 * error, so no document can exhaust the stack of the parser or of anything walking the tree. */
export const MAX_NESTING = 64;

export interface ParseResult {
  file: RecipeFile;
  errors: SyntaxError[];
}

export function parse(text: string): ParseResult {
  const { tokens, errors: lexErrors } = lex(text);
  const comments: Span[] = tokens.filter((t) => t.kind === 'comment').map((t) => ({ start: t.start, end: t.end }));
  const p = new Parser(tokens.filter((t) => t.kind !== 'comment'));
  const statements = p.statements(false);
  const errors = [...lexErrors, ...p.errors].sort((a, b) => a.start - b.start);
  return { file: { start: 0, end: text.length, statements, comments }, errors };
}

class Parser {
  readonly errors: SyntaxError[] = [];
  private pos = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  private get tok(): Token {
    return this.tokens[this.pos];
  }
  private next(): Token {
    return this.tokens[this.pos < this.tokens.length - 1 ? this.pos++ : this.pos];
  }

  private error(code: SyntaxError['code'], span: Span, message: string) {
    this.errors.push({ code, start: span.start, end: span.end, message });
  }

  /** Statements until EOF (top level) or the closing brace (inside a block). */
  statements(inBlock: boolean): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      const t = this.tok;
      if (t.kind === 'eof') return out;
      if (t.kind === 'newline' || t.kind === 'semicolon') {
        this.next();
        continue;
      }
      if (t.kind === 'rbrace') {
        if (inBlock) return out;
        this.error('syntax/unexpected-brace', t, "Unexpected '}' with no open block");
        this.next();
        continue;
      }
      if (t.kind === 'ident') {
        if (inBlock && TOP_LEVEL_ONLY.has(t.text) && this.tokens[this.pos - 1]?.kind === 'newline') return out;
        out.push(this.statement());
        continue;
      }
      if (t.kind === 'invalid') {
        this.next();
        continue;
      } // already reported by the lexer
      if (t.kind === 'lbrace') {
        this.error('syntax/expected-keyword', t, 'A block \'{\' must follow a keyword, as in match "pattern" { ... }');
        this.block();
        continue;
      }
      this.error('syntax/expected-keyword', t, `Expected a keyword at the start of a statement, found ${describe(t)}`);
      this.skipToStatementEnd();
    }
  }

  private statement(): Statement {
    const kw = this.next();
    const keyword: IdentValue = { kind: 'ident', name: kw.text, start: kw.start, end: kw.end };
    const args: Value[] = [];
    const separators: number[] = [];
    let block: Block | undefined;
    let end = kw.end;
    let lastWasComma = false;
    for (;;) {
      const t = this.tok;
      if (t.kind === 'string') {
        this.next();
        args.push({ kind: 'string', value: t.text, terminated: t.terminated !== false, start: t.start, end: t.end });
      } else if (t.kind === 'number') {
        this.next();
        const value: Value = { kind: 'number', value: Number(t.text), text: t.text, start: t.start, end: t.end };
        const u = this.tok;
        if ((u.kind === 'percent' && u.start === t.end) || (u.kind === 'ident' && UNITS.has(u.text))) {
          this.next();
          value.unit = { text: u.text, start: u.start, end: u.end };
          value.end = u.end;
        }
        args.push(value);
      } else if (t.kind === 'ident') {
        this.next();
        args.push({ kind: 'ident', name: t.text, start: t.start, end: t.end });
      } else if (t.kind === 'comma') {
        this.next();
        if (args.length === 0 || lastWasComma) this.error('syntax/misplaced-comma', t, "Unexpected ','");
        separators.push(t.start);
        end = t.end;
        lastWasComma = true;
        continue;
      } else if (t.kind === 'percent') {
        this.next();
        this.error('syntax/invalid-number', t, "'%' must follow a number directly, as in 0.5%");
      } else if (t.kind === 'invalid') {
        this.next();
      } else if (t.kind === 'lbrace') {
        block = this.block();
        end = block.end;
        break;
      } else {
        break; // newline, ';', '}', eof end the statement
      }
      end = args.length ? Math.max(end, args[args.length - 1].end) : end;
      lastWasComma = false;
    }
    if (lastWasComma && !block) {
      const at = separators[separators.length - 1];
      this.error('syntax/misplaced-comma', { start: at, end: at + 1 }, "Trailing ',' with nothing after it");
    }
    return { keyword, args, separators, block, start: kw.start, end };
  }

  private block(): Block {
    const open = this.next();
    if (this.depth >= MAX_NESTING) return this.skipBlock(open);
    this.depth++;
    const statements = this.statements(true);
    this.depth--;
    const t = this.tok;
    if (t.kind === 'rbrace') {
      this.next();
      return { start: open.start, end: t.end, close: t.start, statements };
    }
    this.error('syntax/unclosed-block', open, "Unclosed block: '{' has no matching '}'");
    const last = statements[statements.length - 1];
    return { start: open.start, end: last ? last.end : open.end, statements };
  }

  /** Past the '}' matching `open` (or to the end), without recursion: a block nested too deep. */
  private skipBlock(open: Token): Block {
    let depth = 1;
    let close: Token | undefined;
    while (this.tok.kind !== 'eof') {
      const t = this.next();
      if (t.kind === 'lbrace') depth++;
      else if (t.kind === 'rbrace' && --depth === 0) {
        close = t;
        break;
      }
    }
    this.error(
      'syntax/too-deep',
      open,
      `Blocks nest deeper than ${MAX_NESTING} levels: this block is skipped` +
        (close ? '' : " (and has no matching '}')"),
    );
    return close
      ? { start: open.start, end: close.end, close: close.start, statements: [] }
      : { start: open.start, end: open.end, statements: [] };
  }

  private skipToStatementEnd() {
    while (!['newline', 'semicolon', 'rbrace', 'eof'].includes(this.tok.kind)) {
      if (this.tok.kind === 'lbrace')
        this.block(); // skip a balanced block with the junk
      else this.next();
    }
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'string':
      return 'a string';
    case 'number':
      return `the number ${t.text}`;
    case 'lbrace':
      return "'{'";
    case 'comma':
      return "','";
    case 'percent':
      return "'%'";
    default:
      return `'${t.text}'`;
  }
}
