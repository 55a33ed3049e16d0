// The Get Started walkthrough (package.json contributes.walkthroughs): its steps complete on
// commands (`onCommand:`) and on these context keys, set once what the step asks for has
// happened in the editor, whichever way the user got there:
//   bitsmith.walkthrough.modelOpened   a model is open in the Model Inspector
//   bitsmith.walkthrough.recipeOpen    a .quant recipe is the active editor
//   bitsmith.walkthrough.budgetShown   the status bar has shown a recipe's budget
//   bitsmith.walkthrough.reportSeen    a run report panel is open
import * as vscode from 'vscode';
import type { BudgetStatus } from './statusBar';

export const WALKTHROUGH_ID = 'bitsmith.bitsmith#gettingStarted';

type Key = 'modelOpened' | 'recipeOpen' | 'budgetShown' | 'reportSeen';

export class WalkthroughProgress implements vscode.Disposable {
  private readonly set = new Set<Key>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(budget: BudgetStatus) {
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.checkEditor()),
      vscode.window.tabGroups.onDidChangeTabs(() => this.checkTabs()),
      budget.onDidShow(() => this.mark('budgetShown')),
    );
    this.checkEditor();
    this.checkTabs();
    if (budget.text !== undefined) this.mark('budgetShown');
  }

  private mark(key: Key): void {
    if (this.set.has(key)) return;
    this.set.add(key);
    void vscode.commands.executeCommand('setContext', `bitsmith.walkthrough.${key}`, true);
  }

  private checkEditor(): void {
    if (vscode.window.activeTextEditor?.document.languageId === 'quant') this.mark('recipeOpen');
  }

  private checkTabs(): void {
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        const input = tab.input;
        // Webview view types come prefixed (`mainThreadWebview-bitsmith.report`).
        if (input instanceof vscode.TabInputWebview && input.viewType.endsWith('bitsmith.report'))
          this.mark('reportSeen');
        if (input instanceof vscode.TabInputWebview && input.viewType.endsWith('bitsmith.model'))
          this.mark('modelOpened');
        if (input instanceof vscode.TabInputCustom && input.viewType.startsWith('bitsmith.modelInspector'))
          this.mark('modelOpened');
      }
    }
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Bitsmith: Get Started: opens the walkthrough. */
export function openWalkthrough(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false);
}
