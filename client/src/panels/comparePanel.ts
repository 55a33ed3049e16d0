// The compare panel (viewType bitsmith.compare): two or more run reports: each run's size
// and evaluation figures, size vs KL, and two of them joined by tensor name. Restored after
// a reload from the paths the webview keeps in its state.
import * as path from 'path';
import * as vscode from 'vscode';
import { compareToCsv, joinReports, runRows, runsToCsv } from '../../../webview/src/shared/compare';
import type { CompareState, LoadedReport, WebviewToHost } from '../../../webview/src/shared/messages';
import { ReportFileError, readReport, saveAs, watchFile } from './files';
import { onWebviewMessage, postToWebview, webviewHtml, webviewOptions } from './html';

export class ComparePanel implements vscode.Disposable {
  static readonly viewType = 'bitsmith.compare';
  private static readonly panels = new Map<string, ComparePanel>();

  private loaded: LoadedReport[] | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  /** The pair the tensor table joins (the webview says which). */
  private pair: [number, number] = [0, 1];

  /** files: two or more run reports, shown in this order (oldest first reads as "what changed since"). */
  static async show(ext: vscode.ExtensionContext, files: readonly string[]): Promise<ComparePanel> {
    const all = files.map((f) => path.resolve(f));
    const existing = ComparePanel.panels.get(ComparePanel.key(all));
    if (existing) {
      existing.panel.reveal();
      await existing.load();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      ComparePanel.viewType,
      ComparePanel.titleFor(all),
      vscode.ViewColumn.Active,
      webviewOptions(ext),
    );
    const created = new ComparePanel(ext, panel, all);
    await created.load();
    return created;
  }

  static revive(ext: vscode.ExtensionContext, panel: vscode.WebviewPanel, files: readonly string[]): ComparePanel {
    const all = files.map((f) => path.resolve(f));
    ComparePanel.panels.get(ComparePanel.key(all))?.dispose();
    panel.webview.options = webviewOptions(ext);
    const revived = new ComparePanel(ext, panel, all);
    void revived.load();
    return revived;
  }

  private static key(files: readonly string[]): string {
    return files.join('\n');
  }

  private static titleFor(files: readonly string[]): string {
    return files.length === 2
      ? `Compare: ${path.basename(files[0], '.json')} ↔ ${path.basename(files[1], '.json')}`
      : `Compare: ${files.length} runs`;
  }

  private constructor(
    ext: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly files: readonly string[],
  ) {
    ComparePanel.panels.set(ComparePanel.key(files), this);
    panel.webview.html = webviewHtml(panel.webview, ext, 'compare', ComparePanel.titleFor(files));
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      onWebviewMessage(panel.webview, (m) => this.onMessage(m)),
    );
    for (const f of files) this.disposables.push(watchFile(f, () => void this.load()));
  }

  async load(): Promise<void> {
    try {
      const reports = await Promise.all(this.files.map((f) => readReport(f)));
      this.loaded = reports.map((report, i) => ({ file: this.files[i], report }));
      await this.post();
    } catch (err) {
      this.loaded = undefined;
      if (this.disposed) return;
      await postToWebview(this.panel.webview, {
        type: 'error',
        title: 'Cannot compare these run reports',
        message: err instanceof Error ? err.message : String(err),
        file: err instanceof ReportFileError ? err.file : this.files.join(', '),
      });
    }
  }

  private async post(): Promise<void> {
    if (!this.disposed && this.loaded)
      await postToWebview(this.panel.webview, { type: 'compare', reports: this.loaded });
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
      case 'comparePair':
        if (this.loaded && message.a !== message.b && this.loaded[message.a] && this.loaded[message.b])
          this.pair = [message.a, message.b];
        return;
      case 'exportCsv':
      case 'exportJson': {
        if (!this.loaded) return;
        const [ia, ib] = this.loaded[this.pair[1]] ? this.pair : [0, 1];
        const A = this.loaded[ia],
          B = this.loaded[ib];
        const rows = joinReports(A.report, B.report);
        const runs = runRows(this.loaded);
        const order =
          message.type === 'exportCsv' && message.tensors ? new Map(message.tensors.map((n, i) => [n, i])) : undefined;
        const chosen = order
          ? rows.filter((r) => order.has(r.name)).sort((x, y) => order.get(x.name)! - order.get(y.name)!)
          : rows;
        const base = path.join(
          path.dirname(B.file),
          this.loaded.length === 2
            ? `compare-${path.basename(A.file, '.json')}-${path.basename(B.file, '.json')}`
            : `compare-${this.loaded.length}-runs`,
        );
        let written: string | undefined;
        if (message.type === 'exportCsv' && message.what === 'runs')
          written = await saveAs(`${base}-runs.csv`, { CSV: ['csv'] }, runsToCsv(runs), 'Export the runs as CSV');
        else if (message.type === 'exportCsv')
          written = await saveAs(
            `${base}.csv`,
            { CSV: ['csv'] },
            compareToCsv(chosen),
            'Export the tensor comparison as CSV',
          );
        else
          written = await saveAs(
            `${base}.json`,
            { JSON: ['json'] },
            `${JSON.stringify({ runs, a: A.file, b: B.file, tensors: chosen.map((r) => ({ name: r.name, status: r.status, a: r.a, b: r.b, relRatio: r.relRatio, bpwDelta: r.bpwDelta })) }, null, 2)}\n`,
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
    const key = ComparePanel.key(this.files);
    if (ComparePanel.panels.get(key) === this) ComparePanel.panels.delete(key);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

export class ComparePanelSerializer implements vscode.WebviewPanelSerializer<CompareState> {
  constructor(private readonly ext: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: CompareState | undefined): Promise<void> {
    const files =
      state?.kind === 'compare'
        ? state.files?.length >= 2
          ? state.files
          : state.fileA && state.fileB
            ? [state.fileA, state.fileB]
            : undefined
        : undefined;
    if (files) {
      ComparePanel.revive(this.ext, panel, files);
      return;
    }
    panel.dispose();
  }
}
