/** Every contributed command, registered from its small factory. Ids match package.json. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { DashboardPanel } from '../dashboard/dashboardPanel';
import type { ExperimentsPanel } from '../experiments/experimentsPanel';
import { runDirFrom } from './args';
import { newExperiment } from './newExperiment';
import { resumeRun, runExperiment, stopRun } from './runCommands';
import { deleteRun, revealRunFolder, showRunLog } from './runFolderCommands';
import { cleanUpRuns, deleteSweep, editRunNote, starRun, unstarRun } from './manageCommands';
import { modifyAndQueue, modifyAndRun } from './modifyCommands';
import { cancelQueued, moveQueuedDown, moveQueuedUp, queueExperiment } from './queueCommands';
import { cancelSlurmJob, compareSweep, resumeSweep, runSweep, stopSweep } from './sweepCommands';
import { openExample } from '../walkthrough';
import { exportStudent } from './exportCommands';

export const COMMAND_IDS = [
  'annealKd.newExperiment',
  'annealKd.runExperiment',
  'annealKd.stopRun',
  'annealKd.resumeRun',
  'annealKd.openDashboard',
  'annealKd.showRunLog',
  'annealKd.deleteRun',
  'annealKd.revealRunFolder',
  'annealKd.refreshRuns',
  'annealKd.runSweep',
  'annealKd.stopSweep',
  'annealKd.resumeSweep',
  'annealKd.compareSweep',
  'annealKd.cancelSlurmJob',
  'annealKd.queueExperiment',
  'annealKd.cancelQueued',
  'annealKd.moveQueuedUp',
  'annealKd.moveQueuedDown',
  'annealKd.modifyAndRun',
  'annealKd.modifyAndQueue',
  'annealKd.starRun',
  'annealKd.unstarRun',
  'annealKd.editRunNote',
  'annealKd.deleteSweep',
  'annealKd.cleanUpRuns',
  'annealKd.showExperiments',
  'annealKd.openExample',
  'annealKd.exportStudent',
] as const;

function openDashboard(dashboard: DashboardPanel) {
  return (arg?: unknown): boolean => {
    // No argument: the panel chooses (a run that trains, else the run it shows, else the first).
    dashboard.show(runDirFrom(arg));
    return true;
  };
}

/**
 * The experiments table; from a config (CodeLens, editor or explorer menu) it opens filtered to
 * that config's name.
 */
function showExperiments(experiments: ExperimentsPanel) {
  return (arg?: unknown): boolean => {
    const config =
      arg instanceof vscode.Uri
        ? arg.fsPath
        : typeof arg === 'string' && arg.endsWith('.akd.json')
          ? arg
          : undefined;
    experiments.show(config ? path.basename(config).replace(/\.akd\.json$/, '') : undefined);
    return true;
  };
}

export function registerCommands(ctx: Ctx, dashboard: DashboardPanel, experiments: ExperimentsPanel): void {
  const factories: Record<(typeof COMMAND_IDS)[number], (...args: never[]) => unknown> = {
    'annealKd.newExperiment': newExperiment(),
    'annealKd.runExperiment': runExperiment(ctx),
    'annealKd.stopRun': stopRun(ctx),
    'annealKd.resumeRun': resumeRun(ctx),
    'annealKd.openDashboard': openDashboard(dashboard),
    'annealKd.showRunLog': showRunLog(ctx),
    'annealKd.deleteRun': deleteRun(ctx),
    'annealKd.revealRunFolder': revealRunFolder(ctx),
    'annealKd.refreshRuns': () => ctx.runs.refresh(),
    'annealKd.runSweep': runSweep(ctx),
    'annealKd.stopSweep': stopSweep(ctx),
    'annealKd.resumeSweep': resumeSweep(ctx),
    'annealKd.compareSweep': compareSweep(ctx),
    'annealKd.cancelSlurmJob': cancelSlurmJob(ctx),
    'annealKd.queueExperiment': queueExperiment(ctx),
    'annealKd.cancelQueued': cancelQueued(ctx),
    'annealKd.moveQueuedUp': moveQueuedUp(ctx),
    'annealKd.moveQueuedDown': moveQueuedDown(ctx),
    'annealKd.modifyAndRun': modifyAndRun(ctx),
    'annealKd.modifyAndQueue': modifyAndQueue(ctx),
    'annealKd.starRun': starRun(ctx),
    'annealKd.unstarRun': unstarRun(ctx),
    'annealKd.editRunNote': editRunNote(ctx),
    'annealKd.deleteSweep': deleteSweep(ctx),
    'annealKd.cleanUpRuns': cleanUpRuns(ctx),
    'annealKd.showExperiments': showExperiments(experiments),
    'annealKd.openExample': openExample(ctx.runs),
    'annealKd.exportStudent': exportStudent(ctx),
  };
  for (const [id, handler] of Object.entries(factories)) {
    ctx.push(vscode.commands.registerCommand(id, handler as (...args: unknown[]) => unknown));
  }
}
