// Diagnostics printed as file:line:column (1-based), the format editors and CI parse.
import * as path from 'path';
import { LineIndex, RUN_REPORT_SCHEMA_PATH, runReportProblems, type Diagnostic } from '../../core/src/index';
import type { LoadedRecipe } from './load';

export function printDiagnostics(
  loaded: LoadedRecipe,
  diagnostics: Diagnostic[],
  stream: NodeJS.WritableStream = process.stderr,
) {
  const lines = new LineIndex(loaded.text);
  const shown = path.relative(process.cwd(), loaded.path) || loaded.path;
  for (const d of diagnostics) {
    const { line, character } = lines.position(d.start);
    stream.write(`${shown}:${line + 1}:${character + 1}: ${d.severity}: ${d.message} [${d.code}]\n`);
  }
}

/**
 * The report as JSON checked against its published schema with every object closed: a field
 * the types in core/src/runReport.ts do not declare, or a value of another type, is a
 * Bitsmith bug. With BITSMITH_STRICT_REPORTS=1 (the test suite sets it) the run fails;
 * otherwise a warning. Returns whether the run may go on.
 */
export function reportFollowsSchema(report: unknown): boolean {
  const problems = runReportProblems(JSON.parse(JSON.stringify(report)), { closed: true });
  if (!problems.length) return true;
  const strict = process.env.BITSMITH_STRICT_REPORTS === '1';
  process.stderr.write(
    `bitsmith: ${strict ? 'error' : 'warning'}: the report does not match ${RUN_REPORT_SCHEMA_PATH} (a Bitsmith bug, please report it): ${problems.join('; ')}\n`,
  );
  return !strict;
}
