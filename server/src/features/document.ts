// What every feature function receives: one version of a recipe with its analysis.
import type { Analysis } from '../../../core/src/index';
import { LineIndex } from '../../../core/src/index';

export interface AnalyzedDocument {
  uri: string;
  version: number;
  text: string;
  lines: LineIndex;
  analysis: Analysis;
  /** Absolute path of the recipe file (undefined for an unsaved, untitled document). */
  recipePath?: string;
}

export function makeDocument(
  uri: string,
  version: number,
  text: string,
  analysis: Analysis,
  recipePath?: string,
): AnalyzedDocument {
  return { uri, version, text, lines: new LineIndex(text), analysis, recipePath };
}
