// Strict JSON for model headers and configs, where JSON.parse is too forgiving: it keeps
// the last of two equal keys (the native reader keeps the first, so the two would read
// different models), accepts escaped lone surrogates ("\ud800") that no UTF-8 file can
// hold, forgets whether a number was written as an integer (a shape of [2.0] must be
// refused, as natively), and nests without limit. Hand-written, one pass; recursion is
// bounded by the nesting limit.

/** Nesting limit, as native/src/io/json.h. */
export const MAX_JSON_DEPTH = 64;

export interface JsonOptions {
  maxDepth?: number;
  /** Numbers written with a fraction or exponent come back as JsonNonInteger (safetensors
   * headers hold only integers: shapes and offsets). */
  exactIntegers?: boolean;
}

/** A number written as "2.0" or "1e3" where only integers are expected. */
export class JsonNonInteger {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}
  toString(): string {
    return this.text;
  }
}

/** Where and why text is not acceptable JSON; `duplicate` is set for a repeated key. */
export class JsonError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
    readonly duplicate?: { key: string; depth: number },
  ) {
    super(`${reason} at position ${offset}`);
    this.name = 'JsonError';
  }
}

export function parseStrictJson(text: string, options: JsonOptions = {}): unknown {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const exact = options.exactIntegers === true;
  const n = text.length;
  let i = 0;
  const fail = (reason: string, at = i): never => {
    throw new JsonError(at, reason);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const hex4 = (at: number): number => {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(at + k);
      const d =
        c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 87 : c >= 0x41 && c <= 0x46 ? c - 55 : -1;
      if (d < 0) fail('bad \\u escape', at - 2);
      v = v * 16 + d;
    }
    return v;
  };
  const string = (): string => {
    const start = ++i; // after the opening quote
    // Fast path: no escapes before the closing quote.
    for (;;) {
      if (i >= n) fail('unterminated string', start - 1);
      const c = text.charCodeAt(i);
      if (c === 0x22) return text.slice(start, i++);
      if (c === 0x5c) break;
      if (c < 0x20) fail('control character in string');
      i++;
    }
    let out = text.slice(start, i);
    for (;;) {
      if (i >= n) fail('unterminated string', start - 1);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        const run = i;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === 0x22 || d === 0x5c || d < 0x20) break;
          i++;
        }
        out += text.slice(run, i);
        continue;
      }
      const e = text[i + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const cp = hex4(i + 2);
          if (cp >= 0xd800 && cp <= 0xdbff) {
            const lo = text[i + 6] === '\\' && text[i + 7] === 'u' ? hex4(i + 8) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) fail('unpaired surrogate escape (not valid Unicode)');
            out += String.fromCharCode(cp, lo);
            i += 6;
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail('unpaired surrogate escape (not valid Unicode)');
          } else out += String.fromCharCode(cp);
          i += 4;
          break;
        }
        default:
          fail('bad escape');
      }
      i += 2;
    }
  };
  const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
  const number = (): unknown => {
    const start = i;
    if (text.charCodeAt(i) === 0x2d) i++;
    const first = text.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) while (isDigit(text.charCodeAt(i))) i++;
    else fail('unexpected character', start);
    let integral = true;
    if (text.charCodeAt(i) === 0x2e) {
      integral = false;
      i++;
      if (!isDigit(text.charCodeAt(i))) fail('bad number');
      while (isDigit(text.charCodeAt(i))) i++;
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      integral = false;
      i++;
      const s = text.charCodeAt(i);
      if (s === 0x2b || s === 0x2d) i++;
      if (!isDigit(text.charCodeAt(i))) fail('bad number');
      while (isDigit(text.charCodeAt(i))) i++;
    }
    const lexeme = text.slice(start, i);
    const value = Number(lexeme);
    return exact && !integral ? new JsonNonInteger(lexeme, value) : value;
  };
  const literal = (word: string, value: unknown): unknown => {
    if (!text.startsWith(word, i)) fail('unexpected character');
    i += word.length;
    return value;
  };

  // Recursive descent: the depth limit bounds the recursion, far below the stack's size.
  const hasOwn = Object.prototype.hasOwnProperty;
  const value = (depth: number): unknown => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 0x22) return string();
    if (c === 0x7b) {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth} levels`);
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 0x22) fail(i >= n ? 'unexpected end of input' : 'expected a string key');
        const at = i;
        const k = string();
        if (hasOwn.call(obj, k))
          throw new JsonError(at, `duplicate key ${JSON.stringify(k)}`, { key: k, depth: depth + 1 });
        ws();
        if (text.charCodeAt(i) !== 0x3a) fail("expected ':'");
        i++;
        const v = value(depth + 1);
        if (k === '__proto__')
          Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
        else obj[k] = v;
        ws();
        const d = text.charCodeAt(i++);
        if (d === 0x2c) continue;
        if (d === 0x7d) return obj;
        fail(i > n ? 'unexpected end of input' : "expected ',' or '}'", i - 1);
      }
    }
    if (c === 0x5b) {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth} levels`);
      i++;
      const arr: unknown[] = [];
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        const d = text.charCodeAt(i++);
        if (d === 0x2c) continue;
        if (d === 0x5d) return arr;
        fail(i > n ? 'unexpected end of input' : "expected ',' or ']'", i - 1);
      }
    }
    if (c === 0x74) return literal('true', true);
    if (c === 0x66) return literal('false', false);
    if (c === 0x6e) return literal('null', null);
    if (i >= n) fail('unexpected end of input');
    return number();
  };
  const root = value(0);
  ws();
  if (i < n) fail('unexpected data after the JSON value');
  return root;
}

/** 1-based line and column of an offset, for messages. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 10) {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
