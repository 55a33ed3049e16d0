// Reading a recipe from disk for the commands: one analysis, errors named by file.
import * as fs from 'fs';
import * as path from 'path';
import { analyze, type Analysis } from '../../core/src/index';

export interface LoadedRecipe {
  path: string;
  text: string;
  analysis: Analysis;
}

/** Returns undefined (after printing why) when the file cannot be read: a usage error. */
export function loadRecipe(file: string): LoadedRecipe | undefined {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    process.stderr.write(
      `bitsmith: cannot read ${abs}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}\n`,
    );
    return undefined;
  }
  return { path: abs, text, analysis: analyze(text, { recipePath: abs }) };
}
