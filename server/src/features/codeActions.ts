// Quick fixes: every diagnostic core reports with a `fix` (did-you-mean, add a unit,
// quote a pattern, ...) becomes a preferred quick fix that replaces its range.
import { CodeActionKind, type CodeAction, type Diagnostic, type Range } from 'vscode-languageserver';
import type { AnalyzedDocument } from './document';
import { toLspDiagnostic } from './diagnostics';

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
    const same = context.find((c) => c.code === d.code && c.message === d.message && sameRange(c.range, lsp.range)) ?? lsp;
    out.push({
      title: d.fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [same],
      isPreferred: true,
      edit: { changes: { [doc.uri]: [{ range: lsp.range, newText: d.fix.newText }] } },
    });
  }
  return out;
}

function sameRange(a: Range, b: Range): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;
}
