// VS Code entry point: a thin activate/deactivate around Context (the language client) and the
// commands table.
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { Context } from './context';

let ctx: Context | undefined;

export async function activate(extCtx: vscode.ExtensionContext): Promise<void> {
  ctx = new Context(extCtx);
  registerCommands(ctx);
  try {
    await ctx.start();
  } catch (err) {
    // Keep the extension (and `Bitsmith: Restart Language Server`) alive when the server fails.
    void vscode.window.showErrorMessage(`Bitsmith: the language server failed to start: ${String(err)}`);
  }
}

export async function deactivate(): Promise<void> {
  const current = ctx;
  ctx = undefined;
  await current?.stop();
}
