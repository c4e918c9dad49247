/**
 * The comparison view's data: one row per run (final and best accuracy, sizes, duration, backend,
 * its student curve) and, for runs that repeat a setting (a sweep's seeds), mean ± std per method
 * and setting. The grouping and the statistics are `akd compare`'s own (runner/compare): the
 * extension reads the runs with `collectRuns` and groups them with `groupRuns`; this module only
 * shapes their result for the webview. Pure (no fs, no DOM).
 */
import type { Group, RunRow } from './collect';
import type { RunEvent, RunSummary } from '../protocol/events';
import { studentCurve, STUDENT_PHASES, type XY } from '../protocol/series';

export interface ComparisonRun {
  dir: string;
  runId: string;
  label: string;
  method: string;
  status: string;
  backend: string | null;
  sweep?: string;
  seed: number;
  /** The student's test accuracy at the end (0..1). */
  finalAccuracy: number | null;
  /** The student's best validation accuracy over its phases (0..1). */
  bestAccuracy: number | null;
  studentParams: number;
  teacherParams: number;
  seconds: number;
  /** Student validation accuracy per student epoch. */
  curve: XY[];
}

export interface ComparisonGroup {
  label: string;
  method: string;
  /** Completed runs (seeds) behind the statistics. */
  n: number;
  mean: number | null;
  std: number | null;
  best: number | null;
  teacher: number | null;
  studentParams: number;
  seconds: number;
  incomplete: number;
}

export interface ComparisonData {
  runs: ComparisonRun[];
  /** Mean ± std per method and setting; empty when no setting has more than one run. */
  groups: ComparisonGroup[];
  /** Folders that could not be read (and why). */
  errors: string[];
}

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
  };
}

/** Groups (from runner/compare's groupRuns) as rows; only when some setting has several runs. */
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
  }));
}

export function buildComparison(
  inputs: readonly ComparisonInput[],
  groups: readonly Group[],
  errors: string[] = [],
): ComparisonData {
  return { runs: inputs.map(comparisonRun), groups: comparisonGroups(groups), errors };
}

/** 0.9251 -> "92.51"; null -> "–". */
export function pct(x: number | null | undefined, digits = 2): string {
  return typeof x === 'number' && Number.isFinite(x) ? (x * 100).toFixed(digits) : '–';
}

/** 12345 -> "12.3k", 1234567 -> "1.23M". */
export function compactCount(n: number | null | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return String(n);
}
