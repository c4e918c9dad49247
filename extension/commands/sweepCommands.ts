/**
 * Run Sweep, Stop Sweep, Resume Sweep, Compare, and Cancel Slurm Job: thin commands over the run
 * manager (which spawns `akd sweep`, `akd resume SWEEP_DIR`, `akd stop`, `akd compare`).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { isActive, type RunState, type SweepDisplayStatus, type SweepState } from '../../runner/protocol';
import { configHasSweep } from '../views/runsTree';
import { configFrom, runDirFrom, runFromArgOrPick } from './args';
import { reportRefusal } from './runCommands';

function sweepDirFrom(arg: unknown): string | undefined {
  if (typeof arg === 'object' && arg !== null && typeof (arg as { sweepDir?: unknown }).sweepDir === 'string')
    return (arg as { sweepDir: string }).sweepDir;
  return runDirFrom(arg);
}

/** The sweep named by the argument (a tree node, a folder), or one the user picks. */
async function sweepFromArgOrPick(
  ctx: Ctx,
  arg: unknown,
  accept: (s: SweepState) => boolean,
  placeHolder: string,
): Promise<SweepState | undefined> {
  const given = sweepDirFrom(arg);
  if (given) {
    const known = ctx.runs.getSweep(given);
    if (known) return known;
    await ctx.runs.refresh();
    return ctx.runs.getSweep(given);
  }
  const candidates = ctx.runs.allSweeps().filter(accept);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(
      `Anneal KD: no sweep to choose from (${placeHolder.toLowerCase()}).`,
    );
    return undefined;
  }
  if (candidates.length === 1) return candidates[0];
  const picked = await vscode.window.showQuickPick(
    candidates.map((s) => ({
      label: `${s.name}  ${s.sweepId}`,
      description: ctx.runs.sweepStatus(s.sweepDir),
      detail: s.sweepDir,
      sweep: s,
    })),
    { placeHolder },
  );
  return picked?.sweep;
}

export function runSweep(ctx: Ctx) {
  return async (arg?: unknown): Promise<string | undefined> => {
    const uri = configFrom(arg);
    if (!uri) {
      void vscode.window.showErrorMessage(
        'Anneal KD: open or select a *.akd.json config with a "sweep" block to run it as a sweep.',
      );
      return undefined;
    }
    try {
      ctx.runs.assertCanStart('Run Sweep');
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      if (doc?.isDirty) await doc.save();
      if (!configHasSweep(uri.fsPath)) {
        void vscode.window.showErrorMessage(
          `Anneal KD: ${vscode.workspace.asRelativePath(uri)} has no "sweep" block; nothing to sweep (Run Experiment runs it once).`,
        );
        return undefined;
      }
      const errors = vscode.languages
        .getDiagnostics(uri)
        .filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
      if (errors.length > 0) {
        void vscode.window.showErrorMessage(
          `Anneal KD: ${vscode.workspace.asRelativePath(uri)} has ${errors.length} problem${errors.length === 1 ? '' : 's'} (first: ${errors[0].message}); nothing was run.`,
        );
        return undefined;
      }
      return await ctx.runs.startSweep(uri.fsPath);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

export function stopSweep(ctx: Ctx) {
  return async (arg?: unknown): Promise<SweepDisplayStatus | undefined> => {
    const sweep = await sweepFromArgOrPick(
      ctx,
      arg,
      (s) => ctx.runs.sweepStatus(s.sweepDir) === 'running',
      'Stop which sweep?',
    );
    if (!sweep) return undefined;
    try {
      return await ctx.runs.stopSweep(sweep.sweepDir);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

export function resumeSweep(ctx: Ctx) {
  return async (arg?: unknown): Promise<string | undefined> => {
    const sweep = await sweepFromArgOrPick(
      ctx,
      arg,
      (s) => ctx.runs.sweepStatus(s.sweepDir) === 'stopped',
      'Resume which sweep?',
    );
    if (!sweep) return undefined;
    try {
      return await ctx.runs.resumeSweep(sweep.sweepDir);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

/**
 * Compare: the dashboard's comparison view when the dashboard offers one (a registered
 * `annealKd.compareInDashboard` command taking the sweep folders), else `akd compare SWEEP_DIR
 * --md` and its Markdown, opened as a preview. Returns the Markdown file (or the folder handed to
 * the dashboard).
 */
export function compareSweep(ctx: Ctx) {
  return async (arg?: unknown): Promise<string | undefined> => {
    const sweep = await sweepFromArgOrPick(ctx, arg, () => true, 'Compare which sweep?');
    if (!sweep) return undefined;
    const commands = await vscode.commands.getCommands(true);
    if (commands.includes('annealKd.compareInDashboard')) {
      await vscode.commands.executeCommand('annealKd.compareInDashboard', [sweep.sweepDir]);
      return sweep.sweepDir;
    }
    try {
      const md = await ctx.runs.compareSweep(sweep.sweepDir);
      const uri = vscode.Uri.file(md);
      if (commands.includes('markdown.showPreview'))
        await vscode.commands.executeCommand('markdown.showPreview', uri);
      else await vscode.window.showTextDocument(uri, { preview: true });
      return md;
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

/** Cancel a Slurm run's job: `akd stop RUN` (scancel; the run checkpoints and ends cancelled). */
export function cancelSlurmJob(ctx: Ctx) {
  return async (arg?: unknown): Promise<RunState | undefined> => {
    const run = await runFromArgOrPick(
      ctx,
      arg,
      (r) => !!r.job && isActive(r.status),
      'Cancel which Slurm job?',
    );
    if (!run) return undefined;
    if (!run.job) {
      void vscode.window.showInformationMessage(
        `Anneal KD: ${path.basename(run.runDir)} is not a Slurm run; use Stop Run.`,
      );
      return undefined;
    }
    try {
      return await ctx.runs.stop(run.runDir);
    } catch (e) {
      return reportRefusal(e);
    }
  };
}
