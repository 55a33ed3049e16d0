// The recipe's translations (`export llm_compressor "recipe.yaml"`, `export llama_quantize
// "cmd.sh"`), written from the resolved plan by `bitsmith run` and `bitsmith export`.
// Each file is written to a temporary name and renamed into place.
import * as fs from 'fs';
import * as path from 'path';
import { llamaQuantizeCommand, llmCompressorRecipe, type Translation } from '../../../core/src/index';
import type { LoadedRecipe } from '../load';

export type { ReportExport as WrittenExport } from '../../../core/src/runReport';
import type { ReportExport as WrittenExport } from '../../../core/src/runReport';

/** The translation of one export statement. */
export function translate(loaded: LoadedRecipe, kind: string, target: string): Translation {
  const { recipe, plan, model } = loaded.analysis;
  if (!plan || !model) throw new Error('no plan (the model could not be read)');
  const source = path.basename(loaded.path);
  if (kind === 'llm_compressor') return llmCompressorRecipe(recipe, plan, model, source);
  if (kind === 'llama_quantize') {
    const fake = recipe.outputs.find((o) => o.kind === 'gguf');
    const hint = fake ? fake.path.value : `${path.basename(target).replace(/\.[^.]*$/, '')}.gguf`;
    return llamaQuantizeCommand(recipe, plan, model, source, hint);
  }
  throw new Error(`export ${kind} is not implemented`);
}

export function writeExports(loaded: LoadedRecipe): WrittenExport[] {
  const out: WrittenExport[] = [];
  for (const e of loaded.analysis.recipe.exports) {
    const target = path.resolve(path.dirname(loaded.path), e.path.value);
    const t = translate(loaded, e.kind, target);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, t.text, { mode: e.kind === 'llama_quantize' ? 0o755 : 0o644 });
    fs.renameSync(tmp, target);
    out.push({ kind: e.kind, path: target, issues: t.issues });
  }
  return out;
}
