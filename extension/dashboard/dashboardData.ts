/**
 * What the dashboard lists and follows, read from disk: the runs and sweeps to pick from, the
 * default comparison, and progress thinning. The comparison itself comes from `akd compare
 * --json` (RunManager.compare). No webview code here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  akdDirBeside,
  isSweepDir,
  readManifest,
  timeOfRunId,
  type RunEvent,
  type RunState,
} from '../../runner/protocol';
import type { RunListItem } from '../../webview/messages';

export function runLabel(run: Pick<RunState, 'runId' | 'name'>): string {
  return `${run.name ?? run.runId} ${timeOfRunId(run.runId)}`;
}

/** Sweep folders (`.akd/sweeps/*` beside each config). */
export function findSweeps(configPaths: readonly string[]): string[] {
  const roots = new Set(configPaths.map((c) => akdDirBeside(c, 'sweeps')));
  const out: string[] = [];
  for (const root of roots) {
    let names: string[];
    try {
      names = fs.readdirSync(root).sort();
    } catch {
      continue;
    }
    for (const n of names) if (isSweepDir(path.join(root, n))) out.push(path.join(root, n));
  }
  return out;
}

export function runList(runs: readonly RunState[], sweeps: readonly string[]): RunListItem[] {
  const items: RunListItem[] = runs.map((r) => ({
    kind: 'run',
    dir: r.runDir,
    label: runLabel(r),
    status: r.status,
    ...(r.method ? { method: r.method } : {}),
    ...(r.configPath ? { configPath: r.configPath } : {}),
    studentAccuracy: r.summary?.student.testAccuracy ?? null,
  }));
  for (const dir of sweeps) {
    try {
      const m = readManifest(dir);
      items.push({
        kind: 'sweep',
        dir,
        label: m.name,
        status: `${m.members.length} runs`,
        configPath: m.configPath,
      });
    } catch {
      /* a sweep being created: next time */
    }
  }
  return items;
}

/** The default comparison: the newest completed runs (at most six). */
export function defaultComparison(runs: readonly RunState[]): string[] {
  return runs
    .filter((r) => r.status === 'completed')
    .slice(0, 6)
    .map((r) => r.runDir);
}

/** Progress events are many and only the throughput chart uses them: keep one in `every`. */
export function thinProgress(events: RunEvent[], max = 4000): RunEvent[] {
  const progress = events.filter((e) => e.type === 'progress').length;
  if (progress <= max) return events;
  const every = Math.ceil(progress / max);
  let i = 0;
  return events.filter((e) => e.type !== 'progress' || i++ % every === 0);
}
