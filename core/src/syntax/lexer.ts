// Turns recipe text into tokens. Never throws: malformed input becomes error tokens
// with a code, and lexing always reaches the end of the text.

import type { SyntaxError } from './ast';

export type TokenKind =
  | 'ident'
  | 'string'
  | 'number'
  | 'percent'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'semicolon'
  | 'newline'
  | 'comment'
  | 'invalid'
  | 'eof';

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** Identifier name, unescaped string value, or number literal text. */
  text: string;
  /** For strings: whether the closing quote was found. */
  terminated?: boolean;
}

export interface LexResult {
  tokens: Token[];
  errors: SyntaxError[];
}

const isIdentStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isIdentPart = (c: string) => isIdentStart(c) || (c >= '0' && c <= '9');
/** Statement ends: '\n', '\r' (alone or before '\n'), and the Unicode line and paragraph separators. */
const isLineBreak = (c: string) => c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029';
/** Every other white space JavaScript's \s knows (tab, NBSP, U+3000, U+2003, U+202F, U+1680, BOM...) is a space. */
const isSpace = (c: string) =>
  c === ' ' || c === '\t' || c === '\v' || c === '\f' || (c > '\u007f' && !isLineBreak(c) && /\s/.test(c));
/** Characters that can start a token: an unexpected-character run stops before them. */
const startsToken = (c: string) =>
  isIdentPart(c) ||
  isSpace(c) ||
  isLineBreak(c) ||
  c === '"' ||
  c === '#' ||
  c === '{' ||
  c === '}' ||
  c === ';' ||
  c === ',' ||
  c === '%';
const isDigit = (c: string) => c >= '0' && c <= '9';

/** 12, .5, -3, +0.5, -.5 — but not '..' or a lone sign. */
function startsNumber(text: string, i: number): boolean {
  const c = text[i];
  if (isDigit(c)) return true;
  const d = (k: number) => isDigit(text[k] ?? '');
  if (c === '.') return d(i + 1);
  if (c === '-' || c === '+') return d(i + 1) || (text[i + 1] === '.' && d(i + 2));
  return false;
}

export function lex(text: string): LexResult {
  const tokens: Token[] = [];
  const errors: SyntaxError[] = [];
  let i = 0;
  const n = text.length;
  const push = (kind: TokenKind, start: number, end: number, value = text.slice(start, end)) => {
    tokens.push({ kind, start, end, text: value });
  };

  while (i < n) {
    const c = text[i];
    if (c === ' ' || isSpace(c)) {
      i++;
    } else if (isLineBreak(c)) {
      const len = c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      push('newline', i, i + len);
      i += len;
    } else if (c === '#') {
      const start = i;
      while (i < n && !isLineBreak(text[i])) i++;
      push('comment', start, i);
    } else if (c === '"') {
      i = lexString(text, i, tokens, errors);
    } else if (startsNumber(text, i)) {
      i = lexNumber(text, i, tokens, errors);
    } else if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentPart(text[i])) i++;
      push('ident', start, i);
    } else if (c === '{') {
      push('lbrace', i, i + 1);
      i++;
    } else if (c === '}') {
      push('rbrace', i, i + 1);
      i++;
    } else if (c === ',') {
      push('comma', i, i + 1);
      i++;
    } else if (c === ';') {
      push('semicolon', i, i + 1);
      i++;
    } else if (c === '%') {
      push('percent', i, i + 1);
      i++;
    } else {
      // Group a run of unexpected characters into one error, not one per character. The
      // first one is always taken, so lexing advances whatever the character is.
      const start = i;
      do i++;
      while (i < n && !startsToken(text[i]));
      push('invalid', start, i);
      errors.push({
        code: 'syntax/invalid-character',
        start,
        end: i,
        message: `Unexpected character${i - start > 1 ? 's' : ''} ${showChars(text.slice(start, i))}`,
      });
    }
  }
  tokens.push({ kind: 'eof', start: n, end: n, text: '' });
  return { tokens, errors };
}

function lexString(text: string, i: number, tokens: Token[], errors: SyntaxError[]): number {
  const start = i++;
  let value = '';
  while (i < text.length && text[i] !== '"' && !isLineBreak(text[i])) {
    // Only \" and \\ are escapes; any other backslash stays as written, so regular
    // expressions read naturally: "re:.*\.q_proj".
    if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
      value += text[i + 1];
      i += 2;
      continue;
    }
    value += text[i++];
  }
  const terminated = text[i] === '"';
  if (terminated) i++;
  else {
    errors.push({
      code: 'syntax/unterminated-string',
      start,
      end: i,
      message: 'Unterminated string: add the closing quote (")',
    });
  }
  tokens.push({ kind: 'string', start, end: i, text: value, terminated });
  return i;
}

function lexNumber(text: string, i: number, tokens: Token[], errors: SyntaxError[]): number {
  const start = i;
  if (text[i] === '-' || text[i] === '+') i++;
  while (i < text.length && isDigit(text[i])) i++;
  if (text[i] === '.' && text[i + 1] !== '.') {
    i++;
    while (i < text.length && isDigit(text[i])) i++;
  }
  if (
    (text[i] === 'e' || text[i] === 'E') &&
    (isDigit(text[i + 1] ?? '') || ((text[i + 1] === '-' || text[i + 1] === '+') && isDigit(text[i + 2] ?? '')))
  ) {
    i += 2;
    while (i < text.length && isDigit(text[i])) i++;
  }
  // A number running straight into letters ("128x") is one malformed token, so that
  // the error names it whole. Units are separated by a space ("4.5 bpw") or are '%'.
  if (i < text.length && isIdentPart(text[i])) {
    while (i < text.length && isIdentPart(text[i])) i++;
    errors.push({
      code: 'syntax/invalid-number',
      start,
      end: i,
      message: `Invalid number '${text.slice(start, i)}': put a space between a number and its unit`,
    });
    tokens.push({ kind: 'invalid', start, end: i, text: text.slice(start, i) });
    return i;
  }
  if (i === start) i++; // cannot happen after startsNumber, but lexing must always advance
  const literal = text.slice(start, i);
  if (!Number.isFinite(Number(literal))) {
    errors.push({ code: 'syntax/invalid-number', start, end: i, message: `Invalid number '${literal}'` });
    tokens.push({ kind: 'invalid', start, end: i, text: literal });
    return i;
  }
  tokens.push({ kind: 'number', start, end: i, text: literal });
  return i;
}

/** Characters as a message shows them: quoted, with invisible ones (controls, format
 * characters such as U+200B or RTL marks, unpaired surrogates) as U+XXXX; long runs cut. */
function showChars(run: string): string {
  const shown = run.length > 40 ? run.slice(0, 40) : run;
  let out = '';
  for (const ch of shown) {
    const cp = ch.codePointAt(0)!;
    out += /[\p{C}\p{Z}]/u.test(ch) ? `U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : ch;
  }
  return `'${out}'${run.length > shown.length ? '...' : ''}`;
}
