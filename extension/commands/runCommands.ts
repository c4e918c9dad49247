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

/**
 * Before a config runs or is queued: save it, and refuse while the editor shows errors in it
 * (the runner would refuse too; this says so where the user looks). Returns whether it may go.
 */
export async function readyToRun(uri: vscode.Uri, what: 'run' | 'queued'): Promise<boolean> {
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (doc?.isDirty) await doc.save();
  const errors = vscode.languages
    .getDiagnostics(uri)
    .filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
  if (errors.length === 0) return true;
  void vscode.window
    .showErrorMessage(
      `Anneal KD: ${vscode.workspace.asRelativePath(uri)} has ${errors.length} problem${errors.length === 1 ? '' : 's'} (first: ${errors[0].message}); nothing was ${what}.`,
      'Show Problems',
    )
    .then((choice) =>
      choice ? vscode.commands.executeCommand('workbench.actions.view.problems') : undefined,
    );
  return false;
}

/** Said when a run went to the queue (the Runs view shows it under its config). */
export function reportQueued(ctx: Ctx, queued: { position: number }, what: string): void {
  const s = ctx.settings();
  void vscode.window.showInformationMessage(
    `Anneal KD: ${what} queued at position ${queued.position}: ${s.queueAutoStart ? `it starts when fewer than ${s.maxConcurrentRuns} runs are going (annealKd.maxConcurrentRuns)` : 'annealKd.queue.autoStart is off, so akd queue start runs it'}.`,
  );
}

/**
 * Run Experiment: starts the run, or, when annealKd.maxConcurrentRuns runs are going, queues it
 * (it starts when a slot frees). Returns the run folder, or `{queued}` with the entry.
 */
export function runExperiment(ctx: Ctx) {
  return async (
    arg?: unknown,
  ): Promise<string | { queued: { root: string; id: string; position: number } } | undefined> => {
    const uri = configFrom(arg);
    if (!uri) {
      void vscode.window.showErrorMessage('Anneal KD: open or select a *.akd.json config to run.');
      return undefined;
    }
    try {
      ctx.runs.assertCanStart('Run Experiment', { slots: false });
      if (!(await readyToRun(uri, 'run'))) return undefined;
      const outcome = await ctx.runs.startOrQueue(uri.fsPath);
      if ('started' in outcome) return outcome.started;
      reportQueued(ctx, outcome.queued, vscode.workspace.asRelativePath(uri));
      return outcome;
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
