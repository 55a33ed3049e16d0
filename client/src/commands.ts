// The extension's commands, keyed by the suffix of their id (`bitsmith.<name>`); each entry is
// a factory that receives the Context, as in rust-analyzer's client.
import * as vscode from 'vscode';
import type { Context } from './context';

export type Cmd = (...args: unknown[]) => unknown;
export type CmdFactory = (ctx: Context) => Cmd;

export function restartServer(ctx: Context): Cmd {
  return async () => {
    try {
      await ctx.restart();
      void vscode.window.setStatusBarMessage('Bitsmith language server restarted', 3000);
    } catch (err) {
      void vscode.window.showErrorMessage(`Bitsmith: failed to restart the language server: ${String(err)}`);
    }
  };
}

export const commands: Record<string, CmdFactory> = {
  restartServer,
};

export function registerCommands(ctx: Context): void {
  for (const [name, factory] of Object.entries(commands)) {
    ctx.pushCleanup(vscode.commands.registerCommand(`bitsmith.${name}`, factory(ctx)));
  }
}
