// The extension's settings (package.json `contributes.configuration`), read in one place.
import * as path from 'path';
import * as vscode from 'vscode';

export interface RunSettings {
  /** Worker threads; 0 = the recipe's `threads`, else all cores. */
  threads: number;
  /** Absolute folder for reports, or undefined for <recipe folder>/.bitsmith/reports. */
  reportDir: string | undefined;
  /** A custom native addon (.node file), passed to the runner as BITSMITH_NATIVE. */
  nativePath: string | undefined;
}

export function runSettings(recipe: vscode.Uri): RunSettings {
  const cfg = vscode.workspace.getConfiguration('bitsmith', recipe);
  const folder = vscode.workspace.getWorkspaceFolder(recipe)?.uri.fsPath ?? path.dirname(recipe.fsPath);
  const resolve = (p: string | undefined) => (p && p.trim() ? path.resolve(folder, p.trim()) : undefined);
  const threads = cfg.get<number>('run.threads', 0);
  return {
    threads: Number.isInteger(threads) && threads > 0 ? threads : 0,
    reportDir: resolve(cfg.get<string>('reports.location', '')),
    nativePath: resolve(cfg.get<string>('native.path', '')),
  };
}

/** Where the reports of a recipe are saved, as the CLI decides it (cli/src/run/report.ts). */
export function reportDir(recipe: vscode.Uri): string {
  return runSettings(recipe).reportDir ?? path.join(path.dirname(recipe.fsPath), '.bitsmith', 'reports');
}

/** The report of the last run of a recipe. */
export function latestReport(recipe: vscode.Uri): string {
  return path.join(reportDir(recipe), `${path.basename(recipe.fsPath).replace(/\.quant$/i, '')}-latest.json`);
}
