/// <reference lib="dom" />
// The webview side of the VS Code API: typed postMessage / state, acquired once.
import type { HostToWebview, WebviewState, WebviewToHost } from './messages';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;

function vscode(): VsCodeApi {
  api ??= acquireVsCodeApi();
  return api;
}

export function post(message: WebviewToHost): void {
  vscode().postMessage(message);
}

export function getState<S extends WebviewState>(kind: S['kind']): S | undefined {
  const state = vscode().getState() as WebviewState | undefined;
  return state && state.kind === kind ? (state as S) : undefined;
}

export function setState(state: WebviewState): void {
  vscode().setState(state);
}

/** Calls `handler` for each message from the host (ignores anything else posted to the window). */
export function onHostMessage(handler: (message: HostToWebview) => void): void {
  window.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as HostToWebview | undefined;
    if (data && typeof data === 'object' && typeof data.type === 'string') handler(data);
  });
}
