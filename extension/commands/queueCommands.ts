/** Queue Experiment, Cancel Queued Run, Move Up / Move Down: thin commands over the run queue (`akd queue`). */
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { QueuedItem } from '../runs/runManager';
import { configFrom } from './args';
import { readyToRun, reportQueued, reportRefusal } from './runCommands';

/** A queued entry named by a tree node or `{root, id}`. */
function queuedFrom(ctx: Ctx, arg: unknown): QueuedItem | undefined {
  const r = typeof arg === 'object' && arg !== null ? (arg as { root?: unknown; id?: unknown }) : undefined;
  if (typeof r?.root !== 'string' || typeof r.id !== 'string') return undefined;
  return ctx.runs.queue.find(r.root, r.id);
}

/** Queue Experiment: `akd queue add CONFIG` (the window starts it when a slot frees). */
export function queueExperiment(ctx: Ctx) {
  return async (arg?: unknown): Promise<{ root: string; id: string; position: number } | undefined> => {
    const uri = configFrom(arg);
    if (!uri) {
      void vscode.window.showErrorMessage('Anneal KD: open or select a *.akd.json config to queue.');
      return undefined;
    }
    try {
      ctx.runs.assertCanStart('Queue Experiment', { slots: false });
      if (!(await readyToRun(uri, 'queued'))) return undefined;
      const queued = await ctx.runs.enqueue(uri.fsPath);
      reportQueued(ctx, queued, vscode.workspace.asRelativePath(uri));
      return queued;
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

export function cancelQueued(ctx: Ctx) {
  return async (arg?: unknown, more?: unknown[]): Promise<boolean> => {
    const items = (Array.isArray(more) && more.length > 0 ? more : [arg])
      .map((a) => queuedFrom(ctx, a))
      .filter((q): q is QueuedItem => q !== undefined);
    if (items.length === 0) return false;
    try {
      for (const q of items) await ctx.runs.queue.remove(q.root, q.entry.id);
      return true;
    } catch (e) {
      reportRefusal(e);
      return false;
    }
  };
}

function move(ctx: Ctx, to: 'up' | 'down') {
  return async (arg?: unknown): Promise<boolean> => {
    const q = queuedFrom(ctx, arg);
    if (!q) return false;
    try {
      await ctx.runs.queue.move(q.root, q.entry.id, to);
      return true;
    } catch (e) {
      reportRefusal(e);
      return false;
    }
  };
}

export function moveQueuedUp(ctx: Ctx) {
  return move(ctx, 'up');
}

export function moveQueuedDown(ctx: Ctx) {
  return move(ctx, 'down');
}
