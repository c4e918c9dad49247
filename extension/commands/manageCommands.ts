/**
 * Managing many runs: Star / Unstar Run and Edit Note (a run's meta.json, through `akd
 * star|unstar|note`), Delete Sweep, and Clean Up Runs… (`akd gc`: the dry run shown first).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { GcReport } from '../runs/runManager';
import type { RunState } from '../../runner/protocol';
import { runDirFrom, runFromArgOrPick } from './args';
import { reportRefusal } from './runCommands';

/** The runs a command is for: the tree's selection when several are selected, else the one named or picked. */
async function runsFrom(
  ctx: Ctx,
  arg: unknown,
  more: unknown,
  accept: (r: RunState) => boolean,
  placeHolder: string,
): Promise<RunState[]> {
  if (Array.isArray(more) && more.length > 1)
    return more
      .map((n) => runDirFrom(n))
      .filter((d): d is string => d !== undefined)
      .map((d) => ctx.runs.get(d))
      .filter((r): r is RunState => r !== undefined);
  const run = await runFromArgOrPick(ctx, arg, accept, placeHolder);
  return run ? [run] : [];
}

function star(ctx: Ctx, starred: boolean) {
  return async (arg?: unknown, more?: unknown): Promise<boolean> => {
    const runs = await runsFrom(
      ctx,
      arg,
      more,
      (r) => !r.starred === starred,
      starred ? 'Star which run?' : 'Unstar which run?',
    );
    if (runs.length === 0) return false;
    try {
      await ctx.runs.setStarred(
        runs.map((r) => r.runDir),
        starred,
      );
      return true;
    } catch (e) {
      reportRefusal(e);
      return false;
    }
  };
}

export function starRun(ctx: Ctx) {
  return star(ctx, true);
}

export function unstarRun(ctx: Ctx) {
  return star(ctx, false);
}

/** Optional second argument for tests and scripts: `{ note }` skips the input box. */
export function editRunNote(ctx: Ctx) {
  return async (arg?: unknown, options?: { note?: string }): Promise<string | undefined> => {
    const run = await runFromArgOrPick(ctx, arg, () => true, 'Note on which run?');
    if (!run) return undefined;
    const note =
      typeof options?.note === 'string'
        ? options.note
        : await vscode.window.showInputBox({
            title: `Note on ${run.name ?? run.runId} (${run.runId})`,
            value: ctx.runs.get(run.runDir)?.note ?? '',
            prompt:
              'Kept in the run folder (meta.json); shown in the Runs view and akd list. Empty: no note.',
          });
    if (note === undefined) return undefined;
    try {
      await ctx.runs.setNote(run.runDir, note);
      return note.trim();
    } catch (e) {
      reportRefusal(e);
      return undefined;
    }
  };
}

function sweepDirFrom(arg: unknown): string | undefined {
  if (typeof arg === 'object' && arg !== null && typeof (arg as { sweepDir?: unknown }).sweepDir === 'string')
    return (arg as { sweepDir: string }).sweepDir;
  return typeof arg === 'string' ? arg : undefined;
}

/** Delete Sweep: the sweep folder with every member. Optional second argument: `{ confirm: false }`. */
export function deleteSweep(ctx: Ctx) {
  return async (arg?: unknown, options?: { confirm?: boolean }): Promise<boolean> => {
    const sweepDir = sweepDirFrom(arg);
    const sweep = sweepDir ? ctx.runs.getSweep(sweepDir) : undefined;
    if (!sweep) return false;
    if (options?.confirm !== false) {
      const members = ctx.runs.membersOf(sweep).filter((m) => m !== undefined);
      const starred = members.filter((m) => m?.starred).length;
      const answer = await vscode.window.showWarningMessage(
        `Delete sweep ${sweep.name} (${sweep.sweepId})? Its folder and the ${members.length} member run${members.length === 1 ? '' : 's'} in it are removed from disk.`,
        { modal: true, ...(starred > 0 ? { detail: `${starred} of its runs are starred.` } : {}) },
        'Delete',
      );
      if (answer !== 'Delete') return false;
    }
    try {
      await ctx.runs.deleteSweep(sweep.sweepDir);
      return true;
    } catch (e) {
      reportRefusal(e);
      return false;
    }
  };
}

function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** "checkpoints of 3 completed runs (412 MB), 1 teacher cache (9.5 MB)". */
export function gcSummary(report: Pick<GcReport, 'totals'>): string {
  const t = report.totals;
  const parts: string[] = [];
  if (t.completed.count)
    parts.push(
      `checkpoints of ${t.completed.count} completed run${t.completed.count === 1 ? '' : 's'} (${formatBytes(t.completed.bytes)})`,
    );
  if (t.failed.count)
    parts.push(
      `checkpoints of ${t.failed.count} failed run${t.failed.count === 1 ? '' : 's'} (${formatBytes(t.failed.bytes)})`,
    );
  if (t.teacher.count)
    parts.push(
      `${t.teacher.count} unused teacher cache${t.teacher.count === 1 ? '' : 's'} (${formatBytes(t.teacher.bytes)})`,
    );
  return parts.join(', ');
}

/**
 * Clean Up Runs…: `akd gc --dry-run` over every workspace folder, shown first (what would go, how
 * much, what stays and why); only then `akd gc`. Optional argument for tests and scripts:
 * `{ confirm: false, failed?: boolean }` cleans without asking.
 */
export function cleanUpRuns(ctx: Ctx) {
  return async (options?: { confirm?: boolean; failed?: boolean }): Promise<GcReport[] | undefined> => {
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    if (roots.length === 0) return undefined;
    try {
      ctx.runs.assertCanStart('Clean Up Runs', { slots: false });
      let failed = options?.failed === true;
      const plan = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: 'Anneal KD: looking for space to free (akd gc --dry-run)…',
        },
        () => Promise.all(roots.map((r) => ctx.runs.gc(r, { dryRun: true, failed: true }))),
      );
      const removable = (withFailed: boolean): GcReport['totals'] => {
        const sum = {
          completed: { count: 0, bytes: 0 },
          failed: { count: 0, bytes: 0 },
          teacher: { count: 0, bytes: 0 },
        };
        for (const p of plan)
          for (const k of ['completed', 'failed', 'teacher'] as const)
            if (k !== 'failed' || withFailed) {
              sum[k].count += p.totals[k].count;
              sum[k].bytes += p.totals[k].bytes;
            }
        return sum;
      };
      const kept = plan.flatMap((p) => p.kept);
      if (options?.confirm !== false) {
        const nothing = removable(true);
        if (nothing.completed.count + nothing.failed.count + nothing.teacher.count === 0) {
          void vscode.window.showInformationMessage(
            `Anneal KD: nothing to clean up${kept.length ? ` (${kept.length} runs and caches are kept: running, queued, resumable or starred)` : ''}.`,
          );
          return plan;
        }
        const reasons = new Map<string, number>();
        for (const k of kept) reasons.set(k.reason, (reasons.get(k.reason) ?? 0) + 1);
        const withoutFailed = gcSummary({ totals: removable(false) });
        const choices = [
          ...(withoutFailed ? ['Clean Up'] : []),
          ...(removable(true).failed.count > 0 ? ['Clean Up, Failed Runs Too'] : []),
        ];
        const answer = await vscode.window.showWarningMessage(
          `Remove ${withoutFailed || "nothing but failed runs' checkpoints"}?`,
          {
            modal: true,
            detail: [
              'Summaries, events, configs and final models stay; a starred run is never touched.',
              ...(removable(true).failed.count > 0
                ? [
                    `Failed runs (resumable): ${gcSummary({ totals: { ...removable(true), completed: { count: 0, bytes: 0 }, teacher: { count: 0, bytes: 0 } } })}.`,
                  ]
                : []),
              ...(reasons.size > 0 ? [`Kept: ${[...reasons].map(([r, n]) => `${n} ${r}`).join('; ')}.`] : []),
            ].join('\n'),
          },
          ...choices,
        );
        if (!answer) return undefined;
        failed = answer === 'Clean Up, Failed Runs Too';
      }
      const done = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Anneal KD: cleaning up runs (akd gc)…' },
        () => Promise.all(roots.map((r) => ctx.runs.gc(r, { dryRun: false, failed }))),
      );
      const freed = done.reduce((s, d) => s + d.removed.reduce((t, i) => t + i.bytes, 0), 0);
      const errors = done.flatMap((d) => d.errors);
      void (errors.length > 0 ? vscode.window.showWarningMessage : vscode.window.showInformationMessage)(
        `Anneal KD: freed ${formatBytes(freed)}${errors.length ? `; ${errors.length} could not be removed (${errors[0]})` : ''}.`,
      );
      ctx.log.info(
        `clean up: ${done.map((d, i) => `${path.basename(roots[i])}: ${gcSummary(d) || 'nothing'}`).join('; ')}`,
      );
      return done;
    } catch (e) {
      reportRefusal(e);
      return undefined;
    }
  };
}
