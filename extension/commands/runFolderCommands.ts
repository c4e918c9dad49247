/** Show Run Log, Reveal Run Folder, Delete Run: commands on a run's folder. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { runLogUri } from '../views/runLogDocument';
import { isActive, RUN_FILES } from '../../runner/protocol';
import { runFromArgOrPick } from './args';
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

/** Optional second argument for tests and scripts: `{ confirm: false }` skips the modal question. */
export function deleteRun(ctx: Ctx) {
  return async (arg?: unknown, options?: { confirm?: boolean }): Promise<boolean> => {
    const run = await runFromArgOrPick(ctx, arg, (r) => !isActive(r.status), 'Delete which run?');
    if (!run) return false;
    if (options?.confirm !== false) {
      const answer = await vscode.window.showWarningMessage(
        `Delete run ${run.runId}? Its folder (models, checkpoints, events) is removed from disk.`,
        { modal: true },
        'Delete',
      );
      if (answer !== 'Delete') return false;
    }
    try {
      await ctx.runs.delete(run.runDir);
      return true;
    } catch (e) {
      reportRefusal(e);
      return false;
    }
  };
}
