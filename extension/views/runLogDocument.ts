/**
 * Show Run Log: a read-only document (`akd-run-log:` scheme) rendering a run's events.jsonl as
 * one human line per event. It is rebuilt from the file on each change, so it follows a run.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describeEvent, readEvents, RUN_FILES, type RunEvent } from '../../runner/protocol';
import type { RunManager } from '../runs/runManager';

export const RUN_LOG_SCHEME = 'akd-run-log';

export function runLogUri(runDir: string): vscode.Uri {
  return vscode.Uri.from({ scheme: RUN_LOG_SCHEME, path: `${runDir}/${path.basename(runDir)}.log` });
}

/** One line per event (the runner's own words, accuracies to one decimal as elsewhere in the editor), after its time. */
export function formatEvent(e: RunEvent): string {
  const time = e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const stack = e.type === 'run-failed' && e.error.stack ? `\n${e.error.stack}` : '';
  return `${time}  ${describeEvent(e, { digits: 1, missing: '–' })}${stack}`;
}

export class RunLogDocumentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(runs: RunManager) {
    this.subscription = runs.onDidChange(() => {
      for (const doc of vscode.workspace.textDocuments)
        if (doc.uri.scheme === RUN_LOG_SCHEME) this.changed.fire(doc.uri);
    });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const runDir = path.dirname(uri.path);
    // Progress lines are per batch: keep the log to what a person reads.
    const events = readEvents(path.join(runDir, RUN_FILES.events)).filter((e) => e.type !== 'progress');
    return events.length ? events.map(formatEvent).join('\n') + '\n' : `No events yet in ${runDir}\n`;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
