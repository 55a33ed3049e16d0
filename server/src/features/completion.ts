// Context-aware completion. The context comes from two sources: the syntax tree says
// which block the cursor is in (so multi-line and unclosed blocks work), and lexing the
// current line up to the cursor says which statement and argument is being typed.
import * as fs from 'fs';
import * as path from 'path';
import {
  CompletionItemKind,
  InsertTextFormat,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type Position,
  type Range,
} from 'vscode-languageserver';
import {
  lineBreakAt,
  lineStartOf,
  ALLOCATE_GRANULARITIES,
  ALLOCATE_KEYWORDS,
  ALLOCATE_METRICS,
  BUDGET_UNITS,
  CALIBRATION_KINDS,
  CALIBRATION_OPTION_DOCS,
  CALIBRATION_OPTIONS,
  EVALUATE_KEYWORDS,
  PERPLEXITY_OPTION_DOCS,
  pushAll,
  EXPORT_KINDS,
  FORMATS,
  METHOD_BY_NAME,
  METHODS,
  OUTPUT_KINDS,
  PROPERTY_KEYWORDS,
  PROPERTY_WORDS,
  TOP_KEYWORDS,
  BUILTIN_DEFAULTS,
  fmt,
  lex,
  tensorBytes,
  resolvePath,
  type FormatInfo,
  type KeywordDoc,
  type PropValues,
  type QuantConfig,
  type Rule,
  type Span,
  type Statement,
} from '../../../core/src/index';
import type { AnalyzedDocument } from './document';
import { openBlocks, ruleOf } from './locate';
import { patternCandidates } from './patterns';
import { KIND_DOCS, VALUE_DOCS, formatBitsSummary, plural, snippetToText } from './vocab';

type Token = ReturnType<typeof lex>['tokens'][number];

export interface CompletionOptions {
  /** The client accepts snippets (placeholders in keywords' usage). */
  snippets?: boolean;
  /** The character that triggered completion, if any: a space only asks for an argument, a quote, '.' or '/' only for string contents. */
  triggerCharacter?: string;
}

type Container =
  | { kind: 'top' }
  | { kind: 'rule'; stmt: Statement }
  | { kind: 'method'; method: string }
  | { kind: 'allocate' }
  | { kind: 'evaluate' }
  | { kind: 'other' };

export function completion(
  doc: AnalyzedDocument,
  position: Position,
  options: CompletionOptions = {},
): CompletionItem[] {
  const { text } = doc;
  const offset = doc.lines.offset(position);
  const lineStart = lineStartOf(text, offset);
  const tokens = lex(text.slice(lineStart, offset))
    .tokens.filter((t) => t.kind !== 'eof')
    .map((t) => ({ ...t, start: t.start + lineStart, end: t.end + lineStart }));
  if (tokens.some((t) => t.kind === 'comment')) return [];

  // The statement being typed: the tokens after the last ';', '{' or '}' on this line.
  let from = tokens.length;
  while (from > 0 && !['semicolon', 'lbrace', 'rbrace'].includes(tokens[from - 1].kind)) from--;
  const seg = tokens.slice(from);
  const container = containerAt(doc, offset);
  const last = seg[seg.length - 1];

  const trigger = options.triggerCharacter;
  if (last?.kind === 'string' && (last.terminated === false || last.end === offset)) {
    if (last.terminated !== false) return []; // just after a closing quote
    return stringCompletion(doc, container, seg, last, offset);
  }
  if (trigger === '"' || trigger === '.' || trigger === '/') return [];
  if (last && last.end === offset && last.kind !== 'ident') return []; // inside a number or after a comma
  const typing = last?.kind === 'ident' && last.end === offset ? last : undefined;
  const done = typing ? seg.slice(0, -1) : seg;
  const replace: Span = typing ?? { start: offset, end: offset };
  const range = doc.lines.range(replace);
  const ctx = { doc, range, snippets: options.snippets !== false };

  if (done.length === 0) return trigger === ' ' ? [] : keywordItems(ctx, container);
  const keyword = done[0];
  if (keyword.kind !== 'ident') return [];
  const args = done.slice(1).filter((t) => t.kind !== 'comma');
  return argumentItems(ctx, container, keyword.text, args);
}

/** What kind of block the cursor is in. */
function containerAt(doc: AnalyzedDocument, offset: number): Container {
  const blocks = openBlocks(doc.analysis.file, offset);
  const inner = blocks[blocks.length - 1];
  if (!inner) return { kind: 'top' };
  const name = inner.keyword.name;
  if (blocks.length === 1 && (name === 'match' || name === 'defaults')) return { kind: 'rule', stmt: inner };
  if (blocks.length === 1 && name === 'allocate') return { kind: 'allocate' };
  if (blocks.length === 1 && name === 'evaluate') return { kind: 'evaluate' };
  if (blocks.length === 2 && name === 'method') {
    const m = inner.args[0];
    return m?.kind === 'ident' && METHOD_BY_NAME.has(m.name) ? { kind: 'method', method: m.name } : { kind: 'other' };
  }
  return { kind: 'other' };
}

interface Ctx {
  doc: AnalyzedDocument;
  range: Range;
  snippets: boolean;
}

const sortKey = (group: number, index: number) => `${group}${String(index).padStart(5, '0')}`;

// ---- keywords --------------------------------------------------------------------------

const ONCE = new Set(['recipe', 'model', 'calibration', 'budget', 'threads', 'defaults', 'allocate', 'evaluate']);

function keywordItems(ctx: Ctx, container: Container): CompletionItem[] {
  switch (container.kind) {
    case 'top': {
      // Statements that may appear once and already do go last.
      const present = new Set(ctx.doc.analysis.file.statements.map((s) => s.keyword.name));
      return TOP_KEYWORDS.map((k, i) =>
        keywordItem(ctx, k, sortKey(ONCE.has(k.name) && present.has(k.name) ? 1 : 0, i)),
      );
    }
    case 'rule': {
      const rule = ruleOf(ctx.doc.analysis, container.stmt);
      const set = new Set(Object.values(rule?.settings ?? {}).map((s) => s!.stmt.keyword.name));
      return PROPERTY_KEYWORDS.map((k, i) =>
        keywordItem(ctx, k, sortKey(set.has(k.name) ? 1 : 0, i), CompletionItemKind.Property),
      );
    }
    case 'method': {
      const info = METHOD_BY_NAME.get(container.method)!;
      return info.options.map((o, i) =>
        keywordItem(
          ctx,
          {
            name: o.name,
            doc: o.doc,
            usage: o.type === 'boolean' ? `${o.name} \${1|true,false|}` : `${o.name} \${1}`,
          },
          sortKey(0, i),
          CompletionItemKind.Property,
          `option of ${info.name} (${o.type})`,
        ),
      );
    }
    case 'allocate':
      return ALLOCATE_KEYWORDS.map((k, i) => keywordItem(ctx, k, sortKey(0, i)));
    case 'evaluate':
      return EVALUATE_KEYWORDS.map((k, i) => keywordItem(ctx, k, sortKey(0, i)));
    default:
      return [];
  }
}

function keywordItem(
  ctx: Ctx,
  k: KeywordDoc,
  sortText: string,
  kind: CompletionItemKind = CompletionItemKind.Keyword,
  detail?: string,
): CompletionItem {
  const snippet = ctx.snippets && k.usage !== k.name;
  return {
    label: k.name,
    kind,
    detail,
    documentation: { kind: MarkupKind.Markdown, value: `${k.doc}\n\n\`\`\`quant\n${snippetToText(k.usage)}\n\`\`\`` },
    sortText,
    filterText: k.name,
    textEdit: { range: ctx.range, newText: snippet ? k.usage : k.name },
    insertTextFormat: snippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
  };
}

// ---- arguments -------------------------------------------------------------------------

function words(
  ctx: Ctx,
  list: readonly string[],
  kind: CompletionItemKind,
  docs?: Readonly<Record<string, string>>,
  detail?: (w: string) => string | undefined,
): CompletionItem[] {
  return list.map((w, i) => ({
    label: w,
    kind,
    detail: detail?.(w),
    documentation: docs?.[w],
    sortText: sortKey(0, i),
    textEdit: { range: ctx.range, newText: w },
  }));
}

function argumentItems(ctx: Ctx, container: Container, keyword: string, args: Token[]): CompletionItem[] {
  const n = args.length;
  const V = CompletionItemKind.EnumMember;
  switch (container.kind) {
    case 'top':
      if (keyword === 'calibration') {
        if (n === 0) return words(ctx, CALIBRATION_KINDS, V, KIND_DOCS.calibration);
        const kind = args[0].text;
        // After the kind (and the path, for file sources), options; none while one awaits its number.
        if (n >= 2 && args[n - 1].text === 'sequential') return words(ctx, ['true', 'false'], CompletionItemKind.Value);
        if (
          kind === 'imatrix' ||
          n < (kind === 'generated' ? 1 : 2) ||
          (CALIBRATION_OPTIONS as readonly string[]).includes(args[n - 1].text)
        )
          return [];
        const used = new Set(args.map((a) => a.text));
        const allowed = kind === 'generated' ? CALIBRATION_OPTIONS : CALIBRATION_OPTIONS.filter((o) => o !== 'seed');
        return words(
          ctx,
          allowed.filter((o) => !used.has(o)),
          CompletionItemKind.Property,
          CALIBRATION_OPTION_DOCS,
        );
      }
      if (keyword === 'output' && n === 0) return words(ctx, OUTPUT_KINDS, V, KIND_DOCS.output);
      if (keyword === 'export' && n === 0) return words(ctx, EXPORT_KINDS, V, KIND_DOCS.export);
      if (keyword === 'budget' && n === 1 && args[0].kind === 'number')
        return words(ctx, BUDGET_UNITS, CompletionItemKind.Unit);
      return [];
    case 'rule':
      if (n > 0) return [];
      if (keyword === 'format') return formatItems(ctx, ruleOf(ctx.doc.analysis, container.stmt));
      if (keyword === 'method') {
        return METHODS.map((m, i) => ({
          label: m.name,
          kind: CompletionItemKind.Function,
          sortText: sortKey(0, i),
          detail:
            m.needsCalibration === true
              ? 'needs calibration'
              : m.options.length
                ? `options: ${m.options.map((o) => o.name).join(', ')}`
                : undefined,
          documentation: m.doc,
          textEdit: { range: ctx.range, newText: m.name },
        }));
      }
      if (keyword === 'group') return groupItems(ctx, ruleOf(ctx.doc.analysis, container.stmt));
      if (PROPERTY_WORDS[keyword]) return words(ctx, PROPERTY_WORDS[keyword], V, VALUE_DOCS[keyword]);
      return [];
    case 'method': {
      const opt = METHOD_BY_NAME.get(container.method)!.options.find((o) => o.name === keyword);
      return opt?.type === 'boolean' && n === 0 ? words(ctx, ['true', 'false'], CompletionItemKind.Value) : [];
    }
    case 'allocate':
      if (keyword === 'formats') {
        const used = new Set(args.map((a) => a.text));
        return formatItems(ctx, undefined).filter((i) => !used.has(i.label));
      }
      if (keyword === 'metric' && n === 0) return words(ctx, ALLOCATE_METRICS, V, VALUE_DOCS.metric);
      if (keyword === 'granularity' && n === 0) return words(ctx, ALLOCATE_GRANULARITIES, V, VALUE_DOCS.granularity);
      return [];
    case 'evaluate':
      if (keyword === 'perplexity' && (n === 0 || args[n - 1].kind === 'number' || args[n - 1].kind === 'string')) {
        const used = new Set(args.map((a) => a.text));
        const items = words(
          ctx,
          ['samples', 'length'].filter((o) => !used.has(o)),
          CompletionItemKind.Property,
          PERPLEXITY_OPTION_DOCS,
        );
        if (n === 0) pushAll(items, words(ctx, ['text', 'tokens'], V, PERPLEXITY_OPTION_DOCS));
        return items;
      }
      return [];
    default:
      return [];
  }
}

/** The effective grouping a rule gives its tensors: its own settings, else `defaults`, else built-in. */
function ruleShape(ctx: Ctx, rule: Rule | undefined) {
  const { analysis } = ctx.doc;
  const defaults = analysis.recipe.rules.find((r) => r.kind === 'defaults');
  const pick = <K extends 'group' | 'symmetric' | 'scale' | 'zero'>(k: K): PropValues[K] =>
    (rule?.settings[k]?.value ?? defaults?.settings[k]?.value ?? BUILTIN_DEFAULTS[k]) as PropValues[K];
  const plan = analysis.plan;
  const first =
    rule && plan
      ? plan.rules[rule.index]?.matched.map((i) => plan.tensors[i]).find((t) => t.rows > 0 && t.cols > 0)
      : undefined;
  return {
    m: first?.rows ?? 4096,
    n: first?.cols ?? 4096,
    group: pick('group'),
    symmetric: pick('symmetric'),
    scale: pick('scale'),
    zero: pick('zero'),
    cols: rule && plan ? [...new Set(plan.rules[rule.index]?.matched.map((i) => plan.tensors[i].cols))] : [],
  };
}

function formatItems(ctx: Ctx, rule: Rule | undefined): CompletionItem[] {
  const s = ruleShape(ctx, rule);
  return FORMATS.map((f, i) => {
    const fixed = f.block?.weights ?? f.fixedGroup;
    const where = fixed ? '' : ` at group ${s.group}${f.family === 'int' && !s.symmetric ? ', asymmetric' : ''}`;
    // Block formats need the input dimension to be a multiple of the block.
    const misfit = fixed ? s.cols.filter((c) => c % fixed !== 0) : [];
    const warn = misfit.length ? ` — block of ${fixed} does not fit ${misfit.join(', ')} columns` : '';
    return {
      label: f.name,
      kind: CompletionItemKind.EnumMember,
      detail: `${fmt(formatBpw(f, s))} bpw${where}${warn}`,
      documentation: { kind: MarkupKind.Markdown, value: `${f.doc}\n\n${formatBitsSummary(f)}` },
      sortText: sortKey(misfit.length ? 1 : 0, i),
      textEdit: { range: ctx.range, newText: f.name },
    };
  });
}

/**
 * bpw of a format under the rule's grouping (mirrors resolve's fixed-grid rules), on a
 * nominal 4096 x 4096 tensor unless the grouping depends on the shape (channel, tensor).
 */
function formatBpw(f: FormatInfo, s: ReturnType<typeof ruleShape>): number {
  const groupKind = s.group === 'channel' ? 'channel' : s.group === 'tensor' ? 'tensor' : 'size';
  const fixed = f.fixedGroup ?? f.block?.weights;
  const [m, n] = groupKind === 'size' || fixed ? [4096, 4096] : [s.m, s.n];
  const c: QuantConfig = {
    format: f,
    group: fixed ?? (groupKind === 'channel' ? n : groupKind === 'tensor' ? m * n : (s.group as number)),
    groupKind: fixed ? 'size' : groupKind,
    symmetric: f.symmetricOnly || f.block ? true : s.symmetric,
    scale: f.fixedScale ?? s.scale,
    zero: s.zero,
    outliers: 0,
    lowrank: 0,
  };
  return (8 * tensorBytes(m, n, c).total) / (m * n);
}

function groupItems(ctx: Ctx, rule: Rule | undefined): CompletionItem[] {
  const s = ruleShape(ctx, rule);
  // Offer the sizes that divide every input dimension the rule touches.
  const sizes = [16, 32, 64, 128, 256].filter((g) => s.cols.every((c) => c % g === 0));
  const items = sizes.map((g, i) => ({
    label: String(g),
    kind: CompletionItemKind.Value,
    sortText: sortKey(0, i),
    detail: s.cols.length ? `divides ${s.cols.join(', ')}` : undefined,
    textEdit: { range: ctx.range, newText: String(g) },
  }));
  return [
    ...items,
    ...words(ctx, PROPERTY_WORDS.group, CompletionItemKind.EnumMember, VALUE_DOCS.group).map((i) => ({
      ...i,
      sortText: `1${i.sortText}`,
    })),
  ];
}

// ---- strings: tensor patterns and paths ---------------------------------------------------

function stringCompletion(
  doc: AnalyzedDocument,
  container: Container,
  seg: Token[],
  str: Token,
  offset: number,
): CompletionItem[] {
  if ((container.kind !== 'top' && container.kind !== 'evaluate') || seg[0]?.kind !== 'ident') return [];
  const keyword = seg[0].text;
  const contentStart = str.start + 1;
  const contentEnd = stringContentEnd(doc.text, offset);
  const typed = doc.text.slice(contentStart, offset);
  const args = seg.slice(1, -1).filter((t) => t.kind !== 'comma');
  if (container.kind === 'evaluate') {
    if (!doc.recipePath || keyword !== 'perplexity') return [];
    if (args.length === 0) return pathItems(doc, typed, contentStart, contentEnd, 'perplexity tokens');
    if (args.length === 1 && args[0].kind === 'ident' && (args[0].text === 'text' || args[0].text === 'tokens'))
      return pathItems(doc, typed, contentStart, contentEnd, `perplexity ${args[0].text}`);
    return [];
  }
  if (keyword === 'match') return patternItems(doc, { start: contentStart, end: contentEnd });
  if (!doc.recipePath) return [];
  if (keyword === 'model' && args.length === 0) return pathItems(doc, typed, contentStart, contentEnd, 'model');
  if (
    (keyword === 'calibration' || keyword === 'output' || keyword === 'export') &&
    args.length === 1 &&
    args[0].kind === 'ident'
  ) {
    return pathItems(doc, typed, contentStart, contentEnd, `${keyword} ${args[0].text}`);
  }
  return [];
}

/** Where the string the cursor is in ends: before its closing quote, or at the end of the line. */
function stringContentEnd(text: string, offset: number): number {
  let i = offset;
  while (i < text.length && text[i] !== '"' && lineBreakAt(text, i) === 0)
    i += text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\') ? 2 : 1;
  return Math.min(i, text.length);
}

function patternItems(doc: AnalyzedDocument, content: Span): CompletionItem[] {
  const model = doc.analysis.model;
  if (!model) return [];
  const range = doc.lines.range(content);
  return patternCandidates(model).map((c, i) => ({
    label: c.pattern,
    kind: c.category === 4 ? CompletionItemKind.Field : CompletionItemKind.Reference,
    detail: plural(c.count, 'tensor'),
    // Individual names document themselves; the list is long, so keep each item small.
    documentation:
      c.category === 4
        ? undefined
        : c.examples.join('\n') + (c.count > c.examples.length ? `\n… and ${c.count - c.examples.length} more` : ''),
    sortText: sortKey(c.category, i),
    textEdit: { range, newText: c.pattern },
  }));
}

/** Extensions worth offering after each path-taking statement (folders are always offered). */
const PATH_EXTENSIONS: Readonly<Record<string, readonly string[]>> = {
  model: ['.safetensors', '.gguf', '.bin'],
  'calibration imatrix': ['.imatrix', '.dat', '.gguf'],
  'calibration text': ['.txt', '.md', '.jsonl', '.json'],
  'calibration tokens': ['.json'],
  'perplexity text': ['.txt', '.raw', '.md', '.jsonl', '.json'],
  'perplexity tokens': ['.json'],
  'output fake': ['.safetensors'],
  'output gguf': ['.gguf'],
  'output compressed_tensors': [],
  'output imatrix': ['.gguf', '.dat', '.imatrix'],
  'export llm_compressor': ['.yaml', '.yml'],
  'export llama_quantize': ['.sh'],
};

function pathItems(
  doc: AnalyzedDocument,
  typed: string,
  contentStart: number,
  contentEnd: number,
  what: string,
): CompletionItem[] {
  const extensions = PATH_EXTENSIONS[what];
  if (!extensions) return [];
  const slash = typed.lastIndexOf('/');
  const dirPart = typed.slice(0, slash + 1);
  const partial = typed.slice(slash + 1);
  const dir = resolvePath(doc.recipePath, dirPart || '.');
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  // Replace the path segment being typed, up to the next '/' or the end of the string.
  const segStart = contentStart + slash + 1;
  const rest = doc.text.slice(segStart, contentEnd);
  const segEnd = rest.includes('/') ? segStart + rest.indexOf('/') : contentEnd;
  const range = doc.lines.range({ start: segStart, end: segEnd });
  const items: CompletionItem[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') && !partial.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && isDirectory(full));
    if (isDir) {
      const hf = what === 'model' && fs.existsSync(path.join(full, 'config.json'));
      items.push({
        label: `${e.name}/`,
        kind: CompletionItemKind.Folder,
        sortText: `${hf ? 0 : 1}${e.name}`,
        detail: hf ? 'Hugging Face model folder' : undefined,
        // A model folder is complete as it is; other folders are a step towards a file.
        textEdit: { range, newText: hf ? e.name : `${e.name}/` },
        command: hf ? undefined : { title: 'Suggest', command: 'editor.action.triggerSuggest' },
      });
    } else if (extensions.some((x) => e.name.endsWith(x))) {
      items.push({
        label: e.name,
        kind: CompletionItemKind.File,
        sortText: `2${e.name}`,
        textEdit: { range, newText: e.name },
      });
    }
  }
  return items;
}

function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/**
 * Packs items for the wire. When every item replaces the same range with its own label
 * (tensor patterns, formats, ...), and the client understands `itemDefaults.editRange`
 * (LSP 3.17), the range is sent once instead of once per item: a 1,000-tensor model's
 * pattern list is then a fraction of the size.
 */
export function toCompletionList(items: CompletionItem[], editRangeDefault: boolean): CompletionList {
  const first = items[0]?.textEdit;
  if (!editRangeDefault || !first || !('range' in first)) return { isIncomplete: false, items };
  const r = first.range;
  const shared = items.every((i) => {
    const e = i.textEdit;
    return (
      e &&
      'range' in e &&
      e.newText === i.label &&
      i.insertTextFormat !== InsertTextFormat.Snippet &&
      e.range.start.line === r.start.line &&
      e.range.start.character === r.start.character &&
      e.range.end.line === r.end.line &&
      e.range.end.character === r.end.character
    );
  });
  if (!shared) return { isIncomplete: false, items };
  return {
    isIncomplete: false,
    itemDefaults: { editRange: r },
    items: items.map(({ textEdit: _textEdit, ...rest }) => rest),
  };
}
