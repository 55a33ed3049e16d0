// The status bar item of the active recipe: whole-model bits per weight and size against the
// recipe's budget, kept current by the language server (bitsmith/budgetChanged while typing,
// bitsmith/budget when the active editor changes; server/src/protocol.ts).
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { BudgetChangedNotification, BudgetRequest, type BudgetResult } from '../../server/src/protocol';
import { budgetText } from './budgetText';

export class BudgetStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('bitsmith.budget', vscode.StatusBarAlignment.Right, 100);
  private readonly byUri = new Map<string, BudgetResult | null>();
  private client: LanguageClient | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private clientDisposables: vscode.Disposable[] = [];
  private readonly shown = new vscode.EventEmitter<void>();
  /** Fires each time a recipe's budget is rendered (the walkthrough's "See the budget" step). */
  readonly onDidShow = this.shown.event;

  constructor() {
    this.item.name = 'Bitsmith budget';
    this.disposables.push(
      this.item,
      this.shown,
      vscode.window.onDidChangeActiveTextEditor(() => void this.refresh()),
      vscode.workspace.onDidCloseTextDocument((d) => this.byUri.delete(d.uri.toString())),
    );
  }

  /** Follows a (re)started language client. */
  attach(client: LanguageClient): void {
    for (const d of this.clientDisposables.splice(0)) d.dispose();
    this.client = client;
    this.byUri.clear();
    this.clientDisposables.push(
      client.onNotification(BudgetChangedNotification, (p) => {
        this.byUri.set(p.uri, p.budget);
        if (p.uri === this.activeUri()) this.render(p.budget);
      }),
    );
    void this.refresh();
  }

  /** The text shown now, or undefined when hidden (for the extension-host tests). */
  get text(): string | undefined {
    return this.visible ? this.item.text : undefined;
  }

  private visible = false;

  private activeUri(): string | undefined {
    const doc = vscode.window.activeTextEditor?.document;
    return doc?.languageId === 'quant' ? doc.uri.toString() : undefined;
  }

  private async refresh(): Promise<void> {
    const uri = this.activeUri();
    if (!uri) return this.render(null);
    if (this.byUri.has(uri)) this.render(this.byUri.get(uri)!);
    if (!this.client) return;
    try {
      const b = await this.client.sendRequest(BudgetRequest, { uri });
      this.byUri.set(uri, b);
      if (uri === this.activeUri()) this.render(b);
    } catch {
      // The server is restarting or the document closed: the next notification updates it.
    }
  }

  private render(b: BudgetResult | null): void {
    if (!b) {
      this.item.hide();
      this.visible = false;
      return;
    }
    const t = budgetText(b);
    this.item.text = t.text;
    this.item.tooltip = t.tooltip;
    this.item.backgroundColor = t.errors
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : t.over
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
    this.item.accessibilityInformation = { label: t.tooltip.replace(/\n/g, '. ') };
    this.item.show();
    this.visible = true;
    this.shown.fire();
  }

  dispose(): void {
    for (const d of [...this.clientDisposables, ...this.disposables]) d.dispose();
  }
}
