// The commands' side of output safety (core/src/analysis/outputSafety.ts): the rule once
// more on the file system as it is right before a write (it can change after `check`), and
// the stale temporary files of killed runs removed from the folders about to be written.
import * as path from 'path';
import {
  checkOutputSafety,
  modelGuardOf,
  nodeOutputFacts,
  removeStaleTemps,
  type CheckedDestination,
  type Destination,
  type Diagnostic,
} from '../../core/src/index';
import type { LoadedRecipe } from './load';
import { printDiagnostics } from './report';

/** Problems found by the write-time check (printed as file:line:col by the command). */
export class UnsafeOutputError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.message).join('; '));
    this.name = 'UnsafeOutputError';
  }
}

/** The recipe's destinations checked now; throws UnsafeOutputError when one is not safe to write. */
export function recheckOutputs(loaded: LoadedRecipe): CheckedDestination[] {
  const r = checkOutputSafety(loaded.analysis.recipe, {
    recipePath: loaded.path,
    facts: nodeOutputFacts,
    model: modelGuardOf(loaded.analysis),
  });
  if (r.diagnostics.length) throw new UnsafeOutputError(r.diagnostics);
  return r.destinations;
}

/** Prints the write-time problems; returns false when there were some. */
export function recheckOrReport(loaded: LoadedRecipe, doing: string): CheckedDestination[] | undefined {
  try {
    return recheckOutputs(loaded);
  } catch (e) {
    if (!(e instanceof UnsafeOutputError)) throw e;
    printDiagnostics(loaded, e.diagnostics);
    process.stderr.write(`bitsmith: not ${doing}: an output is not safe to write (above); nothing was written\n`);
    return undefined;
  }
}

/** The check of one statement's destination. */
export function checkedFor(checked: CheckedDestination[], d: Destination): CheckedDestination {
  const c = checked.find((x) => x.destination === d);
  if (!c) throw new Error(`internal error: ${d.stmt.keyword.name} ${d.kind} was not checked`);
  return c;
}

/** Removes the temporary files dead processes left in the folders this command writes to. */
export function cleanStaleTemps(loaded: LoadedRecipe, extraFolders: (string | undefined)[] = []): string[] {
  const folders = new Set<string>();
  const base = path.dirname(loaded.path);
  const { recipe } = loaded.analysis;
  for (const d of [...recipe.outputs, ...recipe.exports])
    if (d.path.value.trim()) folders.add(path.dirname(path.resolve(base, d.path.value)));
  for (const f of extraFolders) if (f) folders.add(f);
  const removed: string[] = [];
  for (const f of folders) for (const p of removeStaleTemps(f)) removed.push(p);
  return removed;
}
