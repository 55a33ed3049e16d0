// Reading a recipe from disk for the commands: one analysis, errors named by file.
import * as path from 'path';
import { analyze, readRecipeFile, type Analysis, type ModelReadError } from '../../core/src/index';

export interface LoadedRecipe {
  path: string;
  text: string;
  analysis: Analysis;
}

export interface LoadOptions {
  /** --model: a path (relative to the current folder) or a Hugging Face id read instead of the recipe's model. */
  model?: string;
}

/** Returns undefined (after printing why) when the file cannot be read: a usage error. */
export function loadRecipe(file: string, options: LoadOptions = {}): LoadedRecipe | undefined {
  const abs = path.resolve(file);
  let text: string;
  try {
    // A regular file of sane size only: a FIFO would block, /dev/zero would never end.
    text = readRecipeFile(abs);
  } catch (e) {
    const err = e as ModelReadError;
    const why =
      err.code === 'model/not-found'
        ? 'no such file'
        : err.message.startsWith(`${abs}: `)
          ? err.message.slice(abs.length + 2)
          : err.message;
    process.stderr.write(`bitsmith: cannot read ${abs}: ${why}\n`);
    return undefined;
  }
  return {
    path: abs,
    text,
    analysis: analyze(text, { recipePath: abs, modelOverride: options.model, modelBase: process.cwd() }),
  };
}
