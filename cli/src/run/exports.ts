// The recipe's translations (`export llm_compressor "recipe.yaml"`, `export llama_quantize
// "cmd.sh"`), written from the resolved plan by `bitsmith run` and `bitsmith export`.
// Each is checked again right before it is written (cli/src/outputs.ts: only a file
// Bitsmith wrote is replaced) and written whole or not at all (core/src/io/atomicWrite.ts).
import * as fs from 'fs';
import * as path from 'path';
import {
  describeModelRef,
  llamaQuantizeCommand,
  llmCompressorRecipe,
  writeFileAtomic,
  type ModelName,
  type Translation,
} from '../../../core/src/index';
import type { LoadedRecipe } from '../load';
import { checkedFor, recheckOutputs } from '../outputs';

export type { ReportExport as WrittenExport } from '../../../core/src/runReport';
import type { ReportExport as WrittenExport } from '../../../core/src/runReport';

/** The translation of one export statement. */
export function translate(loaded: LoadedRecipe, kind: string, target: string): Translation {
  const { recipe, plan, model, modelRef } = loaded.analysis;
  if (!plan || !model) throw new Error('no plan (the model could not be read)');
  const source = path.basename(loaded.path);
  const hub = modelRef?.hub;
  const name: ModelName = hub
    ? { label: describeModelRef(modelRef), hub: { id: hub.id, commit: hub.commit } }
    : { label: model.path };
  if (kind === 'llm_compressor') return llmCompressorRecipe(recipe, plan, model, source, name);
  if (kind === 'llama_quantize') {
    const fake = recipe.outputs.find((o) => o.kind === 'gguf');
    const hint = fake ? fake.path.value : `${path.basename(target).replace(/\.[^.]*$/, '')}.gguf`;
    return llamaQuantizeCommand(recipe, plan, model, source, hint, name);
  }
  throw new Error(`export ${kind} is not implemented`);
}

/** Writes every export; throws UnsafeOutputError (before writing any) when one is no longer safe to write. */
export function writeExports(loaded: LoadedRecipe): WrittenExport[] {
  const exports = loaded.analysis.recipe.exports;
  if (exports.length === 0) return [];
  const checked = recheckOutputs(loaded);
  const out: WrittenExport[] = [];
  for (const e of exports) {
    const c = checkedFor(checked, e);
    const t = translate(loaded, e.kind, c.path);
    fs.mkdirSync(path.dirname(c.path), { recursive: true });
    writeFileAtomic(c.path, t.text, { mode: e.kind === 'llama_quantize' ? 0o755 : 0o644, replaces: c.replaces });
    out.push({ kind: e.kind, path: c.path, issues: t.issues });
  }
  return out;
}

/** One line per written translation: `export llm_compressor: out/r.yaml (2 not translated, 1 translated inexactly: see the comments)`. */
export function exportLine(x: WrittenExport): string {
  const inexact = x.issues.filter((i) => i.kind === 'inexact').length;
  const left = x.issues.length - inexact;
  const parts = [left ? `${left} not translated` : '', inexact ? `${inexact} translated inexactly` : ''].filter(
    Boolean,
  );
  return `export ${x.kind}: ${path.relative(process.cwd(), x.path) || x.path}${parts.length ? ` (${parts.join(', ')}: see the comments)` : ''}`;
}
