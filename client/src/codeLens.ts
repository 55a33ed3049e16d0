// Code lenses on the first statement of a recipe: Run Recipe (or Cancel Run while it runs),
// Show Allocation when it has `allocate`, and Open Last Report when the recipe has one.
import * as fs from 'fs';
import * as vscode from 'vscode';
import { latestReport } from './config';
import type { RunManager } from './run/runManager';

export class RecipeCodeLenses implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly runs: RunManager) {
    runs.onDidChange(() => this.changed.fire());
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    // The first line that is not blank or a comment: lenses sit above the recipe's statements.
    let line = 0;
    while (line < doc.lineCount - 1 && /^\s*(#.*)?$/.test(doc.lineAt(line).text)) line++;
    const range = new vscode.Range(line, 0, line, 0);
    const lenses: vscode.CodeLens[] = [];
    if (this.runs.isRunning(doc.uri)) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: '$(debug-stop) Cancel Run',
          command: 'bitsmith.cancelRun',
          arguments: [doc.uri],
        }),
      );
    } else {
      lenses.push(
        new vscode.CodeLens(range, {
          title: '$(play) Run Recipe',
          command: 'bitsmith.runRecipe',
          arguments: [doc.uri],
        }),
      );
    }
    if (/^\s*allocate\b/m.test(doc.getText())) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: 'Show Allocation',
          command: 'bitsmith.showAllocation',
          arguments: [doc.uri],
        }),
      );
    }
    if (fs.existsSync(latestReport(doc.uri))) {
      lenses.push(
        new vscode.CodeLens(range, {
          title: 'Open Last Report',
          command: 'bitsmith.openLastReport',
          arguments: [doc.uri],
        }),
      );
    }
    return lenses;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
