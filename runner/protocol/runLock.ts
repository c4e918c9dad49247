/**
 * The run lock, read side: `<run folder>/run.lock` names the one process allowed to write the run
 * folder (the runner takes it, runner/store/runLock.ts; everyone else reads it here). A run whose
 * events say "running" is running only while its lock's holder is that very process; once the
 * holder is gone without an end event, the run crashed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { identityStatus, type IdentityStatus, type ProcessIdentity } from './processIdentity';

export const RUN_LOCK_FILE = 'run.lock';

export interface RunLockHolder extends ProcessIdentity {
  v: 1;
  /** What the holder does: run, resume, run-member, job, stop... */
  command: string;
  acquiredAt: string;
}

export type LockRead =
  | { kind: 'free' }
  | { kind: 'held'; holder: RunLockHolder; text: string }
  /** A lock file that is not a lock (written by something else, or damaged): says why. */
  | { kind: 'malformed'; reason: string; text: string; mtimeMs: number };

export function runLockPath(runDir: string): string {
  return path.join(runDir, RUN_LOCK_FILE);
}

export function parseLockHolder(text: string): RunLockHolder | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  const h = value as Partial<RunLockHolder> | null;
  if (!h || typeof h !== 'object') return 'not a JSON object';
  if (!Number.isInteger(h.pid) || (h.pid as number) <= 0) return '"pid" is not a positive integer';
  if (typeof h.host !== 'string' || h.host === '') return '"host" is missing';
  if (h.startTime !== undefined && typeof h.startTime !== 'string') return '"startTime" is not a string';
  if (h.jobId !== undefined && typeof h.jobId !== 'string') return '"jobId" is not a string';
  return {
    v: 1,
    pid: h.pid as number,
    host: h.host,
    ...(h.startTime !== undefined ? { startTime: h.startTime } : {}),
    ...(h.jobId !== undefined ? { jobId: h.jobId } : {}),
    command: typeof h.command === 'string' ? h.command : '?',
    acquiredAt: typeof h.acquiredAt === 'string' ? h.acquiredAt : '?',
  };
}

/** The lock file as it is now. */
export function readRunLock(runDir: string): LockRead {
  const file = runLockPath(runDir);
  let text: string;
  let mtimeMs = 0;
  try {
    text = fs.readFileSync(file, 'utf8');
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'free' };
    return { kind: 'malformed', reason: (e as Error).message, text: '', mtimeMs };
  }
  const holder = parseLockHolder(text);
  return typeof holder === 'string'
    ? { kind: 'malformed', reason: holder, text, mtimeMs }
    : { kind: 'held', holder, text };
}

export interface HolderJudgeOptions {
  /**
   * For a holder on another host with a Slurm job id: whether Slurm says that job has ended
   * (true), still runs or waits (false), or cannot say (undefined). Without it such a holder is unknown.
   */
  slurmJobEnded?(jobId: string): boolean | undefined;
}

/**
 * Whether the lock's holder still runs: on this host by pid and start time; a Slurm job's holder
 * also by what Slurm says of the job (the job id decides on a shared filesystem).
 */
export function holderStatus(holder: ProcessIdentity, opts: HolderJudgeOptions = {}): IdentityStatus {
  const local = identityStatus(holder);
  if (local !== 'unknown') return local;
  if (holder.jobId && opts.slurmJobEnded) {
    const ended = opts.slurmJobEnded(holder.jobId);
    if (ended !== undefined) return ended ? 'dead' : 'alive';
  }
  return 'unknown';
}

/** Who writes the run folder now. `writing` also when we cannot tell (another host): never claim a crash we cannot see. */
export type WriterState =
  | { state: 'none' }
  | { state: 'writing'; holder: RunLockHolder; certain: boolean }
  | { state: 'gone'; holder: RunLockHolder };

export function runWriter(runDir: string, opts: HolderJudgeOptions = {}): WriterState {
  const lock = readRunLock(runDir);
  if (lock.kind !== 'held') return { state: 'none' };
  const status = holderStatus(lock.holder, opts);
  if (status === 'dead') return { state: 'gone', holder: lock.holder };
  return { state: 'writing', holder: lock.holder, certain: status === 'alive' };
}

/**
 * Whether a run that reads "running" still has its writer, as a reader on this machine sees it:
 * the lock's holder decides (pid AND start time; another host's holder counts as alive); with no
 * lock (a run from before the lock, or a writer that let go without an end event) the run-started
 * pid is all there is.
 */
export function runWriterAlive(runDir: string, startedPid: number | undefined): boolean {
  const writer = runWriter(runDir);
  if (writer.state === 'writing') return true;
  if (writer.state === 'gone') return false;
  return startedPid !== undefined && identityStatus({ pid: startedPid, host: os.hostname() }) === 'alive';
}

/** "akd resume, pid 123 on host, since 2026-..." for refusals. */
export function describeHolder(h: RunLockHolder): string {
  return `akd ${h.command}, pid ${h.pid} on ${h.host}${h.jobId ? ` (Slurm job ${h.jobId})` : ''}, since ${h.acquiredAt}`;
}
