// Owns the language client for the extension's lifetime (in the style of rust-analyzer's Ctx):
// start, stop and restart it, the runs, the budget status bar item, and every disposable the
// extension registers.
import * as vscode from 'vscode';
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import { ReportPanel } from './panels';
import { RunManager } from './run/runManager';
import { BudgetStatus } from './statusBar';

/** Files whose change may invalidate the server's cached model headers. */
export const MODEL_FILE_GLOB = '**/*.{safetensors,gguf,bin,json,dat,imatrix}';

export class Context implements vscode.Disposable {
  private _client: LanguageClient | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  readonly outputChannel: vscode.OutputChannel;
  /** Shared by every client this context creates (a restart re-hooks it); disposed with the context. */
  private readonly modelFileWatcher: vscode.FileSystemWatcher;
  readonly runs: RunManager;
  readonly budgetStatus: BudgetStatus;

  constructor(readonly extCtx: vscode.ExtensionContext) {
    this.outputChannel = vscode.window.createOutputChannel('Bitsmith Language Server');
    this.modelFileWatcher = vscode.workspace.createFileSystemWatcher(MODEL_FILE_GLOB);
    const runOutput = vscode.window.createOutputChannel('Bitsmith Runs');
    this.runs = new RunManager(extCtx, runOutput, (file) => ReportPanel.show(extCtx, file));
    this.budgetStatus = new BudgetStatus();
    this.disposables.push(this.outputChannel, this.modelFileWatcher, runOutput, this.runs, this.budgetStatus);
    // `bitsmith.running` drives the Cancel Run menu entries.
    this.runs.onDidChange(
      () => void vscode.commands.executeCommand('setContext', 'bitsmith.running', this.runs.running.length > 0),
    );
    extCtx.subscriptions.push(this);
  }

  get client(): LanguageClient | undefined {
    return this._client;
  }

  /** Keeps a disposable alive until the extension is deactivated. */
  pushCleanup(disposable: vscode.Disposable): void {
    this.disposables.push(disposable);
  }

  async start(): Promise<void> {
    if (!this._client) this._client = this.createClient();
    await this._client.start();
    this.budgetStatus.attach(this._client);
  }

  async stop(): Promise<void> {
    const client = this._client;
    this._client = undefined;
    if (client) await client.dispose();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  dispose(): void {
    this.stop().catch(() => undefined);
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private createClient(): LanguageClient {
    const module = this.extCtx.asAbsolutePath('dist/server.js');
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ language: 'quant' }],
      synchronize: { fileEvents: this.modelFileWatcher },
      outputChannel: this.outputChannel,
    };
    // The id 'bitsmith' makes the client honour the `bitsmith.trace.server` setting.
    return new LanguageClient('bitsmith', 'Bitsmith Language Server', serverOptions, clientOptions);
  }
}
