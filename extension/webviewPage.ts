/**
 * What every Anneal KD webview panel (the dashboard, the experiments table) does the same way:
 * its page, under a strict CSP with a fresh nonce (scripts and styles only from dist/webview, no
 * remote content), the gate every message from the page passes (its contract's validation, then the
 * panel's action), and the log line for a message that failed its contract.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';

export interface PageOptions {
  extensionUri: vscode.Uri;
  /** Bundle base name in dist/webview: `<name>.js` and `<name>.css`. */
  bundle: string;
  title: string;
  testHooks: boolean;
}

export function webviewPage(webview: vscode.Webview, o: PageOptions): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const root = vscode.Uri.joinPath(o.extensionUri, 'dist', 'webview');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(root, `${o.bundle}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(root, `${o.bundle}.css`));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" nonce="${nonce}" href="${style.toString()}">
<title>${o.title}</title>
</head>
<body data-test-hooks="${o.testHooks ? '1' : '0'}">
<script nonce="${nonce}" src="${script.toString()}"></script>
</body></html>`;
}

/** The log line for a message the contract rejected: its reason and (the start of) what came. */
export function rejectedMessageLine(panel: string, raw: unknown, reason: string): string {
  let text: string;
  try {
    text = JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return `${panel}: rejected a malformed message from the webview (${reason}): ${text.slice(0, 200)}`;
}

/** How a panel takes its page's messages: its contract's parser, and what it does with each. */
export interface MessageGate<M extends { type: string }> {
  panel: string;
  parse(raw: unknown): M | undefined;
  rejectReason(raw: unknown): string | undefined;
  /** Counts, logs and tells the page (`rejected`). */
  reject(raw: unknown, reason: string): void;
  act(message: M): Promise<void>;
  log: { error(line: string): void };
  /** Tells the page that acting failed (an error `notice`). */
  notifyError(text: string): void;
}

/** Validate, then act; a message off the contract is rejected, an action that throws is reported. */
export async function receiveMessage<M extends { type: string }>(
  raw: unknown,
  gate: MessageGate<M>,
): Promise<void> {
  const message = gate.parse(raw);
  if (!message) {
    gate.reject(raw, gate.rejectReason(raw) ?? 'invalid');
    return;
  }
  try {
    await gate.act(message);
  } catch (e) {
    const text = String((e as Error)?.message ?? e);
    gate.log.error(`${gate.panel}: ${message.type} failed: ${text}`);
    gate.notifyError(text);
  }
}
