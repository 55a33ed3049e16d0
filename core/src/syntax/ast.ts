// The syntax tree of a `.quant` recipe. The grammar is deliberately uniform:
//
//   file      := statement*
//   statement := IDENT value* [ '{' statement* '}' ]      (ended by newline, ';' or '}')
//   value     := STRING | NUMBER [unit] | IDENT | ','
//
// so the parser never needs to know the vocabulary and can recover anywhere; what each
// keyword means (its arguments, its block) is checked by the analyzer against the schema
// in language/schema.ts. Every node carries its [start, end) offsets into the text.

export interface Span {
  start: number;
  end: number;
}

export type Value = StringValue | NumberValue | IdentValue;

export interface StringValue extends Span {
  kind: 'string';
  /** The unescaped contents. */
  value: string;
  /** False when the closing quote is missing (a syntax error was reported). */
  terminated: boolean;
}

export interface NumberValue extends Span {
  kind: 'number';
  value: number;
  /** The literal as written, e.g. "0.5". */
  text: string;
  /** A unit written after the number: "%" glued to it, or a word such as "bpw", "MiB". */
  unit?: { text: string } & Span;
}

export interface IdentValue extends Span {
  kind: 'ident';
  name: string;
}

export interface Block extends Span {
  /** Offset of the closing brace, or undefined when the block is not closed. */
  close?: number;
  statements: Statement[];
}

export interface Statement extends Span {
  keyword: IdentValue;
  /** Arguments in order; commas separate match patterns and are kept as `separators`. */
  args: Value[];
  /** Offsets of the commas between arguments (for formatting and completion). */
  separators: number[];
  block?: Block;
}

export interface RecipeFile extends Span {
  statements: Statement[];
  /** Comments, for formatting and folding: [start, end) of each `# ...`. */
  comments: Span[];
}

export interface SyntaxError extends Span {
  code: SyntaxErrorCode;
  message: string;
}

/** Stable codes: tests and code actions depend on them. */
export type SyntaxErrorCode =
  | 'syntax/invalid-character'
  | 'syntax/unterminated-string'
  | 'syntax/invalid-number'
  | 'syntax/expected-keyword'
  | 'syntax/unexpected-brace'
  | 'syntax/unclosed-block'
  | 'syntax/misplaced-comma'
  | 'syntax/too-deep';
