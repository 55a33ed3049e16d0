// bitsmith export: writes the recipe's translations (`export llm_compressor "..."`,
// `export llama_quantize "..."`) from the resolved plan, without running the recipe (the
// weights are not read). `bitsmith run` writes them too, after a successful run.
// Exit 1 on recipe errors or when the recipe has no export statement.
import { loadRecipe } from '../load';
import { printDiagnostics } from '../report';
import { exportLine, writeExports } from '../run/exports';
import { cleanStaleTemps, UnsafeOutputError } from '../outputs';

export function exportCommand(file: string, opts: { json?: boolean; model?: string }): number {
  const loaded = loadRecipe(file, { model: opts.model });
  if (!loaded) return 2;
  const errors = loaded.analysis.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    printDiagnostics(loaded, errors);
    process.stderr.write(
      `bitsmith: not exporting: the recipe has ${errors.length} error${errors.length === 1 ? '' : 's'}\n`,
    );
    return 1;
  }
  if (!loaded.analysis.plan) {
    process.stderr.write('bitsmith: not exporting: no plan (the model could not be read)\n');
    return 1;
  }
  if (loaded.analysis.recipe.exports.length === 0) {
    process.stderr.write(
      'bitsmith: the recipe has no export statement (export llm_compressor "recipe.yaml" or export llama_quantize "cmd.sh")\n',
    );
    return 1;
  }
  let written;
  try {
    cleanStaleTemps(loaded);
    written = writeExports(loaded);
  } catch (e) {
    if (e instanceof UnsafeOutputError) {
      printDiagnostics(loaded, e.diagnostics);
      process.stderr.write('bitsmith: not exporting: an output is not safe to write (above); nothing was written\n');
    } else process.stderr.write(`bitsmith: ${(e as Error).message}\n`);
    return 1;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({ exports: written }, null, 2) + '\n');
  } else {
    const warnings = loaded.analysis.diagnostics.filter(
      (d) => d.code === 'export/untranslatable' || d.code === 'export/inexact',
    );
    if (warnings.length) printDiagnostics(loaded, warnings);
    for (const x of written) process.stdout.write(exportLine(x) + '\n');
  }
  return 0;
}
