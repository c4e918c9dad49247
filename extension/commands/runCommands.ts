/** Run Experiment, Stop Run, Resume Run: thin commands over the run manager. */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { RunRefusedError } from '../runs/runManager';
import { isActive, type RunState } from '../../runner/protocol';
import { configFrom, runFromArgOrPick } from './args';

/**
 * Show a refusal (untrusted, too many runs, invalid config) without waiting for the user to
 * dismiss it (the command returns at once); rethrow anything else.
 */
export function reportRefusal(error: unknown): undefined {
  if (!(error instanceof RunRefusedError)) throw error;
  const untrusted = !vscode.workspace.isTrusted && /not trusted/.test(error.message);
  void vscode.window
    .showWarningMessage(`Anneal KD: ${error.message}`, ...(untrusted ? ['Manage Workspace Trust'] : []))
    .then((choice) =>
      choice === 'Manage Workspace Trust'
        ? vscode.commands.executeCommand('workbench.trust.manage')
        : undefined,
    );
  return undefined;
}

export function runExperiment(ctx: Ctx) {
  return async (arg?: unknown): Promise<string | undefined> => {
    const uri = configFrom(arg);
    if (!uri) {
      void vscode.window.showErrorMessage('Anneal KD: open or select a *.akd.json config to run.');
      return undefined;
    }
    try {
      ctx.runs.assertCanStart('Run Experiment');
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (doc?.isDirty) await doc.save();
      const errors = vscode.languages
        .getDiagnostics(uri)
        .filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
      if (errors.length > 0) {
        void vscode.window
          .showErrorMessage(
            `Anneal KD: ${vscode.workspace.asRelativePath(uri)} has ${errors.length} problem${errors.length === 1 ? '' : 's'} (first: ${errors[0].message}); nothing was run.`,
            'Show Problems',
          )
          .then((choice) =>
            choice ? vscode.commands.executeCommand('workbench.actions.view.problems') : undefined,
          );
        return undefined;
      }
      return await ctx.runs.start(uri.fsPath);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

export function stopRun(ctx: Ctx) {
  return async (arg?: unknown): Promise<RunState | undefined> => {
    // No argument in a config's editor (the Stop keybinding): that config's run.
    const editor = vscode.window.activeTextEditor?.document.uri.fsPath;
    const own =
      arg === undefined && editor?.endsWith('.akd.json')
        ? ctx.runs.runsOf(editor).find((r) => isActive(r.status))
        : undefined;
    const run = own ?? (await runFromArgOrPick(ctx, arg, (r) => isActive(r.status), 'Stop which run?'));
    if (!run) {
      await ctx.runs.stopPending();
      return undefined;
    }
    try {
      return await ctx.runs.stop(run.runDir);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

export function resumeRun(ctx: Ctx) {
  return async (arg?: unknown): Promise<string | undefined> => {
    const run = await runFromArgOrPick(
      ctx,
      arg,
      (r) => ['cancelled', 'failed', 'interrupted'].includes(r.status),
      'Resume which run?',
    );
    if (!run) return undefined;
    try {
      return await ctx.runs.resume(run.runDir);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}
