// bitsmith check: diagnostics as file:line:col (1-based) for people, LSP ranges for tools.
import * as path from 'path';
import { estimateRunMemory, formatMemoryEstimate, LineIndex } from '../../../core/src/index';
import { loadRecipe } from '../load';
import { printDiagnostics } from '../report';
import { availableMemory, effectiveThreads } from '../run/memory';

export function checkCommand(file: string, opts: { json?: boolean; model?: string }): number {
  const loaded = loadRecipe(file, { model: opts.model });
  if (!loaded) return 2;
  const { analysis, text } = loaded;
  const lines = new LineIndex(text);
  const diagnostics = analysis.diagnostics.map((d) => ({
    range: lines.range(d),
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.fix ? { fix: d.fix } : {}),
  }));
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const memory = estimateRunMemory(analysis, effectiveThreads(analysis.recipe.threads ?? 0), {
    recipePath: loaded.path,
  });
  if (opts.json) {
    process.stdout.write(
      JSON.stringify({ file: loaded.path, errors, diagnostics, ...(memory ? { memory } : {}) }, null, 2) + '\n',
    );
  } else {
    const shown = path.relative(process.cwd(), loaded.path) || loaded.path;
    printDiagnostics(loaded, analysis.diagnostics, process.stdout);
    const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
    if (memory) {
      const avail = availableMemory();
      process.stdout.write(
        `${shown}: ${formatMemoryEstimate(memory)}; ${(avail / 2 ** 30).toFixed(2)} GiB available now\n`,
      );
      for (const a of memory.assumed) process.stdout.write(`  assumed: ${a}\n`);
    }
    process.stdout.write(
      errors || warnings ? `${errors} error(s), ${warnings} warning(s)\n` : `${shown}: no problems\n`,
    );
  }
  return errors ? 1 : 0;
}
