/**
 * The run store: `.akd/runs/<id>/` folders holding config.json, events.jsonl, summary.json,
 * the models and the resume checkpoint (file names: protocol/files.ts). Reading helpers here are
 * plain fs + JSON, for the CLI, the launchers and the sweeps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExperimentConfig } from '../protocol/configTypes';
import type {
  CheckpointPosition,
  PhaseResult,
  RunEvent,
  RunStartedEvent,
  RunSummary,
} from '../protocol/events';
import { describeTornLines, readEvents, readEventsReport } from '../protocol/eventTail';
import { RUN_FILES, akdDirBeside } from '../protocol/files';
import { processAlive } from '../protocol/processAlive';
import { runWriter } from '../protocol/runLock';
import { slurmJobEndedSync } from './runLock';
import { StoreWriteError, storeWriteError } from './storeErrors';

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
  try {
    fs.mkdirSync(root, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new StoreWriteError(
        `${root} is a file, not a folder: --out must name a folder for the runs`,
        code,
        root,
      );
    throw storeWriteError(e, root);
  }
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
  const text = JSON.stringify(value, null, 2) + '\n';
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // A read-only folder keeps it: the next resume removes it (checkpoint.ts recoverRunFolder).
    }
    throw storeWriteError(e, file, Buffer.byteLength(text));
  }
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
  /**
   * Derived from the events (running until a terminal event says otherwise), and from the run's
   * writer: a run whose writer is gone without an end event crashed.
   */
  status: RunSummary['status'] | 'crashed' | 'unknown';
  /** What is wrong with the folder's files (torn event lines, a malformed summary...), one line each. */
  problems: string[];
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

/**
 * Whether the process writing a "running" run is gone. The writer holds run.lock (identity: pid,
 * start time, host; a Slurm job's holder is judged by Slurm). A Slurm session with no lock yet is
 * queued, not gone; a run written before the lock existed falls back to its run-started pid.
 */
export function runWriterGone(runDir: string, events: RunEvent[]): boolean {
  let lastEnd = -1;
  events.forEach((e, i) => {
    if (e.type === 'run-completed' || e.type === 'run-failed' || e.type === 'run-cancelled') lastEnd = i;
  });
  const session = events.slice(lastEnd + 1);
  const slurm = session.some((e) => e.type === 'job-submitted');
  const writer = runWriter(runDir, slurm ? { slurmJobEnded: slurmJobEndedSync } : {});
  if (writer.state === 'writing') return false;
  if (writer.state === 'gone') return true;
  if (slurm) return false;
  const started = [...session].reverse().find((e): e is RunStartedEvent => e.type === 'run-started');
  if (!started) return false;
  if (started.process) return true;
  return !processAlive(started.pid);
}

export function readRun(runDir: string): RunRecord {
  const file = path.join(runDir, RUN_FILES.events);
  const report = readEventsReport(file);
  const problems: string[] = [];
  if (report.error) problems.push(report.error);
  const torn = describeTornLines(file, report.torn);
  if (torn) problems.push(torn);
  let events = report.events;
  let status: RunRecord['status'] = runStatusFromEvents(events);
  if (status === 'running' && runWriterGone(runDir, events)) {
    // It may have written its end and let go of the lock since the events were read.
    events = readEvents(file);
    status = runStatusFromEvents(events);
    if (status === 'running') status = 'crashed';
  }
  const config = readChecked(path.join(runDir, RUN_FILES.config), configShapeProblem, problems);
  const summary = readChecked(path.join(runDir, RUN_FILES.summary), summaryShapeProblem, problems);
  return {
    runId: path.basename(runDir),
    runDir,
    config: config as ExperimentConfig | undefined,
    summary: summary as RunSummary | undefined,
    events,
    status,
    problems,
  };
}

/** A JSON file of the run folder, if present, parseable and of the right shape; else a line in `problems`. */
function readChecked(
  file: string,
  shapeProblem: (v: unknown) => string | undefined,
  problems: string[],
): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: ${(e as Error).message}`);
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    problems.push(`${file} is not valid JSON (${(e as Error).message})`);
    return undefined;
  }
  const why = shapeProblem(value);
  if (why) {
    problems.push(`${file}: ${why}`);
    return undefined;
  }
  return value;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What show/list and resume rely on in a config.json. */
function configShapeProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an experiment config (not a JSON object)';
  for (const key of ['method', 'student', 'teacher', 'data'] as const)
    if (!isObject(v[key])) return `not an experiment config ("${key}" is not an object)`;
  if (typeof (v.method as Record<string, unknown>).type !== 'string')
    return 'not an experiment config ("method.type" is not a string)';
  return undefined;
}

/** What show/list/compare read from a summary.json. */
function summaryShapeProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a run summary (not a JSON object)';
  if (!['running', 'completed', 'failed', 'cancelled'].includes(v.status as string))
    return `not a run summary ("status" is ${JSON.stringify(v.status)})`;
  for (const role of ['teacher', 'student'] as const) {
    const m = v[role];
    if (!isObject(m) || typeof m.params !== 'number' || typeof m.type !== 'string')
      return `not a run summary ("${role}" is not a model with "type" and "params")`;
    if (m.testAccuracy !== null && m.testAccuracy !== undefined && typeof m.testAccuracy !== 'number')
      return `not a run summary ("${role}.testAccuracy" is not a number)`;
  }
  if (!Array.isArray(v.phases) || !v.phases.every((p) => isObject(p) && typeof p.phase === 'string'))
    return 'not a run summary ("phases" is not a list of phases)';
  for (const key of ['seconds', 'compression'] as const)
    if (typeof v[key] !== 'number') return `not a run summary ("${key}" is not a number)`;
  if (typeof v.method !== 'string' || typeof v.backend !== 'string')
    return 'not a run summary ("method" or "backend" is not a string)';
  return undefined;
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
    .map((n) => {
      const runDir = path.join(root, n);
      try {
        return readRun(runDir);
      } catch (e) {
        // One unreadable run never hides the others.
        return {
          runId: n,
          runDir,
          events: [],
          status: 'unknown',
          problems: [`${runDir}: ${(e as Error).message}`],
        };
      }
    });
}
