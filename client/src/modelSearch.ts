// The models in the workspace, found by a quick search: Hugging Face folders (config.json
// beside model.safetensors or its shard index), and .safetensors, .gguf and llama2.c .bin
// files that are not part of such a folder. Each is read with core's header reader (a few
// KiB per file): files that are not models (a pytorch_model.bin, a truncated download) are
// left out rather than offered and refused.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { readModelHeader } from '../../core/src/models/load';
import type { ModelHeader } from '../../core/src/models/types';

const EXCLUDE = '**/{node_modules,.git,.bitsmith,.venv,__pycache__}/**';
/** Files looked at, at most: the search must stay quick in a large workspace. */
const MAX_FILES = 400;
const MAX_MODELS = 60;

export interface FoundModel {
  uri: vscode.Uri;
  header: ModelHeader;
}

export async function findWorkspaceModels(token?: vscode.CancellationToken): Promise<FoundModel[]> {
  const [configs, files] = await Promise.all([
    vscode.workspace.findFiles('**/config.json', EXCLUDE, MAX_FILES, token),
    vscode.workspace.findFiles('**/*.{safetensors,gguf,bin}', EXCLUDE, MAX_FILES, token),
  ]);
  const folders = new Set<string>();
  for (const c of configs) {
    if (c.scheme !== 'file') continue;
    const dir = path.dirname(c.fsPath);
    if (['model.safetensors', 'model.safetensors.index.json'].some((f) => fs.existsSync(path.join(dir, f))))
      folders.add(dir);
  }
  const candidates = [...folders];
  for (const f of files) {
    if (f.scheme !== 'file') continue;
    // A folder's weights are offered as the folder (it has the config the forward pass reads).
    if (f.fsPath.endsWith('.safetensors') && folders.has(path.dirname(f.fsPath))) continue;
    candidates.push(f.fsPath);
  }
  candidates.sort((a, b) => a.localeCompare(b));
  const found: FoundModel[] = [];
  for (const p of candidates) {
    if (token?.isCancellationRequested || found.length >= MAX_MODELS) break;
    try {
      found.push({ uri: vscode.Uri.file(p), header: readModelHeader(p) });
    } catch {
      // Not a model Bitsmith reads: not offered.
    }
  }
  return found;
}
