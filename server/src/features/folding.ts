// Folding: multi-line blocks (the closing brace stays visible) and runs of comment lines.
import { FoldingRangeKind, type FoldingRange } from 'vscode-languageserver';
import type { Statement } from '../../../core/src/index';
import type { AnalyzedDocument } from './document';

export function foldingRanges(doc: AnalyzedDocument): FoldingRange[] {
  const out: FoldingRange[] = [];
  const { lines, text } = doc;
  const visit = (s: Statement) => {
    const b = s.block;
    if (!b) return;
    const start = lines.position(s.start).line;
    const end = b.close !== undefined ? lines.position(b.close).line - 1 : lines.position(b.end).line;
    if (end > start) out.push({ startLine: start, endLine: end });
    b.statements.forEach(visit);
  };
  doc.analysis.file.statements.forEach(visit);

  // Consecutive lines that hold only a comment.
  let runStart = -1;
  let runEnd = -1;
  const flush = () => {
    if (runStart >= 0 && runEnd > runStart)
      out.push({ startLine: runStart, endLine: runEnd, kind: FoldingRangeKind.Comment });
    runStart = runEnd = -1;
  };
  for (const c of doc.analysis.file.comments) {
    const line = lines.position(c.start).line;
    const lineStart = c.start - lines.position(c.start).character;
    const ownLine = text.slice(lineStart, c.start).trim() === '';
    if (!ownLine) {
      flush();
      continue;
    }
    if (line === runEnd + 1 && runStart >= 0) runEnd = line;
    else {
      flush();
      runStart = runEnd = line;
    }
  }
  flush();
  return out.sort((a, b) => a.startLine - b.startLine);
}
