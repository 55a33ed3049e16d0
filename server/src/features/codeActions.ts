// Quick fixes: every diagnostic core reports with a `fix` (did-you-mean, add a unit,
// quote a pattern, ...) becomes a preferred quick fix that replaces its range.
import { CodeActionKind, type CodeAction, type Diagnostic, type Range } from 'vscode-languageserver';
import type { AnalyzedDocument } from './document';
import { toLspDiagnostic } from './diagnostics';
import { allocationRules } from '../../../core/src/index';

/**
 * Quick fixes for the diagnostics of the current analysis that touch `range`. The client's
 * own copies of those diagnostics (`context`) are attached when they match, so the editor
 * links each fix to the squiggle it fixes.
 */
export function codeActions(doc: AnalyzedDocument, range: Range, context: Diagnostic[] = []): CodeAction[] {
  const start = doc.lines.offset(range.start);
  const end = doc.lines.offset(range.end);
  const out: CodeAction[] = [];
  for (const d of doc.analysis.diagnostics) {
    if (!d.fix || d.end < start || d.start > end) continue;
    const lsp = toLspDiagnostic(doc, d);
    const same =
      context.find((c) => c.code === d.code && c.message === d.message && sameRange(c.range, lsp.range)) ?? lsp;
    out.push({
      title: d.fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [same],
      isPreferred: true,
      edit: { changes: { [doc.uri]: [{ range: lsp.range, newText: d.fix.newText }] } },
    });
  }
  const alloc = allocationAction(doc, start, end);
  if (alloc) out.push(alloc);
  return out;
}

/**
 * With a measured allocation, on the `allocate` statement: replace it by explicit match
 * rules (one per chosen format, naming its tensors), so the mix is pinned in the recipe and
 * no longer depends on the measurement cache. The budget statement stays, as a check.
 */
function allocationAction(doc: AnalyzedDocument, start: number, end: number): CodeAction | undefined {
  const { recipe, allocation } = doc.analysis;
  const stmt = recipe.allocate?.stmt;
  const result = allocation?.result;
  if (!stmt || !result || end < stmt.start || start > stmt.end) return undefined;
  const range = { start: doc.lines.position(stmt.start), end: doc.lines.position(stmt.end) };
  return {
    title: 'Write the allocation as match rules (replaces allocate)',
    kind: CodeActionKind.RefactorRewrite,
    edit: { changes: { [doc.uri]: [{ range, newText: allocationRules(result) }] } },
  };
}

function sameRange(a: Range, b: Range): boolean {
  return (
    a.start.line === b.start.line &&
    a.start.character === b.start.character &&
    a.end.line === b.end.line &&
    a.end.character === b.end.character
  );
}
