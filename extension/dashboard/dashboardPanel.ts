/**
 * Open Dashboard: for now a placeholder panel (the real dashboard is its own issue) showing the
 * run's status and result. Strict CSP: no remote content, only our nonce'd inline script; every
 * message from the page is validated (webview/messages.ts) before it is acted on.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type ExtensionToWebview } from '../../webview/messages';
import { resultText } from '../inline/resultFormat';
import type { RunManager } from '../runs/runManager';
import type { RunState } from '../runs/runState';

const VIEW_TYPE = 'annealKd.dashboard';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export class DashboardPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private runDir: string | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly runs: RunManager) {
    this.subscription = runs.onDidChange(() => this.post());
  }

  /** Show the dashboard for a run (or the empty state); one panel, reused. */
  show(runDir: string | undefined): vscode.WebviewPanel {
    this.runDir = runDir;
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Anneal KD Dashboard', vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [],
        retainContextWhenHidden: false,
      });
      this.panel.onDidDispose(() => { this.panel = undefined; });
      this.panel.webview.onDidReceiveMessage((raw: unknown) => {
        const message = parseWebviewMessage(raw);
        if (!message) return; // not ours: ignore
        if (message.type === 'ready') this.post();
        else void vscode.commands.executeCommand(`annealKd.${message.command}`, message.runDir);
      });
    }
    const run = runDir ? this.runs.get(runDir) : undefined;
    this.panel.title = run ? `Dashboard · ${run.name ?? run.runId}` : 'Anneal KD Dashboard';
    this.panel.webview.html = this.html(this.panel.webview, run);
    this.panel.reveal();
    return this.panel;
  }

  private post(): void {
    const run = this.runDir ? this.runs.get(this.runDir) : undefined;
    if (!this.panel || !run) return;
    const message: ExtensionToWebview = { type: 'run', run, resultText: resultText(run) };
    void this.panel.webview.postMessage(message);
  }

  private html(webview: vscode.Webview, run: RunState | undefined): string {
    const nonce = crypto.randomBytes(16).toString('base64');
    const csp = `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src ${webview.cspSource};`;
    const runDir = run ? escapeHtml(JSON.stringify(run.runDir)) : 'null';
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 1em 2em; }
  .muted { color: var(--vscode-descriptionForeground); }
  button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: 0; padding: 4px 10px; margin-right: 6px; cursor: pointer; }
</style></head>
<body data-run-dir="${runDir}">
  <h2 id="title">${escapeHtml(run ? run.name ?? run.runId : 'No run selected')}</h2>
  <p id="status" class="muted">${escapeHtml(run ? `${run.status} · ${resultText(run)}` : 'Run an experiment, then open its dashboard from the Runs view.')}</p>
  <p class="muted">The full dashboard (curves per phase and temperature) is coming; this panel follows the run live.</p>
  ${run ? '<p><button id="log">Show Log</button><button id="reveal">Reveal Folder</button></p>' : ''}
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const runDir = JSON.parse(document.body.dataset.runDir || 'null');
  for (const [id, command] of [['log', 'showRunLog'], ['reveal', 'revealRunFolder']]) {
    const b = document.getElementById(id);
    if (b) b.addEventListener('click', () => vscode.postMessage({ type: 'command', command, runDir }));
  }
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (!m || m.type !== 'run' || !m.run) return;
    document.getElementById('status').textContent = m.run.status + ' · ' + m.resultText;
  });
  vscode.postMessage({ type: 'ready' });
</script>
</body></html>`;
  }

  dispose(): void {
    this.subscription.dispose();
    this.panel?.dispose();
  }
}
