// The extension's commands, keyed by the suffix of their id (`bitsmith.<name>`); each entry is
// a factory that receives the Context, as in rust-analyzer's client.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { BudgetRequest } from '../../server/src/protocol';
import { latestReport } from './config';
import type { Context } from './context';
import { AllocationPanel, ComparePanel, ModelPanel, ReportPanel } from './panels';
import { newRecipeFromModel } from './newRecipe';
import { listReports, reportPickItems } from './reports';
import { openWalkthrough } from './walkthrough';

export type Cmd = (...args: unknown[]) => unknown;
export type CmdFactory = (ctx: Context) => Cmd;

const isUri = (x: unknown): x is vscode.Uri => x instanceof vscode.Uri;

/** The recipe a command acts on: its argument (code lens, explorer, editor title), else the
 * active .quant editor, else one picked from the workspace. */
async function targetRecipe(arg: unknown, pickTitle: string): Promise<vscode.Uri | undefined> {
  if (isUri(arg) && arg.fsPath.endsWith('.quant')) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc?.languageId === 'quant' && doc.uri.scheme === 'file') return doc.uri;
  // A new recipe (New Recipe from Model...) is untitled with its future path: save it there.
  if (doc?.languageId === 'quant' && doc.uri.scheme === 'untitled' && path.isAbsolute(doc.uri.fsPath))
    return vscode.workspace.save(doc.uri);
  const files = await vscode.workspace.findFiles('**/*.quant', '**/{node_modules,.git}/**', 1000);
  if (!files.length) {
    void vscode.window.showInformationMessage('Bitsmith: no .quant recipe is open or in the workspace.');
    return undefined;
  }
  if (files.length === 1) return files[0];
  const pick = await vscode.window.showQuickPick(
    files.map((f) => ({ label: vscode.workspace.asRelativePath(f), uri: f })),
    { title: pickTitle, placeHolder: 'a .quant recipe' },
  );
  return pick?.uri;
}

export function runRecipe(ctx: Context): Cmd {
  return async (arg?: unknown) => {
    if (!vscode.workspace.isTrusted) {
      const a = await vscode.window.showWarningMessage(
        'Bitsmith: running a recipe executes the native quantizer on files of this workspace, so runs are disabled in Restricted Mode. Diagnostics, hovers and budgets still work. Trust the workspace to run recipes.',
        'Manage Workspace Trust',
      );
      if (a) await vscode.commands.executeCommand('workbench.trust.manage');
      return;
    }
    const recipe = await targetRecipe(arg, 'Run which recipe?');
    if (!recipe) return;
    // The runner reads the recipe from disk: run what the editor shows.
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === recipe.toString());
    if (doc?.isDirty && !(await doc.save())) {
      void vscode.window.showErrorMessage(`Bitsmith: cannot save ${path.basename(recipe.fsPath)}; not running.`);
      return;
    }
    if (!(await checkRunnable(ctx, recipe))) return;
    return ctx.runs.run(recipe);
  };
}

/** A recipe with errors is refused here, before a process starts, pointing at Problems
 * (the CLI would refuse it too, but only after spawning and with less context). The
 * server's answer counts errors of the current text; its published diagnostics can lag a
 * keystroke behind, so they are only the fallback when there is no plan. */
async function checkRunnable(ctx: Context, recipe: vscode.Uri): Promise<boolean> {
  let errors: number | undefined;
  try {
    const b = await ctx.client?.sendRequest(BudgetRequest, { uri: recipe.toString() });
    if (b) errors = b.errors;
  } catch {
    // No server (stopped, restarting): the CLI's own check still applies.
  }
  const published = vscode.languages
    .getDiagnostics(recipe)
    .filter((d) => d.severity === vscode.DiagnosticSeverity.Error && d.source === 'bitsmith');
  if (errors === undefined) errors = published.length;
  if (errors === 0) return true;
  const first = published[0];
  const where = first ? ` (line ${first.range.start.line + 1}: ${first.message})` : '';
  const a = await vscode.window.showErrorMessage(
    `Bitsmith: not running ${path.basename(recipe.fsPath)}: it has ${errors} error${errors === 1 ? '' : 's'}${where}.`,
    'Show Problems',
  );
  if (a) await vscode.commands.executeCommand('workbench.actions.view.problems');
  return false;
}

export function cancelRun(ctx: Context): Cmd {
  return async (arg?: unknown) => {
    if (isUri(arg)) return ctx.runs.cancel(arg);
    const running = ctx.runs.running;
    if (!running.length) {
      void vscode.window.showInformationMessage('Bitsmith: no run in progress.');
      return false;
    }
    if (running.length === 1) return ctx.runs.cancel(running[0]);
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'All runs', uri: undefined as vscode.Uri | undefined },
        ...running.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u as vscode.Uri | undefined })),
      ],
      { title: 'Cancel which run?' },
    );
    if (!pick) return false;
    return ctx.runs.cancel(pick.uri);
  };
}

export function openLastReport(ctx: Context): Cmd {
  return async (arg?: unknown) => {
    const doc = vscode.window.activeTextEditor?.document;
    const recipe = isUri(arg) ? arg : doc?.languageId === 'quant' ? doc.uri : undefined;
    if (recipe && fs.existsSync(latestReport(recipe))) return ReportPanel.show(ctx.extCtx, latestReport(recipe));
    const reports = await listReports();
    if (!reports.length) {
      void vscode.window.showInformationMessage(
        `Bitsmith: no run reports yet${recipe ? ` for ${path.basename(recipe.fsPath)}` : ''}. Run a recipe first (Bitsmith: Run Recipe).`,
      );
      return;
    }
    const pick = await vscode.window.showQuickPick(reportPickItems(reports), { title: 'Open which report?' });
    if (pick) return ReportPanel.show(ctx.extCtx, pick.file);
  };
}

export function compareRuns(ctx: Context): Cmd {
  return async (arg?: unknown, selected?: unknown) => {
    // From the explorer with two or more report files selected.
    const uris = Array.isArray(selected) ? selected.filter(isUri).filter((u) => u.fsPath.endsWith('.json')) : [];
    if (uris.length >= 2)
      return ComparePanel.show(
        ctx.extCtx,
        uris.map((u) => u.fsPath),
      );
    const reports = await listReports();
    if (reports.length < 2) {
      void vscode.window.showInformationMessage(
        'Bitsmith: Compare Runs needs two run reports; run a recipe twice (or two recipes) first.',
      );
      return;
    }
    const picks = await vscode.window.showQuickPick(reportPickItems(reports), {
      title: 'Compare which runs? (select two or more)',
      canPickMany: true,
    });
    if (!picks) return;
    if (picks.length < 2) {
      void vscode.window.showWarningMessage(
        `Bitsmith: select two or more reports to compare (${picks.length} selected).`,
      );
      return;
    }
    // Oldest run first: deltas read as "what changed since".
    const chosen = picks.map((p) => reports.find((r) => r.file === p.file)!).sort((x, y) => x.mtime - y.mtime);
    return ComparePanel.show(
      ctx.extCtx,
      chosen.map((r) => r.file),
    );
  };
}

export function inspectModel(ctx: Context): Cmd {
  return async (arg?: unknown) => {
    let uri = isUri(arg) ? arg : undefined;
    if (!uri) {
      const picked = await vscode.window.showOpenDialog({
        title: 'Inspect which model?',
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: false,
        filters: { Models: ['safetensors', 'gguf', 'bin'], 'All files': ['*'] },
      });
      uri = picked?.[0];
    }
    if (uri) return ModelPanel.show(ctx.extCtx, uri);
  };
}

export function restartServer(ctx: Context): Cmd {
  return async () => {
    try {
      await ctx.restart();
      void vscode.window.setStatusBarMessage('Bitsmith language server restarted', 3000);
    } catch (err) {
      void vscode.window.showErrorMessage(`Bitsmith: failed to restart the language server: ${String(err)}`);
    }
  };
}

/** The allocation of a recipe with `allocate`: frontier, heatmap, sensitivity table. */
export function showAllocation(ctx: Context): Cmd {
  return async (arg?: unknown) => {
    const recipe = await targetRecipe(arg, 'Show the allocation of which recipe?');
    if (!recipe) return;
    return AllocationPanel.show(ctx.extCtx, recipe, ctx.runs);
  };
}

/** New Recipe from Model...: a model and a preset in, an unsaved recipe out (client/src/newRecipe.ts). */
export function newRecipe(_ctx: Context): Cmd {
  return (arg?: unknown) => newRecipeFromModel(arg);
}

/** Get Started: the walkthrough (client/src/walkthrough.ts). */
export function getStarted(_ctx: Context): Cmd {
  return () => openWalkthrough();
}

export const commands: Record<string, CmdFactory> = {
  newRecipe,
  getStarted,
  runRecipe,
  cancelRun,
  openLastReport,
  compareRuns,
  inspectModel,
  showAllocation,
  restartServer,
};

export function registerCommands(ctx: Context): void {
  for (const [name, factory] of Object.entries(commands)) {
    ctx.pushCleanup(vscode.commands.registerCommand(`bitsmith.${name}`, factory(ctx)));
  }
}
