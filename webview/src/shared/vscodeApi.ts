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

type DataMessage = Exclude<HostToWebview, { type: 'error' } | { type: 'notice' }>;
type Of<T extends HostToWebview['type']> = Extract<HostToWebview, { type: T }>;

/** The life of every webview: handle the host's data, error and notice messages, then tell
 * the host the script is ready (it (re)sends its data, also after a reload). */
export function serve<K extends DataMessage['type']>(
  kind: K,
  handlers: {
    data: (message: Of<K>) => void;
    error: (message: Of<'error'>) => void;
    notice: (message: Of<'notice'>) => void;
  },
): void {
  onHostMessage((message) => {
    if (message.type === kind) handlers.data(message as Of<K>);
    else if (message.type === 'error') handlers.error(message);
    else if (message.type === 'notice') handlers.notice(message);
  });
  post({ type: 'ready' });
}
