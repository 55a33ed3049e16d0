// `output gguf`: what the file cannot carry, on the output line before any run. The same
// findings (core/src/export/gguf.ts ggufFindings) go into the run's report, so the editor,
// `bitsmith check` and the report say the same thing.
import type { Recipe } from '../analysis/recipe';
import type { ModelHeader } from '../models/types';
import { diag, type Diagnostic } from '../analysis/diagnostic';
import { ggufFindings, ggufModelProblem, ggufTokenizerOf, type GgufTokenizerLoader } from './gguf';
import type { GgufTokenizerResult } from './ggufTokenizer';

export function checkGgufOutput(
  recipe: Recipe,
  model: ModelHeader,
  load?: GgufTokenizerLoader,
): { diagnostics: Diagnostic[]; tokenizer?: GgufTokenizerResult } {
  const o = recipe.outputs.find((x) => x.kind === 'gguf');
  if (!o || ggufModelProblem(model)) return { diagnostics: [] };
  const tokenizer = ggufTokenizerOf(model, load);
  const f = ggufFindings(model, tokenizer);
  const diagnostics: Diagnostic[] = [];
  for (const w of f.warnings) diagnostics.push(diag('output/gguf-metadata', 'warning', o.stmt, `output gguf: ${w}`));
  for (const n of f.notes) diagnostics.push(diag('output/gguf-metadata', 'info', o.stmt, `output gguf: ${n}`));
  return { diagnostics, tokenizer };
}
