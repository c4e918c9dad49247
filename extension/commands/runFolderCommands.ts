/** Show Run Log, Reveal Run Folder, Delete Run: commands on a run's folder. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { runLogUri } from '../views/runLogDocument';
import { isActive, RUN_FILES, type RunState } from '../../runner/protocol';
import { runDirFrom, runFromArgOrPick } from './args';
import { reportRefusal } from './runCommands';

export function showRunLog(ctx: Ctx) {
  return async (arg?: unknown): Promise<vscode.TextEditor | undefined> => {
    const run = await runFromArgOrPick(ctx, arg, () => true, 'Show the log of which run?');
    if (!run) {
      ctx.log.show(true);
      return undefined;
    }
    const doc = await vscode.workspace.openTextDocument(runLogUri(run.runDir));
    return vscode.window.showTextDocument(doc, { preview: true });
  };
}

export function revealRunFolder(ctx: Ctx) {
  return async (arg?: unknown): Promise<void> => {
    const run = await runFromArgOrPick(ctx, arg, () => true, 'Reveal which run folder?');
    if (!run) return;
    // The explorer works everywhere (desktop, remote, code-server); the OS file manager does not.
    await vscode.commands.executeCommand(
      'revealInExplorer',
      vscode.Uri.file(path.join(run.runDir, RUN_FILES.events)),
    );
  };
}

/**
 * Delete Run: the run named (or picked), or every run selected in the Runs view (the view passes
 * the selection as the second argument). Runs still going are left out and said so. Optional
 * last argument for tests and scripts: `{ confirm: false }` skips the modal question.
 */
export function deleteRun(ctx: Ctx) {
  return async (arg?: unknown, second?: unknown, third?: { confirm?: boolean }): Promise<boolean> => {
    // From the view: (node, selection); from tests and scripts: (run, options) or (node, selection, options).
    const options = Array.isArray(second) ? third : (second as { confirm?: boolean } | undefined);
    const selected = Array.isArray(second) && second.length > 1 ? second : undefined;
    let runs: RunState[];
    if (selected) {
      runs = selected
        .map((n) => runDirFrom(n))
        .filter((d): d is string => d !== undefined)
        .map((d) => ctx.runs.get(d) ?? { runId: path.basename(d), runDir: d, status: 'unknown' as const });
    } else {
      const run = await runFromArgOrPick(ctx, arg, (r) => !isActive(r.status), 'Delete which run?');
      runs = run ? [run] : [];
    }
    const going = runs.filter((r) => isActive(r.status));
    runs = runs.filter((r) => !isActive(r.status));
    if (going.length > 0)
      void vscode.window.showWarningMessage(
        `Anneal KD: ${going.length} selected run${going.length === 1 ? ' is' : 's are'} still going and ${going.length === 1 ? 'was' : 'were'} left out; stop ${going.length === 1 ? 'it' : 'them'} first.`,
      );
    if (runs.length === 0) return false;
    if (options?.confirm !== false) {
      const starred = runs.filter((r) => r.starred).length;
      const answer = await vscode.window.showWarningMessage(
        runs.length === 1
          ? `Delete run ${runs[0].runId}? Its folder (models, checkpoints, events) is removed from disk.`
          : `Delete ${runs.length} runs? Their folders (models, checkpoints, events) are removed from disk.`,
        {
          modal: true,
          detail: [
            ...runs.slice(0, 12).map((r) => `${r.starred ? '★ ' : ''}${r.runId} (${r.status})`),
            ...(runs.length > 12 ? [`… and ${runs.length - 12} more`] : []),
            ...(starred > 0 ? [`${starred} of them starred.`] : []),
          ].join('\n'),
        },
        'Delete',
      );
      if (answer !== 'Delete') return false;
    }
    try {
      for (const r of runs) await ctx.runs.delete(r.runDir);
      return true;
    } catch (e) {
      reportRefusal(e);
      return false;
    }
  };
}
