/** Shared by the host suites: the activated extension's API, the test workspace, waiting. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AnnealKdApi } from '../../../extension/extension';
import type { ExperimentRow } from '../../../runner/protocol';
import type { ExtensionToExperiments } from '../../../webview/experiments/messages';

export const EXTENSION_ID = 'anneal-kd.anneal-kd';

export async function api(): Promise<AnnealKdApi> {
  const ext = vscode.extensions.getExtension<AnnealKdApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  const extensionApi = await ext.activate();
  await extensionApi.clientReady;
  return extensionApi;
}

export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests run with a workspace folder');
  return folder.uri.fsPath;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `probe` returns a truthy value (or fail with what it returned last). */
export async function waitUntil<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** The folder of a completed run (the runs suite leaves some). */
export async function completedRunDir(): Promise<string> {
  const { runs } = await api();
  await runs.refresh();
  const done = await waitUntil(
    () => runs.allRuns().find((r) => r.status === 'completed'),
    'a completed run (from the runs suite)',
  );
  return done.runDir;
}

/** Write a file into the test workspace and open it in an editor. */
export async function openConfig(name: string, text: string): Promise<vscode.TextDocument> {
  const file = path.join(workspaceDir(), name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  await vscode.window.showTextDocument(doc);
  return doc;
}

export function diagnosticsOf(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'akd');
}

export function rangeText(r: vscode.Range): string {
  return `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character}`;
}

export /** Every row the page has been sent: the last `init`, then each `rows` message applied. */
function rowsSent(posted: readonly ExtensionToExperiments[]): Map<string, ExperimentRow> {
  const rows = new Map<string, ExperimentRow>();
  for (const m of posted) {
    if (m.type === 'init') {
      rows.clear();
      for (const r of m.rows) rows.set(r.runDir, r);
    } else if (m.type === 'rows') {
      for (const d of m.remove) rows.delete(d);
      for (const r of m.upsert) rows.set(r.runDir, r);
    }
  }
  return rows;
}
