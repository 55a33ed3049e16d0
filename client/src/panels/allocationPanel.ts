// Show Allocation: a recipe's `allocate` as a panel (viewType bitsmith.allocation): the
// size-error frontier with the chosen point, a layer x role heatmap of allocated bits, and
// the sensitivity table (every candidate's error per tensor). The data come from core's
// analysis and the measurement cache in the extension host (no weights are read); the
// Measure button runs `bitsmith allocate` as a child process (RunManager), and a frontier
// point's "Use this budget" rewrites the recipe's budget statement.
import * as path from 'path';
import * as vscode from 'vscode';
import { analyze, loadMeasurements, readRecipeFile, recipeAtBudget } from '../../../core/src/index';
import type { AllocationState, WebviewToHost } from '../../../webview/src/shared/messages';
import { latestReport } from '../config';
import type { RunManager } from '../run/runManager';
import { allocationView } from './allocationView';
import { onWebviewMessage, postToWebview, webviewHtml, webviewOptions } from './html';

export class AllocationPanel implements vscode.Disposable {
  static readonly viewType = 'bitsmith.allocation';
  private static readonly panels = new Map<string, AllocationPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  static async show(ext: vscode.ExtensionContext, recipe: vscode.Uri, runs: RunManager): Promise<AllocationPanel> {
    const existing = AllocationPanel.panels.get(recipe.fsPath);
    if (existing) {
      existing.panel.reveal();
      await existing.load();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      AllocationPanel.viewType,
      `Allocation: ${path.basename(recipe.fsPath)}`,
      vscode.ViewColumn.Beside,
      webviewOptions(ext),
    );
    return new AllocationPanel(ext, panel, recipe, runs);
  }

  static revive(
    ext: vscode.ExtensionContext,
    panel: vscode.WebviewPanel,
    recipe: vscode.Uri,
    runs: RunManager,
  ): AllocationPanel {
    AllocationPanel.panels.get(recipe.fsPath)?.dispose();
    return new AllocationPanel(ext, panel, recipe, runs);
  }

  private constructor(
    ext: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly recipe: vscode.Uri,
    private readonly runs: RunManager,
  ) {
    AllocationPanel.panels.set(recipe.fsPath, this);
    panel.webview.options = webviewOptions(ext);
    panel.webview.html = webviewHtml(panel.webview, ext, 'allocation', `Allocation: ${path.basename(recipe.fsPath)}`);
    this.disposables.push(
      onWebviewMessage(panel.webview, (m) => this.onMessage(m)),
      runs.onDidAllocate((uri) => {
        if (uri.fsPath === recipe.fsPath) void this.load();
      }),
      // The recipe edited (budget, candidates, pins): the allocation follows.
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d.uri.fsPath === recipe.fsPath) void this.load();
      }),
    );
    panel.onDidDispose(() => this.dispose());
  }

  private async onMessage(m: WebviewToHost): Promise<void> {
    if (m.type === 'ready' || m.type === 'reload') await this.load();
    else if (m.type === 'measure') await this.runs.run(this.recipe, 'allocate');
    else if (m.type === 'setBudget') await this.setBudget(m.bytes);
    else if (m.type === 'previewRecipe') await this.previewRecipe(m.bytes);
  }

  /** The recipe at a frontier point, allocate written out as match rules, in an untitled
   * editor beside (nothing is written to disk; the model path is made absolute so the
   * preview analyses as the recipe does). */
  private async previewRecipe(bytes: number): Promise<void> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === this.recipe.fsPath);
    const text = doc ? doc.getText() : readRecipeFile(this.recipe.fsPath);
    const analysis = analyze(text, { recipePath: this.recipe.fsPath });
    const a = analysis.allocation;
    const table = a?.file && a.context ? loadMeasurements(a.file, a.context) : undefined;
    if (!a || !table || !analysis.plan || !analysis.recipe.allocate) {
      await postToWebview(this.panel.webview, {
        type: 'notice',
        message: 'No measured allocation to preview: measure first.',
        level: 'warning',
      });
      return;
    }
    let preview = recipeAtBudget(
      text,
      analysis.recipe,
      analysis.plan,
      a.setup,
      table,
      analysis.recipe.allocate.metric,
      bytes,
    );
    const model = analysis.recipe.model;
    // A relative path is made absolute for the untitled preview; a Hugging Face id resolves anywhere.
    if (model && !path.isAbsolute(model.path) && analysis.modelPath && !analysis.modelRef?.hub) {
      preview = preview.replace(`"${model.path}"`, `"${analysis.modelPath}"`);
    }
    const header = `# ${path.basename(this.recipe.fsPath)} at ${bytes} bytes: the allocation written out as match rules (a preview; not saved)\n`;
    const untitled = await vscode.workspace.openTextDocument({ language: 'quant', content: header + preview });
    await vscode.window.showTextDocument(untitled, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  }

  async load(): Promise<void> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === this.recipe.fsPath);
    let text: string;
    try {
      text = doc ? doc.getText() : readRecipeFile(this.recipe.fsPath);
    } catch (e) {
      await postToWebview(this.panel.webview, {
        type: 'error',
        title: 'Cannot read the recipe',
        message: (e as Error).message,
        file: this.recipe.fsPath,
      });
      return;
    }
    const analysis = analyze(text, { recipePath: this.recipe.fsPath });
    const view = allocationView(
      this.recipe.fsPath,
      path.basename(this.recipe.fsPath),
      analysis,
      latestReport(this.recipe),
    );
    await postToWebview(this.panel.webview, { type: 'allocation', view });
  }

  /** Replaces (or adds) the recipe's budget with an exact byte count, then saves. */
  private async setBudget(bytes: number): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(this.recipe);
    const text = doc.getText();
    const analysis = analyze(text, { recipePath: this.recipe.fsPath });
    const stmt = analysis.recipe.budget?.stmt;
    const edit = new vscode.WorkspaceEdit();
    const line = `budget ${bytes} B`;
    if (stmt) edit.replace(this.recipe, new vscode.Range(doc.positionAt(stmt.start), doc.positionAt(stmt.end)), line);
    else {
      const alloc = analysis.recipe.allocate?.stmt;
      edit.insert(this.recipe, doc.positionAt(alloc ? alloc.start : text.length), `${line}\n`);
    }
    if (await vscode.workspace.applyEdit(edit)) {
      await doc.save();
      await this.load();
      await postToWebview(this.panel.webview, {
        type: 'notice',
        message: `Budget set to ${bytes} bytes in ${path.basename(this.recipe.fsPath)}.`,
        level: 'info',
      });
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (AllocationPanel.panels.get(this.recipe.fsPath) === this) AllocationPanel.panels.delete(this.recipe.fsPath);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

export class AllocationPanelSerializer implements vscode.WebviewPanelSerializer<AllocationState> {
  constructor(
    private readonly ext: vscode.ExtensionContext,
    private readonly runs: RunManager,
  ) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: AllocationState | undefined): Promise<void> {
    if (state?.kind === 'allocation' && state.recipe)
      AllocationPanel.revive(this.ext, panel, vscode.Uri.file(state.recipe), this.runs);
    else panel.dispose();
  }
}
