// Where a new recipe for a model goes, and how it names the model: at the root of the
// workspace folder holding the model, naming it by a relative path (the two move together);
// for a model outside every workspace folder, at the first folder's root with the model's
// absolute path; with no workspace, beside the model. The name never takes one in use.

import * as path from 'path';

export interface Placement {
  /** The folder the recipe goes in. */
  folder: string;
  /** The model as the recipe's `model` line names it: relative to `folder` ('/' separated), or absolute. */
  modelRef: string;
}

const inside = (root: string, p: string) => {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

export function recipePlacement(modelPath: string, workspaceRoots: readonly string[]): Placement {
  const model = path.resolve(modelPath);
  const root = workspaceRoots.map((r) => path.resolve(r)).find((r) => inside(r, model));
  if (root) return { folder: root, modelRef: toRef(path.relative(root, model)) };
  if (workspaceRoots.length) return { folder: path.resolve(workspaceRoots[0]), modelRef: toRef(model) };
  const folder = path.dirname(model);
  return { folder, modelRef: toRef(path.relative(folder, model)) };
}

/** Recipe paths use '/', on every platform. */
const toRef = (p: string) => (p === '' ? '.' : p.split(path.sep).join('/'));

/** `<folder>/<stem>.quant`, else `<stem>-2.quant`, `-3` ... : the first one not `taken`. */
export function uniqueRecipePath(folder: string, stem: string, taken: (p: string) => boolean): string {
  for (let i = 1; i < 10000; i++) {
    const p = path.join(folder, `${stem}${i === 1 ? '' : `-${i}`}.quant`);
    if (!taken(p)) return p;
  }
  return path.join(folder, `${stem}-${Date.now()}.quant`);
}
