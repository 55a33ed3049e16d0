// The webview shell shared by every panel: a strict Content-Security-Policy with a fresh
// nonce per load, local resources only (dist/webview, through asWebviewUri), and the typed
// message plumbing (webview -> host messages are checked before use).
import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { isWebviewMessage, type HostToWebview, type WebviewToHost } from '../../../webview/src/shared/messages';

/** The bundled webview scripts: dist/webview/<name>.js. */
export type WebviewScript = 'report' | 'compare' | 'model' | 'allocation';

export function webviewRoot(ext: vscode.ExtensionContext): vscode.Uri {
  return vscode.Uri.joinPath(ext.extensionUri, 'dist', 'webview');
}

/**
 * Options of every panel. Scripts are on; only dist/webview is readable. No
 * retainContextWhenHidden: each webview keeps its UI state with setState and asks for its
 * data again (`ready`) when it is shown, which costs less than keeping hidden charts alive.
 */
export function webviewOptions(ext: vscode.ExtensionContext): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return { enableScripts: true, localResourceRoots: [webviewRoot(ext)], enableFindWidget: true };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The page: stylesheet and script from dist/webview, everything else built by the script. */
export function webviewHtml(
  webview: vscode.Webview,
  ext: vscode.ExtensionContext,
  script: WebviewScript,
  title: string,
): string {
  const nonce = crypto.randomBytes(18).toString('base64');
  const root = webviewRoot(ext);
  const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(root, `${script}.js`));
  const styleUri = webview.asWebviewUri(vscode.Uri.joinPath(root, 'bitsmith.css'));
  // Chart.js sizes its canvas through the CSSOM (element.style), which style-src does not
  // govern, so no 'unsafe-inline' is needed.
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${styleUri.toString()}">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="app" class="app" aria-busy="true"><p class="loading">Loading…</p></main>
<script nonce="${nonce}" src="${scriptUri.toString()}"></script>
</body>
</html>`;
}

/** Posts a typed message (false when the webview is gone). */
export function postToWebview(webview: vscode.Webview, message: HostToWebview): Thenable<boolean> {
  return webview.postMessage(message);
}

/** Subscribes to the webview's messages, dropping anything that is not part of the protocol. */
export function onWebviewMessage(
  webview: vscode.Webview,
  handler: (message: WebviewToHost) => void | Promise<void>,
): vscode.Disposable {
  return webview.onDidReceiveMessage(async (raw: unknown) => {
    if (!isWebviewMessage(raw)) return;
    try {
      await handler(raw);
    } catch (err) {
      void postToWebview(webview, {
        type: 'notice',
        level: 'error',
        message: err instanceof Error ? err.message : String(err),
      });
    }
  });
}
