/**
 * The run store: `.akd/runs/<id>/` folders holding config.json, events.jsonl, summary.json,
 * the models and the resume checkpoint (file names: protocol/files.ts). Reading helpers here are
 * plain fs + JSON, for the CLI, the launchers and the sweeps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExperimentConfig } from '../protocol/configTypes';
import type { CheckpointPosition, PhaseResult, RunEvent, RunSummary } from '../protocol/events';
import { readEvents } from '../protocol/eventTail';
import { RUN_FILES, akdDirBeside } from '../protocol/files';

/** The runs folder for a config: `.akd/runs` beside it, unless `--out` names another. */
export function runsRootFor(configPath: string, out?: string): string {
  return out ? path.resolve(out) : akdDirBeside(configPath, 'runs');
}

/** `yyyymmdd-hhmmss` in local time: the start of run and sweep folder names. */
export function folderStamp(d: Date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Create a fresh run folder `<root>/<yyyymmdd-hhmmss>-<name>[-k]`. */
export function createRunDir(
  root: string,
  name: string,
  now = new Date(),
): { runId: string; runDir: string } {
  fs.mkdirSync(root, { recursive: true });
  const base = `${folderStamp(now)}-${name}`;
  for (let k = 0; ; k++) {
    const runId = k === 0 ? base : `${base}-${k + 1}`;
    const runDir = path.join(root, runId);
    try {
      fs.mkdirSync(runDir); // fails if it exists: two runs started in the same second get distinct ids
      return { runId, runDir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** What `akd resume` needs: where to continue, and what is already done. */
export interface ResumeState {
  v: 1;
  position: CheckpointPosition;
  /** Running sums and best-so-far of the phase at `position` (JSON of PhaseProgress minus epoch/batch). */
  partial?: { lossSum: number; correct: number; seen: number; seconds: number };
  best?: { bestValAccuracy: number; bestEpoch: number; bestTemperature?: number; finalValAccuracy: number };
  completed: PhaseResult[];
  /** Training seconds spent before this point, over all sessions of the run. */
  seconds: number;
  startedAt: string;
  /** The checkpoint folder also holds the model and optimizer of the phase at `position`. */
  hasModel: boolean;
  teacherTestAccuracy?: number | null;
}

export interface RunRecord {
  runId: string;
  runDir: string;
  config?: ExperimentConfig;
  summary?: RunSummary;
  events: RunEvent[];
  /** Derived from the events: running until a terminal event says otherwise. */
  status: RunSummary['status'] | 'unknown';
}

export function runStatusFromEvents(events: RunEvent[]): RunRecord['status'] {
  let status: RunRecord['status'] = 'unknown';
  for (const e of events) {
    if (e.type === 'run-started') status = 'running';
    else if (e.type === 'run-completed') status = 'completed';
    else if (e.type === 'run-failed') status = 'failed';
    else if (e.type === 'run-cancelled') status = 'cancelled';
  }
  return status;
}

export function readRun(runDir: string): RunRecord {
  const events = readEvents(path.join(runDir, RUN_FILES.events));
  return {
    runId: path.basename(runDir),
    runDir,
    config: readJson<ExperimentConfig>(path.join(runDir, RUN_FILES.config)),
    summary: readJson<RunSummary>(path.join(runDir, RUN_FILES.summary)),
    events,
    status: runStatusFromEvents(events),
  };
}

/** Every run folder under `root` (those with an events.jsonl), oldest first. */
export function listRuns(root: string): RunRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => fs.existsSync(path.join(root, n, RUN_FILES.events)))
    .sort()
    .map((n) => readRun(path.join(root, n)));
}
