// Tensor-name patterns. Globs are matched by picomatch on names whose '.' separators
// are read as path separators, so `*` stays within one segment and `**` crosses them;
// `{0..12}` numeric ranges expand through to-regex-range. A glob matches the whole name
// or a dot-aligned tail of it (like a .gitignore pattern without a slash), with or
// without the trailing `.weight` / `.bias`: `mlp.down_proj` and `*.mlp.down_proj` both
// select every layer's down projection. `re:` patterns are full regular expressions,
// anchored at both ends, on the name with or without its suffix.
//
// Both kinds run on RE2JS, a linear-time engine: a backtracking engine takes exponential
// time on nested quantifiers (`re:((\w|\.)+)+X`) and polynomial time on globs with
// several stars, and the language server would stop answering. So `re:` patterns use RE2
// syntax (JavaScript escapes such as \u0041 and (?<name>...) are translated; lookaround
// and backreferences, which no linear engine can run, are reported), and globs compile to
// RE2 too (picomatch's regex, minus the lookaheads that cannot fire on dotted names).

import picomatch from 'picomatch';
import { RE2JS } from 're2js';
import toRegexRange from 'to-regex-range';

/** Longer patterns are refused: compiling is linear in the pattern, but not free. */
export const MAX_PATTERN_LENGTH = 2000;

export interface CompiledPattern {
  text: string;
  test(name: string): boolean;
  /** The pattern spells out the tensor's own name (its last segment has no * or ?), as
   * `*.input_layernorm` does and `model.layers.0.**` does not; `re:` patterns count as
   * explicit. Only such patterns change 1-D tensors (norms, biases). */
  explicitLeaf: boolean;
  /** Set when the pattern is invalid; `test` then matches nothing. */
  error?: string;
}

const cache = new Map<string, CompiledPattern>();
const CACHE_LIMIT = 5000;

export function compilePattern(text: string): CompiledPattern {
  let compiled = cache.get(text);
  if (!compiled) {
    compiled = compileUncached(text);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, compiled);
  }
  return compiled;
}

function compileUncached(text: string): CompiledPattern {
  const never = (error: string): CompiledPattern => ({ text, error, test: () => false, explicitLeaf: false });
  if (text.trim() === '') return never('Empty pattern');
  if (text.length > MAX_PATTERN_LENGTH)
    return never(`Pattern is ${text.length} characters long (limit ${MAX_PATTERN_LENGTH})`);
  if (text.startsWith('re:')) {
    const body = text.slice(3);
    const unsupported = unsupportedRegexSyntax(body);
    if (unsupported) return never(unsupported);
    try {
      const re = RE2JS.compile(`^(?:${RE2JS.translateRegExp(body)})(?:\\.(?:weight|bias))?$`);
      return { text, test: (name) => re.testExact(name), explicitLeaf: true };
    } catch (e) {
      return never(`Invalid regular expression: ${re2Message(e)}`);
    }
  }
  const problem = checkGlob(text);
  if (problem) return never(problem);
  let body: string;
  try {
    // parse().output is the regex body without anchors (fastpaths off: plain names too).
    body = parseGlob(text.replace(/(?<!\.)\.(?!\.)/g, '/'), {
      dot: true,
      strictBrackets: true,
      fastpaths: false,
      expandRange: (a: string, b: string) => `(${toRegexRange(a, b)})`,
    }).output;
  } catch (e) {
    return never(`Invalid pattern: ${(e as Error).message}`);
  }
  const linear = linearGlobBody(body);
  if (linear === undefined)
    return never(
      'Unsupported glob syntax: extglob negation and lookaround (!(...)) cannot run on the linear-time matcher; use several patterns, or a re: pattern',
    );
  let re: RE2JS;
  try {
    re = RE2JS.compile(`^(?:[^/]*/)*?(?:${linear})(?:/(?:weight|bias))?$`);
  } catch (e) {
    return never(`Invalid pattern: ${re2Message(e)}`);
  }
  const leaf =
    text
      .replace(/\.(weight|bias)$/, '')
      .split(/(?<!\.)\.(?!\.)/)
      .pop() ?? '';
  // Every name must contain the pattern's longest literal run: a substring check rejects
  // most names before the regular expression runs (the first analysis of a large model
  // tests every pattern against every tensor).
  const required = longestLiteral(text);
  return {
    text,
    test: (name) => name.includes(required) && re.testExact(name.replace(/\./g, '/')),
    explicitLeaf: !/[*?]/.test(leaf),
  };
}

/** What RE2 cannot run in a JavaScript-style regex, named for the diagnostic. */
function unsupportedRegexSyntax(body: string): string | undefined {
  // Outside character classes only: "[(?=]" is three literal characters.
  let inClass = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      const d = body[i + 1];
      if (!inClass && d !== undefined && ((d >= '1' && d <= '9') || d === 'k'))
        return `Backreferences (\\${d}${d === 'k' ? '<name>' : ''}) are not supported: re: patterns run on a linear-time engine (RE2 syntax)`;
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      if (body[i + 1] === ']') i++;
    } else if (c === '(' && body[i + 1] === '?') {
      const kind = body.startsWith('(?=', i)
        ? 'Lookahead (?=...)'
        : body.startsWith('(?!', i)
          ? 'Negative lookahead (?!...)'
          : body.startsWith('(?<=', i)
            ? 'Lookbehind (?<=...)'
            : body.startsWith('(?<!', i)
              ? 'Negative lookbehind (?<!...)'
              : undefined;
      if (kind) return `${kind} is not supported: re: patterns run on a linear-time engine (RE2 syntax)`;
    }
  }
  return undefined;
}

function re2Message(e: unknown): string {
  return ((e as Error).message ?? String(e)).replace(/^error parsing regexp: /, '');
}

// picomatch guards every segment against "." and ".." with lookaheads; tensor names read as
// paths have no '.' left in them (dots became separators), so the guards always hold and
// are dropped. `(?=.)` (a star does not match an empty last segment) only matters for names
// ending in a dot. Anything else with lookaround (extglob negation) has no linear form.
const ALWAYS_TRUE = [
  /\(\?!\\\.\{1,2\}\(\?:\\\/\|\$\)\)/g, // (?!\.{1,2}(?:\/|$))
  /\(\?!\(\?:\^\|\\\/\)\\\.\{1,2\}\(\?:\\\/\|\$\)\)/g, // (?!(?:^|\/)\.{1,2}(?:\/|$))
  /\(\?=\.\)/g, // (?=.)
];

function linearGlobBody(body: string): string | undefined {
  let out = body;
  for (const re of ALWAYS_TRUE) out = out.replace(re, '');
  return /\(\?<?[=!]/.test(out) ? undefined : out;
}

// @types/picomatch declares too few options for parse(); the runtime accepts all of them.
const parseGlob = picomatch.parse as unknown as (glob: string, options: object) => { output: string };

/** The longest run of plain characters outside [...] and {...}: text every match contains. */
function longestLiteral(glob: string): string {
  let best = '';
  let run = '';
  let depth = 0;
  for (const c of glob) {
    if (c === '[' || c === '{') depth++;
    if (depth === 0 && !'*?\\]}!+@()'.includes(c)) run += c;
    else {
      if (run.length > best.length) best = run;
      run = '';
    }
    if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return run.length > best.length ? run : best;
}

/** Problems picomatch would silently read literally (so a typo would match nothing). */
function checkGlob(text: string): string | undefined {
  let square = 0;
  let curly = 0;
  for (const c of text) {
    if (c === '[') square++;
    else if (c === ']') square--;
    else if (c === '{') curly++;
    else if (c === '}') curly--;
    if (square < 0) return "Unmatched ']' in pattern";
    if (curly < 0) return "Unmatched '}' in pattern";
  }
  if (square > 0) return "Unclosed '[' in pattern";
  if (curly > 0) return "Unclosed '{' in pattern";
  const range = /\{(-?\d+)\.\.(-?\d+)\}/.exec(text);
  if (range && Number(range[1]) > Number(range[2]))
    return `Empty range {${range[1]}..${range[2]}}: write the smaller bound first`;
  return undefined;
}
