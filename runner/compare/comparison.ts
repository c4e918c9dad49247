/**
 * The comparison the dashboard shows and `akd compare --json` prints (protocol/comparison.ts):
 * one row per run (final and best accuracy, sizes, duration, backend, its student curve) and,
 * for runs that repeat a setting (a sweep's seeds), mean ± std per method and setting. The rows,
 * the grouping and the statistics are `akd compare`'s own (collect.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ComparisonData, ComparisonGroup, ComparisonRun } from '../protocol/comparison';
import { recordedOverrides, type RunEvent, type RunSummary } from '../protocol/events';
import { metaFields, readRunMeta } from '../protocol/runMeta';
import { RUN_FILES } from '../protocol/files';
import { timeOfRunId } from '../protocol/format';
import { studentCurve, STUDENT_PHASES } from '../protocol/series';
import { isSweepDir } from '../protocol/sweepManifest';
import { readRun } from '../store/runStore';
import { collectRuns, groupRuns, type Group, type RunRow } from './collect';

export interface ComparisonInput {
  row: RunRow;
  events: readonly RunEvent[];
  summary?: RunSummary;
  /** Display name, e.g. the run's config name and method. */
  label: string;
}

const finite = (x: number | null | undefined): number | null =>
  typeof x === 'number' && Number.isFinite(x) ? x : null;

export function comparisonRun(input: ComparisonInput): ComparisonRun {
  const { row, events, summary } = input;
  const curve = studentCurve(events);
  const phaseBests = (summary?.phases ?? [])
    .filter((p) => STUDENT_PHASES.includes(p.phase))
    .map((p) => p.bestValAccuracy);
  const curveValues = curve.map((p) => p.y).filter((y): y is number => typeof y === 'number');
  const bests = phaseBests.length > 0 ? phaseBests : curveValues;
  const overrides = summary?.overrides ?? recordedOverrides(events);
  let backend: string | null = summary?.backend ?? null;
  for (const e of events) if (e.type === 'run-started') backend = e.backend;
  return {
    dir: row.runDir,
    runId: row.runId,
    label: input.label,
    method: row.method,
    status: row.status,
    backend,
    ...(row.sweep ? { sweep: row.sweep } : {}),
    seed: row.seed,
    finalAccuracy: finite(row.studentTest),
    bestAccuracy: bests.length > 0 ? Math.max(...bests) : null,
    studentParams: row.studentParams,
    teacherParams: row.teacherParams,
    seconds: row.seconds,
    curve,
    ...metaFields(readRunMeta(row.runDir)),
    ...(overrides ? { overrides } : {}),
  };
}

/** Groups (from groupRuns) as rows; only when some setting has several runs. */
export function comparisonGroups(groups: readonly Group[]): ComparisonGroup[] {
  if (!groups.some((g) => g.runs.length > 1)) return [];
  return groups.map((g) => ({
    label: g.label,
    method: g.method,
    n: g.test.n,
    mean: g.test.n > 0 ? finite(g.test.mean) : null,
    std: g.test.n > 0 ? finite(g.test.std) : null,
    best: g.test.n > 0 ? finite(g.test.best) : null,
    teacher: finite(g.teacherTest),
    studentParams: g.studentParams,
    seconds: g.seconds,
    incomplete: g.incomplete,
    values: g.runs
      .filter((r) => r.status === 'completed' && r.studentTest !== null && Number.isFinite(r.studentTest))
      .map((r) => r.studentTest as number),
  }));
}

export function buildComparison(
  inputs: readonly ComparisonInput[],
  groups: readonly Group[],
  errors: string[] = [],
): ComparisonData {
  return { runs: inputs.map(comparisonRun), groups: comparisonGroups(groups), errors };
}

/** Each row with its run's events, summary and label (a sweep member: its method and grid values). */
export function comparisonInputs(rows: readonly RunRow[]): ComparisonInput[] {
  return rows.map((row) => {
    const record = readRun(row.runDir);
    const name = record.config?.name ?? row.runId;
    const label = row.sweep
      ? `${row.method}${Object.keys(row.variables).length ? ` ${JSON.stringify(row.variables)}` : ''}`
      : `${name} · ${row.method} · ${timeOfRunId(row.runId)}`;
    return { row, events: record.events, ...(record.summary ? { summary: record.summary } : {}), label };
  });
}

/** The comparison of run and sweep folders; a folder that is not one is reported in `errors`, not thrown. */
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
  let groups: Group[] = [];
  try {
    groups = groupRuns(rows);
  } catch (e) {
    // Runs of different evaluation protocols in one group: say so instead of averaging them.
    errors.push(String((e as Error).message ?? e));
  }
  return buildComparison(comparisonInputs(rows), groups, errors);
}
