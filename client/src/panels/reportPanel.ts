// The run report panel (viewType bitsmith.report): one panel per report file, restored
// after a reload by its serializer (the webview keeps the file path in its state).
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunReport } from '../../../core/src/runReport';
import type { ReportState, WebviewToHost } from '../../../webview/src/shared/messages';
import { decidingRule, reportToCsv } from '../../../webview/src/shared/reportModel';
import { ReportFileError, readReport, saveAs, watchFile } from './files';
import { onWebviewMessage, postToWebview, webviewHtml, webviewOptions } from './html';

export class ReportPanel implements vscode.Disposable {
  static readonly viewType = 'bitsmith.report';
  private static readonly panels = new Map<string, ReportPanel>();

  private report: RunReport | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  /** Shows the report in its panel (revealing the one already open for this file). */
  static async show(ext: vscode.ExtensionContext, reportFile: string): Promise<ReportPanel> {
    const file = path.resolve(reportFile);
    const existing = ReportPanel.panels.get(file);
    if (existing) {
      existing.panel.reveal();
      await existing.load();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      ReportPanel.viewType,
      ReportPanel.titleFor(file),
      vscode.ViewColumn.Active,
      webviewOptions(ext),
    );
    const created = new ReportPanel(ext, panel, file);
    await created.load();
    return created;
  }

  /** The serializer's half: adopts a panel VS Code restored. */
  static revive(ext: vscode.ExtensionContext, panel: vscode.WebviewPanel, file: string): ReportPanel {
    const resolved = path.resolve(file);
    ReportPanel.panels.get(resolved)?.dispose();
    panel.webview.options = webviewOptions(ext);
    const revived = new ReportPanel(ext, panel, resolved);
    void revived.load();
    return revived;
  }

  /** The open panels (for commands that act on "the current report"). */
  static all(): ReportPanel[] {
    return [...ReportPanel.panels.values()];
  }

  private static titleFor(file: string, report?: RunReport): string {
    return `Report: ${report?.recipe.name ?? path.basename(file, '.json')}`;
  }

  private constructor(
    private readonly ext: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly file: string,
  ) {
    ReportPanel.panels.set(file, this);
    panel.webview.html = webviewHtml(panel.webview, ext, 'report', ReportPanel.titleFor(file));
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      onWebviewMessage(panel.webview, (m) => this.onMessage(m)),
      // A new run rewrites <recipe>-latest.json: the panel follows it.
      watchFile(file, () => void this.load()),
    );
  }

  /** Reads the report from disk and sends it (or the error) to the webview. */
  async load(): Promise<void> {
    try {
      this.report = await readReport(this.file);
      this.panel.title = ReportPanel.titleFor(this.file, this.report);
      await this.post();
    } catch (err) {
      this.report = undefined;
      const message = err instanceof Error ? err.message : String(err);
      if (!this.disposed) {
        await postToWebview(this.panel.webview, {
          type: 'error',
          title: 'Cannot show this run report',
          message,
          file: err instanceof ReportFileError ? err.file : this.file,
        });
      }
    }
  }

  private async post(): Promise<void> {
    if (this.disposed) return;
    if (this.report) await postToWebview(this.panel.webview, { type: 'report', file: this.file, report: this.report });
  }

  private async onMessage(message: WebviewToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        if (this.report) await this.post();
        else await this.load();
        return;
      case 'reload':
        await this.load();
        return;
      case 'revealRule':
        await this.revealRule(message.tensor);
        return;
      case 'exportCsv':
        await this.export('csv', message.tensors);
        return;
      case 'exportJson':
        await this.export('json');
        return;
    }
  }

  /** Opens the recipe beside the panel with the line of the rule that decided the tensor selected. */
  async revealRule(tensorName: string): Promise<void> {
    const report = this.report;
    const tensor = report?.tensors.find((t) => t.name === tensorName);
    if (!report || !tensor) return;
    const rule = decidingRule(report, tensor);
    if (!rule) {
      const why = report.rules
        ? `no rule decided ${tensorName} (it is ${tensor.action === 'keep' ? 'kept as no rule gives it a format' : 'left to the built-in defaults'})`
        : 'this report does not record which rule decided each tensor';
      await postToWebview(this.panel.webview, { type: 'notice', level: 'info', message: `Nothing to reveal: ${why}.` });
      return;
    }
    let doc: vscode.TextDocument;
    try {
      doc = await vscode.workspace.openTextDocument(vscode.Uri.file(report.recipe.path));
    } catch (err) {
      await postToWebview(this.panel.webview, {
        type: 'notice',
        level: 'error',
        message: `Cannot open the recipe ${report.recipe.path}: ${(err as Error).message}`,
      });
      return;
    }
    const line = Math.min(rule.line, doc.lineCount - 1);
    const range = doc.lineAt(line).range;
    const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === doc.uri.toString());
    const editor = await vscode.window.showTextDocument(doc, {
      viewColumn: visible?.viewColumn ?? vscode.ViewColumn.Beside,
      preserveFocus: true,
      selection: new vscode.Selection(range.start, range.end),
    });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private async export(kind: 'csv' | 'json', tensors?: string[]): Promise<void> {
    const report = this.report;
    if (!report) return;
    const base = path.join(path.dirname(this.file), path.basename(this.file, '.json'));
    const written =
      kind === 'csv'
        ? await saveAs(`${base}.csv`, { CSV: ['csv'] }, reportToCsv(report, tensors), 'Export the tensor table as CSV')
        : await saveAs(
            `${base}-export.json`,
            { JSON: ['json'] },
            `${JSON.stringify({ ...report, file: undefined }, null, 2)}\n`,
            'Export the run report as JSON',
          );
    if (written)
      await postToWebview(this.panel.webview, { type: 'notice', level: 'info', message: `Saved ${written}` });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ReportPanel.panels.get(this.file) === this) ReportPanel.panels.delete(this.file);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

export class ReportPanelSerializer implements vscode.WebviewPanelSerializer<ReportState> {
  constructor(private readonly ext: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: ReportState | undefined): Promise<void> {
    if (state?.kind === 'report' && typeof state.file === 'string' && state.file) {
      ReportPanel.revive(this.ext, panel, state.file);
      return;
    }
    // Nothing to restore from: say so instead of leaving a blank panel.
    panel.webview.options = webviewOptions(this.ext);
    panel.webview.html = webviewHtml(panel.webview, this.ext, 'report', 'Bitsmith report');
    const sub = panel.webview.onDidReceiveMessage(() => {
      void postToWebview(panel.webview, {
        type: 'error',
        title: 'Cannot restore this run report',
        message:
          'The panel did not record which report it showed. Open the report again from its file or the run that wrote it.',
        file: '',
      });
    });
    panel.onDidDispose(() => sub.dispose());
  }
}
