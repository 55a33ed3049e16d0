// Semantic tokens (full document): the grammar colours the shape of the text; these add
// what only the analyzer knows, e.g. that `q4_k` is a format and a match string is a pattern.
import type { SemanticTokens, SemanticTokensLegend } from 'vscode-languageserver';
import {
  ALLOCATE_KEYWORDS,
  EVALUATE_KEYWORDS,
  FORMAT_BY_NAME,
  METHOD_BY_NAME,
  PROPERTY_KEYWORDS,
  PROPERTY_WORDS,
  TOP_KEYWORDS,
  type Span,
  type Statement,
} from '../../../core/src/index';
import type { AnalyzedDocument } from './document';

export const TOKEN_TYPES = [
  'keyword',
  'property',
  'parameter',
  'string',
  'regexp',
  'number',
  'type',
  'enumMember',
  'function',
  'comment',
] as const;
type TokenType = (typeof TOKEN_TYPES)[number];

/** `type` is used for units (bpw, GiB, %): the closest standard token type. */
export const LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [] };

const TYPE_INDEX = new Map<TokenType, number>(TOKEN_TYPES.map((t, i) => [t, i]));
const TOP = new Set(TOP_KEYWORDS.map((k) => k.name));
const PROPS = new Set(PROPERTY_KEYWORDS.map((k) => k.name));
const BLOCK_KEYWORDS: Readonly<Record<string, Set<string>>> = {
  allocate: new Set(ALLOCATE_KEYWORDS.map((k) => k.name)),
  evaluate: new Set(EVALUATE_KEYWORDS.map((k) => k.name)),
};
/** Words taken as arguments anywhere (kinds, option names, property values). */
const VALUE_WORDS = new Set<string>([
  'imatrix',
  'text',
  'tokens',
  'generated',
  'fake',
  'gguf',
  'compressed_tensors',
  'llm_compressor',
  'llama_quantize',
  'weight',
  'output',
  'kld',
  'tensor',
  'layer',
  ...Object.values(PROPERTY_WORDS).flat(),
]);
const OPTION_WORDS = new Set(['samples', 'length', 'seed']);

interface Tok extends Span {
  type: TokenType;
}

export function semanticTokens(doc: AnalyzedDocument): SemanticTokens {
  const toks: Tok[] = [];
  const push = (span: Span, type: TokenType) => {
    if (span.end > span.start) toks.push({ start: span.start, end: span.end, type });
  };
  for (const c of doc.analysis.file.comments) push(c, 'comment');
  const visit = (s: Statement, parent: Statement | undefined, grand: Statement | undefined) => {
    const kw = s.keyword.name;
    const where = parent?.keyword.name;
    let kwType: TokenType | undefined;
    if (!parent) kwType = TOP.has(kw) ? 'keyword' : undefined;
    else if ((where === 'match' || where === 'defaults') && !grand) kwType = PROPS.has(kw) ? 'property' : undefined;
    else if (where === 'method' && grand) kwType = 'parameter';
    else if (where && BLOCK_KEYWORDS[where]?.has(kw)) kwType = 'property';
    if (kwType) push(s.keyword, kwType);
    for (const a of s.args) {
      if (a.kind === 'string') push(a, kw === 'match' && !parent ? 'regexp' : 'string');
      else if (a.kind === 'number') {
        push({ start: a.start, end: a.start + a.text.length }, 'number');
        if (a.unit) push(a.unit, 'type');
      } else if (METHOD_BY_NAME.has(a.name) && kw === 'method') push(a, 'function');
      else if (FORMAT_BY_NAME.has(a.name) && (kw === 'format' || kw === 'formats')) push(a, 'enumMember');
      else if (OPTION_WORDS.has(a.name)) push(a, 'parameter');
      else if (VALUE_WORDS.has(a.name)) push(a, 'enumMember');
    }
    for (const c of s.block?.statements ?? []) visit(c, s, parent);
  };
  for (const s of doc.analysis.file.statements) visit(s, undefined, undefined);
  toks.sort((a, b) => a.start - b.start);

  // LSP encoding: per token, line delta, start delta (relative when on the same line), length, type, modifiers.
  const data: number[] = [];
  let prevLine = 0;
  let prevChar = 0;
  for (const t of toks) {
    const p = doc.lines.position(t.start);
    const deltaLine = p.line - prevLine;
    data.push(
      deltaLine,
      deltaLine === 0 ? p.character - prevChar : p.character,
      t.end - t.start,
      TYPE_INDEX.get(t.type)!,
      0,
    );
    prevLine = p.line;
    prevChar = p.character;
  }
  return { data };
}
