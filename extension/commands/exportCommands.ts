/**
 * Export Student…: a completed run's student as ONNX (fp32 or int8) through `akd export`, with
 * its steps in a progress notification and the verification's result in a notification; the
 * runner records it in the run's summary.json and events (the dashboard's summary lists it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportRecord } from '../../runner/protocol';
import type { Ctx } from '../context';
import { exportArgs, startExport, type ExportChoice, type ExportOutcome } from '../runs/exportProcess';
import { runFromArgOrPick } from './args';
import { reportRefusal } from './runCommands';

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const kB = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`;

/** The notification for a written file: size, precision and what the runtime measured. */
export function exportResultText(r: ExportRecord): string {
  const v = r.verification;
  const q = r.quantization;
  return (
    `Anneal KD: exported ${path.basename(r.file)} (${kB(r.bytes)}, ${r.precision}` +
    (q ? `, ${q.sizeRatio.toFixed(2)}× the fp32 size` : '') +
    `): test accuracy ${pct(v.testAccuracy)} in ${v.runtime}` +
    (q
      ? ` vs ${pct(q.fp32TestAccuracy)} fp32 (${q.accuracyDropPoints >= 0 ? '−' : '+'}${Math.abs(q.accuracyDropPoints).toFixed(2)} points)`
      : ` vs ${pct(v.referenceAccuracy)} in TF.js, logits within ${v.maxLogitDiffRelative.toExponential(1)}`) +
    '; verified.'
  );
}

/** Asks for the precision and the file unless the caller (a test, a script) gives them. */
async function choose(runDir: string, given?: Partial<ExportChoice>): Promise<ExportChoice | undefined> {
  let precision = given?.precision;
  if (!precision) {
    const picked = await vscode.window.showQuickPick(
      [
        {
          label: 'ONNX, float32',
          description: 'the trained weights as they are',
          detail: 'Checked in ONNX Runtime: test accuracy within 0.1 point of the run, logits within 1e-4.',
          precision: 'fp32' as const,
        },
        {
          label: 'ONNX, int8 (static)',
          description: 'about a quarter of the size',
          detail:
            'Weights int8, activations calibrated on 500 training images; checked: at most 1.5 points below float32.',
          precision: 'int8' as const,
        },
      ],
      { placeHolder: 'Export the student as' },
    );
    if (!picked) return undefined;
    precision = picked.precision;
  }
  let out = given?.out;
  if (out === undefined) {
    // The default folder must exist for the save dialog to accept it (akd would create it too).
    const folder = path.join(runDir, 'export');
    const made = !fs.existsSync(folder);
    fs.mkdirSync(folder, { recursive: true });
    const uri = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(folder, `student${precision === 'int8' ? '.int8' : ''}.onnx`)),
      filters: { 'ONNX model': ['onnx'] },
      title: 'Export the student to',
    });
    if (!uri) {
      if (made) fs.rmSync(folder, { recursive: true, force: true });
      return undefined;
    }
    out = uri.fsPath;
  }
  return { precision, out };
}

/** Optional second argument for tests and scripts: `{ precision, out }` skips the questions. */
export function exportStudent(ctx: Ctx) {
  return async (arg?: unknown, given?: Partial<ExportChoice>): Promise<ExportOutcome | undefined> => {
    const run = await runFromArgOrPick(
      ctx,
      arg,
      (r) => r.status === 'completed',
      'Export the student of which run?',
    );
    if (!run) return undefined;
    const choice = await choose(run.runDir, given);
    if (!choice) return undefined;
    let command;
    try {
      command = ctx.runs.exportCommand(run.runDir, exportArgs(run.runDir, choice));
    } catch (e) {
      return reportRefusal(e);
    }
    const name = run.name ?? run.runId;
    const outcome = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Anneal KD: exporting the student of ${name} (${choice.precision})`,
        cancellable: true,
      },
      (progress, token) => {
        const job = startExport(
          command,
          (step, message) => {
            progress.report({ message });
            ctx.log.info(`[${run.runId} export] ${step}: ${message}`);
          },
          (line) => ctx.log.info(`[${run.runId} export] ${line}`),
        );
        token.onCancellationRequested(() => job.cancel());
        return job.outcome;
      },
    );
    if (outcome.ok) {
      const file = path.isAbsolute(outcome.record.file)
        ? outcome.record.file
        : path.join(run.runDir, outcome.record.file);
      void vscode.window
        .showInformationMessage(exportResultText(outcome.record), 'Reveal in Explorer')
        .then((choice) =>
          choice ? vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(file)) : undefined,
        );
    } else if (!outcome.cancelled) {
      void vscode.window.showErrorMessage(`Anneal KD: Export Student failed: ${outcome.error}`);
    }
    return outcome;
  };
}
