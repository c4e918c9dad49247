/**
 * A comparison of runs as `akd compare --json` prints it and the dashboard shows it: one row per
 * run and, for settings repeated over seeds, mean ± std per method and setting (built by
 * runner/compare/comparison.ts with `akd compare`'s own grouping and statistics).
 */
import type { XY } from './series';

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
  /** From the run's meta.json: a person's star and note (filterable in the experiments table). */
  starred?: boolean;
  note?: string;
  /** `akd run --set` values it ran with. */
  overrides?: Record<string, unknown>;
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
  /** Each completed run's (seed's) test accuracy behind mean and std. */
  values?: number[];
}

export interface ComparisonData {
  runs: ComparisonRun[];
  /** Mean ± std per method and setting; empty when no setting has more than one run. */
  groups: ComparisonGroup[];
  /** Folders that could not be read (and why). */
  errors: string[];
}
