/**
 * What the dashboard shows, read from disk: a run's events (followed incrementally), the list of
 * runs and sweeps to pick from, and the comparison (runner/compare's collectRuns + groupRuns, the
 * same reading and statistics as `akd compare`). No webview code here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { collectRuns, groupRuns, type RunRow } from '../../runner/compare/collect';
import type { RunEvent } from '../../runner/protocol';
import { RUN_FILES, readRun } from '../../runner/store/runStore';
import { isSweepDir, readManifest } from '../../runner/sweep/manifest';
import { buildComparison, type ComparisonData, type ComparisonInput } from '../../webview/shaping/comparison';
import type { RunListItem } from '../../webview/messages';
import { EventFileReader } from '../runs/eventFileReader';
import type { RunState } from '../runs/runState';

/** "20261128-081502-tiny" -> "08:15:02". */
function timeOf(runId: string): string {
  const m = /^\d{8}-(\d{2})(\d{2})(\d{2})/.exec(runId);
  return m ? `${m[1]}:${m[2]}:${m[3]}` : runId;
}

export function runLabel(run: Pick<RunState, 'runId' | 'name'>): string {
  return `${run.name ?? run.runId} ${timeOf(run.runId)}`;
}

/** Sweep folders (`.akd/sweeps/*` beside each config). */
export function findSweeps(configPaths: readonly string[]): string[] {
  const roots = new Set(configPaths.map((c) => path.join(path.dirname(c), '.akd', 'sweeps')));
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

/** Follows one run's events.jsonl: everything at first, then what was appended. */
export class RunFollower {
  private readonly reader: EventFileReader;
  constructor(readonly runDir: string) {
    this.reader = new EventFileReader(path.join(runDir, RUN_FILES.events));
  }
  readNew(): RunEvent[] {
    return this.reader.readNew();
  }
}

export function comparisonOf(dirs: readonly string[]): ComparisonData {
  const errors: string[] = [];
  const ok = dirs.filter((d) => {
    if (fs.existsSync(path.join(d, RUN_FILES.events)) || isSweepDir(d)) return true;
    errors.push(`${path.basename(d)}: not a run or sweep folder`);
    return false;
  });
  let rows: RunRow[] = [];
  try {
    rows = collectRuns([...ok]);
  } catch (e) {
    errors.push(String((e as Error).message ?? e));
  }
  const inputs: ComparisonInput[] = rows.map((row) => {
    const record = readRun(row.runDir);
    const name = record.config?.name ?? row.runId;
    const label = row.sweep
      ? `${row.method}${Object.keys(row.variables).length ? ` ${JSON.stringify(row.variables)}` : ''}`
      : `${name} · ${row.method} · ${timeOf(row.runId)}`;
    return { row, events: record.events, ...(record.summary ? { summary: record.summary } : {}), label };
  });
  let groups: ReturnType<typeof groupRuns> = [];
  try {
    groups = groupRuns(rows);
  } catch (e) {
    // Runs of different evaluation protocols in one group: say so instead of averaging them.
    errors.push(String((e as Error).message ?? e));
  }
  return buildComparison(inputs, groups, errors);
}
