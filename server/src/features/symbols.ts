// The outline: recipe statements; rules named by their patterns, with their properties
// as children; method options under their method.
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import { fmt, type Statement, type Value } from '../../../core/src/index';
import type { AnalyzedDocument } from './document';
import { ruleOf } from './locate';
import { plural } from './vocab';

const KINDS: Readonly<Record<string, SymbolKind>> = {
  recipe: SymbolKind.String,
  model: SymbolKind.Module,
  calibration: SymbolKind.Event,
  budget: SymbolKind.Number,
  threads: SymbolKind.Number,
  defaults: SymbolKind.Class,
  match: SymbolKind.Class,
  allocate: SymbolKind.Object,
  evaluate: SymbolKind.Object,
  output: SymbolKind.File,
  export: SymbolKind.File,
};

export function documentSymbols(doc: AnalyzedDocument): DocumentSymbol[] {
  return doc.analysis.file.statements.map((s) => symbol(doc, s, 0));
}

function valueText(doc: AnalyzedDocument, v: Value): string {
  return doc.text.slice(v.start, v.end);
}

function argsText(doc: AnalyzedDocument, s: Statement): string {
  return s.args.map((a) => valueText(doc, a)).join(' ');
}

function symbol(doc: AnalyzedDocument, s: Statement, depth: number): DocumentSymbol {
  const kw = s.keyword.name;
  let name = kw;
  let detail: string | undefined = argsText(doc, s) || undefined;
  if (depth === 0 && kw === 'match') {
    // The patterns are what a reader looks for in the outline.
    const patterns = s.args.filter((a) => a.kind === 'string').map((a) => (a.kind === 'string' ? a.value : ''));
    name = patterns.length ? patterns.join(', ') : 'match';
    detail = ruleDetail(doc, s, 'match');
  } else if (depth === 0 && kw === 'defaults') {
    detail = ruleDetail(doc, s, undefined);
  } else if (depth === 0 && s.args.length) {
    name = `${kw} ${argsText(doc, s)}`;
    detail = undefined;
  }
  const range = doc.lines.range(s);
  // A selection range must lie inside the range, and names must not be empty.
  const selection =
    depth === 0 && kw === 'match' && s.args[0]
      ? { start: s.args[0].start, end: s.args[s.args.length - 1].end }
      : s.keyword;
  return {
    name: name || kw || '?',
    detail,
    kind:
      depth === 0
        ? (KINDS[kw] ?? SymbolKind.Key)
        : depth === 1 && kw === 'method'
          ? SymbolKind.Function
          : SymbolKind.Property,
    range,
    selectionRange: doc.lines.range(selection),
    children: s.block?.statements.map((c) => symbol(doc, c, depth + 1)),
  };
}

/** "match · 5 tensors · 4.5 bpw" for a rule, from the plan. */
function ruleDetail(doc: AnalyzedDocument, s: Statement, prefix: string | undefined): string | undefined {
  const parts = prefix ? [prefix] : [];
  const rule = ruleOf(doc.analysis, s);
  const plan = doc.analysis.plan;
  const summary = rule && plan?.rules[rule.index];
  if (plan && summary) {
    parts.push(plural(summary.matched.length, 'tensor'));
    // bpw over the tensors it matches, as its hover shows.
    let params = 0;
    let bytes = 0;
    for (const ti of summary.matched) {
      params += plan.tensors[ti].tensor.elements;
      bytes += plan.tensors[ti].bytesOut;
    }
    if (params) parts.push(`${fmt((8 * bytes) / params)} bpw`);
  }
  return parts.join(' · ') || undefined;
}
