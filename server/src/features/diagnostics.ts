// Core diagnostics (offsets) as LSP diagnostics (positions).
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver';
import type { Diagnostic as CoreDiagnostic, Severity } from '../../../core/src/index';
import type { AnalyzedDocument } from './document';

export const SOURCE = 'bitsmith';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** Carried in Diagnostic.data so a code action can rebuild the fix without re-analysing. */
export interface DiagnosticData {
  fix?: { title: string; newText: string };
}

export function toLspDiagnostic(doc: AnalyzedDocument, d: CoreDiagnostic): Diagnostic {
  const out: Diagnostic = {
    range: doc.lines.range(d),
    severity: SEVERITY[d.severity],
    code: d.code,
    source: SOURCE,
    message: d.message,
  };
  if (d.unnecessary) out.tags = [DiagnosticTag.Unnecessary];
  if (d.related?.length) {
    out.relatedInformation = d.related.map((r) => ({
      location: { uri: doc.uri, range: doc.lines.range(r.span) },
      message: r.message,
    }));
  }
  if (d.fix) out.data = { fix: d.fix } satisfies DiagnosticData;
  return out;
}

export function diagnostics(doc: AnalyzedDocument): Diagnostic[] {
  return doc.analysis.diagnostics.map((d) => toLspDiagnostic(doc, d));
}
