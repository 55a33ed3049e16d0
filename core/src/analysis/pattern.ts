// Tensor-name patterns. Globs are matched by picomatch on names whose '.' separators
// are read as path separators, so `*` stays within one segment and `**` crosses them;
// `{0..12}` numeric ranges expand through to-regex-range. A glob matches the whole name
// or a dot-aligned tail of it (like a .gitignore pattern without a slash), with or
// without the trailing `.weight` / `.bias`: `mlp.down_proj` and `*.mlp.down_proj` both
// select every layer's down projection. `re:` patterns are full regular expressions,
// anchored at both ends, on the name with or without its suffix.

import picomatch from 'picomatch';
import toRegexRange from 'to-regex-range';

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
  if (text.startsWith('re:')) {
    try {
      const re = new RegExp(`^(?:${text.slice(3)})(?:\\.(?:weight|bias))?$`);
      return { text, test: (name) => re.test(name), explicitLeaf: true };
    } catch (e) {
      return never(`Invalid regular expression: ${(e as Error).message}`);
    }
  }
  const problem = checkGlob(text);
  if (problem) return never(problem);
  try {
    // parse().output is the regex body without anchors (fastpaths off: plain names too).
    const body = parseGlob(text.replace(/(?<!\.)\.(?!\.)/g, '/'), {
      dot: true,
      strictBrackets: true,
      fastpaths: false,
      expandRange: (a: string, b: string) => `(${toRegexRange(a, b)})`,
    }).output;
    const re = new RegExp(`^(?:[^/]*/)*?(?:${body})(?:/(?:weight|bias))?$`);
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
      test: (name) => name.includes(required) && re.test(name.replace(/\./g, '/')),
      explicitLeaf: !/[*?]/.test(leaf),
    };
  } catch (e) {
    return never(`Invalid pattern: ${(e as Error).message}`);
  }
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
