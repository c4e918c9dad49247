/**
 * Show Run Log: a read-only document (`akd-run-log:` scheme) rendering a run's events.jsonl as
 * one human line per event. It is rebuilt from the file on each change, so it follows a run.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readEvents } from '../../runner/store/eventLog';
import { RUN_FILES } from '../../runner/store/runStore';
import type { RunEvent } from '../../runner/protocol';
import { formatAccuracy } from '../inline/resultFormat';
import type { RunManager } from '../runs/runManager';

export const RUN_LOG_SCHEME = 'akd-run-log';

export function runLogUri(runDir: string): vscode.Uri {
  return vscode.Uri.from({ scheme: RUN_LOG_SCHEME, path: `${runDir}/${path.basename(runDir)}.log` });
}

export function formatEvent(e: RunEvent): string {
  const time = e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  switch (e.type) {
    case 'run-started':
      return `${time}  started ${e.runId}: ${e.config.method.type}, backend ${e.backend}${e.backendNote ? ` (${e.backendNote})` : ''}, teacher ${e.teacher.type} ${e.teacher.params} params, student ${e.student.type} ${e.student.params} params, pid ${e.pid}${e.resumedFrom ? `, resumed at ${e.resumedFrom.phase} epoch ${e.resumedFrom.epoch}` : ''}`;
    case 'phase-started':
      return `${time}  phase ${e.phase}: ${e.epochs} epochs${e.temperature !== undefined ? `, T=${e.temperature}` : ''}${e.steps ? ` (step ${(e.step ?? 0) + 1}/${e.steps})` : ''}`;
    case 'epoch-ended':
      return `${time}  ${e.phase} epoch ${e.epoch}/${e.epochs}${e.temperature !== undefined ? ` T=${e.temperature}` : ''}: loss ${e.loss.toFixed(4)}, train ${formatAccuracy(e.trainAccuracy)}, val ${formatAccuracy(e.valAccuracy)}, ${Math.round(e.samplesPerSecond)} samples/s`;
    case 'progress':
      return `${time}  ${e.phase} epoch ${e.epoch}/${e.epochs} batch ${e.batch}/${e.batches}: loss ${e.loss.toFixed(4)}`;
    case 'checkpoint-saved':
      return `${time}  checkpoint (${e.reason}) ${e.model} → ${e.path}`;
    case 'run-completed':
      return `${time}  completed: student ${formatAccuracy(e.summary.student.testAccuracy)}, teacher ${formatAccuracy(e.summary.teacher.testAccuracy)}, ${e.summary.seconds.toFixed(0)} s`;
    case 'run-failed':
      return `${time}  FAILED: ${e.error.message}${e.error.stack ? `\n${e.error.stack}` : ''}`;
    case 'run-cancelled':
      return `${time}  cancelled (${e.signal})${e.position ? `, checkpoint at ${e.position.phase} epoch ${e.position.epoch} batch ${e.position.batch}` : ''}`;
    case 'log':
      return `${time}  [${e.level}] ${e.message}`;
    case 'job-submitted':
      return `${time}  submitted Slurm job ${e.jobId}${e.resume ? ' (resume)' : ''}${e.dependsOn?.length ? `, after ${e.dependsOn.join(', ')}` : ''}; output ${e.output}`;
    case 'job-state':
      return `${time}  Slurm job ${e.jobId}: ${e.state}${e.reason ? ` (${e.reason})` : ''}${e.node ? ` on ${e.node}` : ''}${e.exitCode ? `, exit ${e.exitCode}` : ''}`;
    case 'exported':
      return `${time}  exported the ${e.record.model} → ${e.record.file}: ${(e.record.bytes / 1000).toFixed(1)} kB ${e.record.precision}, test ${formatAccuracy(e.record.verification.testAccuracy)} in ${e.record.verification.runtime}`;
  }
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
