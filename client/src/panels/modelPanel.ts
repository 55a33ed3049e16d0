// Inspect Model: the summary and tensor table of a safetensors / GGUF / llama2.c .bin file
// or a Hugging Face folder, from core's header reader (no weights are read). Shown as a
// webview panel (viewType bitsmith.model) and as a read-only custom editor
// (viewType bitsmith.modelInspector) for model files.
import * as path from 'path';
import * as vscode from 'vscode';
import { readModelHeader } from '../../../core/src/models';
import type { ModelState, ModelView, WebviewToHost } from '../../../webview/src/shared/messages';
import { onWebviewMessage, postToWebview, webviewHtml, webviewOptions } from './html';
import { modelView } from './modelView';

/** Binds one webview (panel or custom editor) to a model path: reads the header on `ready` / `reload`. */
class ModelController implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    ext: vscode.ExtensionContext,
    private readonly webview: vscode.Webview,
    readonly modelPath: string,
  ) {
    webview.options = webviewOptions(ext);
    webview.html = webviewHtml(webview, ext, 'model', `Model: ${path.basename(modelPath)}`);
    this.disposables.push(onWebviewMessage(webview, (m) => this.onMessage(m)));
  }

  private async onMessage(message: WebviewToHost): Promise<void> {
    if (message.type === 'ready' || message.type === 'reload') await this.load();
  }

  async load(): Promise<void> {
    let view: ModelView;
    try {
      view = modelView(readModelHeader(this.modelPath));
    } catch (err) {
      const file = (err as { file?: unknown }).file;
      await postToWebview(this.webview, {
        type: 'error',
        title: 'Cannot read this model',
        message: err instanceof Error ? err.message : String(err),
        file: typeof file === 'string' ? file : this.modelPath,
      });
      return;
    }
    await postToWebview(this.webview, { type: 'model', model: view });
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

export class ModelPanel implements vscode.Disposable {
  static readonly viewType = 'bitsmith.model';
  private static readonly panels = new Map<string, ModelPanel>();
  private readonly controller: ModelController;
  private disposed = false;

  /** Shows a model file or HF folder (revealing the panel already open for it). */
  static async show(ext: vscode.ExtensionContext, uri: vscode.Uri): Promise<ModelPanel> {
    const modelPath = path.resolve(uri.fsPath);
    const existing = ModelPanel.panels.get(modelPath);
    if (existing) {
      existing.panel.reveal();
      await existing.controller.load();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      ModelPanel.viewType,
      `Model: ${path.basename(modelPath)}`,
      vscode.ViewColumn.Active,
      webviewOptions(ext),
    );
    return new ModelPanel(ext, panel, modelPath);
  }

  static revive(ext: vscode.ExtensionContext, panel: vscode.WebviewPanel, modelPath: string): ModelPanel {
    ModelPanel.panels.get(modelPath)?.dispose();
    return new ModelPanel(ext, panel, modelPath);
  }

  private constructor(
    ext: vscode.ExtensionContext,
    readonly panel: vscode.WebviewPanel,
    readonly modelPath: string,
  ) {
    ModelPanel.panels.set(modelPath, this);
    this.controller = new ModelController(ext, panel.webview, modelPath);
    panel.onDidDispose(() => this.dispose());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ModelPanel.panels.get(this.modelPath) === this) ModelPanel.panels.delete(this.modelPath);
    this.controller.dispose();
    this.panel.dispose();
  }
}

export class ModelPanelSerializer implements vscode.WebviewPanelSerializer<ModelState> {
  constructor(private readonly ext: vscode.ExtensionContext) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: ModelState | undefined): Promise<void> {
    if (state?.kind === 'model' && state.path) ModelPanel.revive(this.ext, panel, state.path);
    else panel.dispose();
  }
}

/** The read-only custom editor for .safetensors, .gguf and (as an option) llama2.c .bin files. */
export class ModelInspectorProvider implements vscode.CustomReadonlyEditorProvider {
  static readonly viewType = 'bitsmith.modelInspector';
  /** The same editor for llama2.c .bin files, contributed with priority "option". */
  static readonly binViewType = 'bitsmith.modelInspectorBin';

  constructor(private readonly ext: vscode.ExtensionContext) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const controller = new ModelController(this.ext, panel.webview, document.uri.fsPath);
    // A rewritten model file (a new `output fake`) refreshes the view.
    const watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(
        vscode.Uri.file(path.dirname(document.uri.fsPath)),
        path.basename(document.uri.fsPath),
      ),
    );
    const reload = () => void controller.load();
    const subs = [watcher.onDidChange(reload), watcher.onDidCreate(reload)];
    panel.onDidDispose(() => {
      controller.dispose();
      for (const s of subs) s.dispose();
      watcher.dispose();
    });
  }
}

/**
 * Registers the inspector under both its view types: `bitsmith.modelInspector` (the default
 * editor of .safetensors / .gguf) and `bitsmith.modelInspectorBin` (offered for .bin: "Open
 * With…"). A customEditors contribution has one priority for all its selectors, hence two.
 */
export function registerModelInspector(ext: vscode.ExtensionContext): vscode.Disposable {
  const provider = new ModelInspectorProvider(ext);
  return vscode.Disposable.from(
    vscode.window.registerCustomEditorProvider(ModelInspectorProvider.viewType, provider, {
      supportsMultipleEditorsPerDocument: true,
    }),
    vscode.window.registerCustomEditorProvider(ModelInspectorProvider.binViewType, provider, {
      supportsMultipleEditorsPerDocument: true,
    }),
  );
}
