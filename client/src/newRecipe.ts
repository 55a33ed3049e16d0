// Bitsmith: New Recipe from Model...: pick a model (the workspace's, found by a quick
// search, or any folder or file through the open dialog), pick a preset (and for "fit", a
// size), and get an unsaved recipe named beside the workspace's root that checks clean
// against that model. The recipe text comes from core (core/src/presets); this file only asks.
//
// The document is untitled with its future path (`untitled:/ws/model-w4a16.quant`): nothing
// is written until the user saves (Ctrl+S saves there without a dialog), and the language
// server resolves the model from that path, so diagnostics and the budget show at once.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { analyze } from '../../core/src/analyze';
import { formatBytes } from '../../core/src/analysis/checks';
import { describeModel, readModelHeader } from '../../core/src/models/load';
import type { ModelHeader } from '../../core/src/models/types';
import {
  PRESETS,
  bf16Bytes,
  defaultFitBudget,
  fitRange,
  formatNumber,
  parseSize,
  recipeFromPreset,
  recipePlacement,
  sizeBytes,
  uniqueRecipePath,
  type PresetId,
  type SizeSpec,
} from '../../core/src/presets/index';
import { findWorkspaceModels } from './modelSearch';

/** Arguments for scripted use (tests, other commands): any of them skips its question. */
export interface NewRecipeArgs {
  model?: vscode.Uri | string;
  preset?: PresetId;
  /** fit: "1.2 GB", "300 KiB", "4.5 bpw". */
  budget?: string;
}

const isUri = (x: unknown): x is vscode.Uri => x instanceof vscode.Uri;

function argsOf(arg: unknown): NewRecipeArgs {
  if (isUri(arg)) return { model: arg }; // explorer context menu
  if (arg && typeof arg === 'object') return arg as NewRecipeArgs;
  return {};
}

/** Runs the command; resolves to the new recipe's document, or undefined when cancelled. */
export async function newRecipeFromModel(arg?: unknown): Promise<vscode.TextDocument | undefined> {
  const args = argsOf(arg);
  const modelUri = typeof args.model === 'string' ? vscode.Uri.file(args.model) : (args.model ?? (await pickModel()));
  if (!modelUri) return undefined;
  let model: ModelHeader;
  try {
    model = readModelHeader(modelUri.fsPath);
  } catch (err) {
    void vscode.window.showErrorMessage(
      `Bitsmith: cannot read the model ${modelUri.fsPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return undefined;
  }
  const roots = (vscode.workspace.workspaceFolders ?? [])
    .filter((f) => f.uri.scheme === 'file')
    .map((f) => f.uri.fsPath);
  const { folder, modelRef } = recipePlacement(model.path, roots);
  const preset = args.preset ?? (await pickPreset(model, modelRef));
  if (!preset) return undefined;
  let budget: SizeSpec | undefined;
  if (preset === 'fit') {
    budget = args.budget !== undefined ? parseSize(args.budget) : await askBudget(model, modelRef);
    if (!budget) return undefined;
  }
  const { text, stem } = recipeFromPreset(model, { preset, modelRef, budget });
  const open = new Set(vscode.workspace.textDocuments.map((d) => d.uri.path));
  const file = uniqueRecipePath(folder, stem, (p) => fs.existsSync(p) || open.has(vscode.Uri.file(p).path));
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file).with({ scheme: 'untitled' }));
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  await editor.edit((b) => b.insert(new vscode.Position(0, 0), text));
  if (doc.languageId !== 'quant') await vscode.languages.setTextDocumentLanguage(doc, 'quant');
  editor.selection = new vscode.Selection(0, 0, 0, 0);
  return doc;
}

// ---- questions --------------------------------------------------------------------------

interface ModelItem extends vscode.QuickPickItem {
  uri?: vscode.Uri;
  browse?: boolean;
}

async function pickModel(): Promise<vscode.Uri | undefined> {
  const qp = vscode.window.createQuickPick<ModelItem>();
  qp.title = 'New Recipe from Model: which model?';
  qp.placeholder = 'Searching the workspace for models...';
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  // A step of a multi-step flow: a click elsewhere (or the walkthrough re-rendering when a
  // step completes) must not drop it; Escape cancels.
  qp.ignoreFocusOut = true;
  const browse: ModelItem = {
    label: '$(folder-opened) Open a model folder or file...',
    detail: 'A Hugging Face folder (config.json + safetensors), a .safetensors, a .gguf or a llama2.c .bin',
    browse: true,
    alwaysShow: true,
  };
  qp.items = [browse];
  qp.busy = true;
  const search = new vscode.CancellationTokenSource();
  void findWorkspaceModels(search.token).then((found) => {
    qp.busy = false;
    qp.placeholder = found.length
      ? `${found.length} model${found.length === 1 ? '' : 's'} in the workspace, or open one`
      : 'No model in the workspace: open a model folder or file';
    const items: ModelItem[] = found.map((m) => ({
      label: `${m.header.format === 'hf-folder' ? '$(folder)' : '$(file-binary)'} ${path.basename(m.uri.fsPath)}`,
      description: vscode.workspace.asRelativePath(m.uri, true),
      detail: describeModel(m.header).replace(/^[^:]*: /, ''),
      uri: m.uri,
    }));
    qp.items = [...items, { label: '', kind: vscode.QuickPickItemKind.Separator }, browse];
  });
  const picked = await new Promise<ModelItem | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  search.cancel();
  qp.dispose();
  if (!picked) return undefined;
  if (picked.uri) return picked.uri;
  const chosen = await vscode.window.showOpenDialog({
    title: 'New Recipe from Model: a Hugging Face folder, .safetensors, .gguf or llama2.c .bin',
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Use this model',
    filters: { Models: ['safetensors', 'gguf', 'bin'], 'All files': ['*'] },
  });
  return chosen?.[0];
}

interface PresetItem extends vscode.QuickPickItem {
  id: PresetId;
}

/** The presets, each with what it comes to on this model (bpw and size of the plan). */
async function pickPreset(model: ModelHeader, modelRef: string): Promise<PresetId | undefined> {
  const items: PresetItem[] = PRESETS.map((p) => {
    let figure = '';
    try {
      if (p.id === 'fit') {
        const { minBytes, maxBytes } = fitRange(model, modelRef);
        figure = `${formatBytes(minBytes)} to ${formatBytes(maxBytes)}`;
      } else {
        const a = analyze(recipeFromPreset(model, { preset: p.id, modelRef }).text, {
          loadModel: () => model,
          exists: () => true,
        });
        if (a.plan) figure = `${+a.plan.totals.bpw.toFixed(2)} bpw, ${formatBytes(a.plan.totals.bytesOut)}`;
      }
    } catch {
      // The figure is a courtesy: the recipe itself is checked once it opens.
    }
    return {
      id: p.id,
      label: p.label,
      description: [p.description, figure].filter(Boolean).join(' · '),
      detail: p.detail,
    };
  });
  const picked = await vscode.window.showQuickPick(items, {
    title: `New Recipe from Model: ${path.basename(model.path)} (${formatBytes(model.bytes)}) as...`,
    placeHolder: 'a preset',
    matchOnDescription: true,
    ignoreFocusOut: true,
  });
  return picked?.id;
}

async function askBudget(model: ModelHeader, modelRef: string): Promise<SizeSpec | undefined> {
  const { minBytes, maxBytes } = fitRange(model, modelRef);
  const def = defaultFitBudget(model, modelRef);
  const value = `${formatNumber(def.value)} ${def.unit}`;
  const answer = await vscode.window.showInputBox({
    title: `Fit ${path.basename(model.path)} in how much?`,
    prompt: `A size (GB, MB, GiB ...) or bits per weight. bf16: ${formatBytes(bf16Bytes(model))}; the candidates reach ${formatBytes(minBytes)} to ${formatBytes(maxBytes)}.`,
    value,
    valueSelection: [0, formatNumber(def.value).length],
    ignoreFocusOut: true,
    validateInput: (v) => {
      const s = parseSize(v, def.unit);
      if (!s) return 'A positive size with a unit: 1.2 GB, 450 MB, 300 KiB, or 4.5 bpw';
      const bytes = sizeBytes(s, model);
      if (bytes < minBytes)
        return `Below the smallest size the candidates reach (${formatBytes(minBytes)}, every tensor at its smallest format)`;
      if (bytes > maxBytes)
        return {
          message: `Above the largest size (${formatBytes(maxBytes)}): every tensor gets its largest format`,
          severity: vscode.InputBoxValidationSeverity.Warning,
        };
      return undefined;
    },
  });
  return answer === undefined ? undefined : parseSize(answer, def.unit);
}
