// The compare panel (viewType bitsmith.compare): two run reports side by side, joined by
// tensor name. Restored after a reload from the two paths the webview keeps in its state.
import * as path from 'path';
import * as vscode from 'vscode';
import { compareToCsv, joinReports } from '../../../webview/src/shared/compare';
import type { CompareState, LoadedReport, WebviewToHost } from '../../../webview/src/shared/messages';
import { ReportFileError, readReport, saveAs, watchFile } from './files';
import { onWebviewMessage, postToWebview, webviewHtml, webviewOptions } from './html';

export class ComparePanel implements vscode.Disposable {
  static readonly viewType = 'bitsmith.compare';
  private static readonly panels = new Map<string, ComparePanel>();

  private loaded: { a: LoadedReport; b: LoadedReport } | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  static async show(ext: vscode.ExtensionContext, fileA: string, fileB: string): Promise<ComparePanel> {
    const a = path.resolve(fileA);
    const b = path.resolve(fileB);
    const existing = ComparePanel.panels.get(ComparePanel.key(a, b));
    if (existing) {
      existing.panel.reveal();
      await existing.load();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      ComparePanel.viewType,
      ComparePanel.titleFor(a, b),
      vscode.ViewColumn.Active,
      webviewOptions(ext),
    );
    const created = new ComparePanel(ext, panel, a, b);
    await created.load();
    return created;
  }

  static revive(ext: vscode.ExtensionContext, panel: vscode.WebviewPanel, fileA: string, fileB: string): ComparePanel {
    const a = path.resolve(fileA);
    const b = path.resolve(fileB);
    ComparePanel.panels.get(ComparePanel.key(a, b))?.dispose();
    panel.webview.options = webviewOptions(ext);
    const revived = new ComparePanel(ext, panel, a, b);
    void revived.load();
    return revived;
  }

  private static key(a: string, b: string): string {
    return `${a}\n${b}`;
  }

  private static titleFor(a: string, b: string): string {
    return `Compare: ${path.basename(a, '.json')} ↔ ${path.basename(b, '.json')}`;
  }

  private constructor(
    ext: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly fileA: string,
    readonly fileB: string,
  ) {
    ComparePanel.panels.set(ComparePanel.key(fileA, fileB), this);
    panel.webview.html = webviewHtml(panel.webview, ext, 'compare', ComparePanel.titleFor(fileA, fileB));
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      onWebviewMessage(panel.webview, (m) => this.onMessage(m)),
      watchFile(fileA, () => void this.load()),
      watchFile(fileB, () => void this.load()),
    );
  }

  async load(): Promise<void> {
    try {
      const [a, b] = await Promise.all([readReport(this.fileA), readReport(this.fileB)]);
      this.loaded = { a: { file: this.fileA, report: a }, b: { file: this.fileB, report: b } };
      await this.post();
    } catch (err) {
      this.loaded = undefined;
      if (this.disposed) return;
      await postToWebview(this.panel.webview, {
        type: 'error',
        title: 'Cannot compare these run reports',
        message: err instanceof Error ? err.message : String(err),
        file: err instanceof ReportFileError ? err.file : `${this.fileA}, ${this.fileB}`,
      });
    }
  }

  private async post(): Promise<void> {
    if (!this.disposed && this.loaded) await postToWebview(this.panel.webview, { type: 'compare', ...this.loaded });
  }

  private async onMessage(message: WebviewToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        if (this.loaded) await this.post();
        else await this.load();
        return;
      case 'reload':
        await this.load();
        return;
      case 'exportCsv':
      case 'exportJson': {
        if (!this.loaded) return;
        const rows = joinReports(this.loaded.a.report, this.loaded.b.report);
        const order =
          message.type === 'exportCsv' && message.tensors ? new Map(message.tensors.map((n, i) => [n, i])) : undefined;
        const chosen = order
          ? rows.filter((r) => order.has(r.name)).sort((x, y) => order.get(x.name)! - order.get(y.name)!)
          : rows;
        const base = path.join(
          path.dirname(this.fileB),
          `compare-${path.basename(this.fileA, '.json')}-${path.basename(this.fileB, '.json')}`,
        );
        const written =
          message.type === 'exportCsv'
            ? await saveAs(`${base}.csv`, { CSV: ['csv'] }, compareToCsv(chosen), 'Export the comparison as CSV')
            : await saveAs(
                `${base}.json`,
                { JSON: ['json'] },
                `${JSON.stringify({ a: this.fileA, b: this.fileB, tensors: chosen.map((r) => ({ name: r.name, status: r.status, a: r.a, b: r.b, relRatio: r.relRatio, bpwDelta: r.bpwDelta })) }, null, 2)}\n`,
                'Export the comparison as JSON',
              );
        if (written)
          await postToWebview(this.panel.webview, { type: 'notice', level: 'info', message: `Saved ${written}` });
        return;
      }
      case 'revealRule':
        return;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const key = ComparePanel.key(this.fileA, this.fileB);
    if (ComparePanel.panels.get(key) === this) ComparePanel.panels.delete(key);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

export class ComparePanelSerializer implements vscode.WebviewPanelSerializer<CompareState> {
  constructor(private readonly ext: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: CompareState | undefined): Promise<void> {
    if (state?.kind === 'compare' && state.fileA && state.fileB) {
      ComparePanel.revive(this.ext, panel, state.fileA, state.fileB);
      return;
    }
    panel.dispose();
  }
}
