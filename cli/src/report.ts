// Diagnostics printed as file:line:column (1-based), the format editors and CI parse.
import * as path from 'path';
import { LineIndex, type Diagnostic } from '../../core/src/index';
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
