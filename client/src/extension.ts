// VS Code entry point: a thin activate/deactivate around Context (the language client, runs,
// status bar), the commands table, and the providers registered once.
import * as vscode from 'vscode';
import { BudgetRequest, type BudgetResult } from '../../server/src/protocol';
import { RecipeCodeLenses } from './codeLens';
import { registerCommands } from './commands';
import { Context } from './context';
import { AllocationPanel, AllocationPanelSerializer, registerPanels } from './panels';
import { RecipeTaskProvider, TASK_TYPE } from './tasks';
import { WalkthroughProgress } from './walkthrough';

/** What activate() returns: read by the extension-host tests. */
export interface BitsmithApi {
  statusBarText(): string | undefined;
  runningRecipes(): string[];
  /** The language server's figures for a recipe's current text (errors included), or null. */
  budget(uri: string): Promise<BudgetResult | null | undefined>;
}

let ctx: Context | undefined;

export async function activate(extCtx: vscode.ExtensionContext): Promise<BitsmithApi> {
  const c = (ctx = new Context(extCtx));
  registerCommands(c);
  for (const d of registerPanels(extCtx)) c.pushCleanup(d);
  c.pushCleanup(
    vscode.window.registerWebviewPanelSerializer(
      AllocationPanel.viewType,
      new AllocationPanelSerializer(extCtx, c.runs),
    ),
  );
  c.pushCleanup(vscode.tasks.registerTaskProvider(TASK_TYPE, new RecipeTaskProvider(extCtx)));
  c.pushCleanup(new WalkthroughProgress(c.budgetStatus));
  const lenses = new RecipeCodeLenses(c.runs);
  c.pushCleanup(lenses);
  c.pushCleanup(vscode.languages.registerCodeLensProvider({ language: 'quant', scheme: 'file' }, lenses));
  try {
    await c.start();
  } catch (err) {
    // Keep the extension (and `Bitsmith: Restart Language Server`) alive when the server fails.
    void vscode.window.showErrorMessage(`Bitsmith: the language server failed to start: ${String(err)}`);
  }
  return {
    statusBarText: () => c.budgetStatus.text,
    runningRecipes: () => c.runs.running.map((u) => u.fsPath),
    budget: async (uri: string) => c.client?.sendRequest(BudgetRequest, { uri }),
  };
}

export async function deactivate(): Promise<void> {
  const current = ctx;
  ctx = undefined;
  await current?.stop();
}
