/**
 * One writer per run folder. Every akd process that writes a run folder (run, resume, a sweep
 * member, a Slurm job, a follower settling a job) first takes `run.lock`: its identity (pid,
 * process start time, host, Slurm job) is written to a temporary file that is hard-linked to
 * `run.lock`, which fails if the lock exists (atomic, also on NFS), so the lock never appears
 * half-written. It goes when the holder exits. A lock left by a killed process is stale when its
 * holder is provably gone: on this host, no process with that pid and start time; on another
 * host, Slurm says its job ended. Breaking a stale lock takes a second, short-lived lock
 * (`run.lock.break`) and re-checks that the lock is still the stale one, so two processes that
 * both found it stale cannot both end up holding it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { currentProcessIdentity, identityStatus } from '../protocol/processIdentity';
import {
  RUN_LOCK_FILE,
  describeHolder,
  holderStatus,
  parseLockHolder,
  readRunLock,
  runLockPath,
  type HolderJudgeOptions,
  type RunLockHolder,
} from '../protocol/runLock';

/** Another process holds the run's lock (or we cannot tell that it is gone). The message is for people, as is. */
export class RunLockedError extends Error {
  constructor(
    message: string,
    readonly holder?: RunLockHolder,
  ) {
    super(message);
    this.name = 'RunLockedError';
  }
}

export interface RunLock {
  readonly file: string;
  readonly holder: RunLockHolder;
  /** Whether this process still holds it (the file still names it). */
  held(): boolean;
  /** Remove the lock if it is still ours (idempotent). */
  release(): void;
}

/** A damaged (unparseable) lock this old is not someone in the middle of writing it. */
const MALFORMED_GRACE_MS = 10_000;
const BREAK_FILE = `${RUN_LOCK_FILE}.break`;

/** Slurm's word on a job, for holders on other hosts: `scontrol show job` with a short timeout. */
let slurmUnreachable = false;

export function slurmJobEndedSync(jobId: string): boolean | undefined {
  // Asked once per holder; a controller that did not answer is not asked again by this process
  // (akd list over many Slurm runs would wait out the timeout for each).
  if (slurmUnreachable) return undefined;
  const timeout = Number(process.env.AKD_SLURM_TIMEOUT_MS ?? 5000);
  const r = spawnSync('scontrol', ['show', 'job', '-o', jobId], { encoding: 'utf8', timeout });
  if (r.error || r.status === null) {
    slurmUnreachable = true;
    return undefined;
  }
  if (r.status !== 0) return /Invalid job id/i.test(r.stderr) ? true : undefined; // forgotten: long over
  const state = /JobState=(\S+)/.exec(r.stdout)?.[1];
  if (!state) return undefined;
  return !['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'RESIZING'].includes(
    state,
  );
}

export interface AcquireOptions extends HolderJudgeOptions {
  /** What this process does with the run (recorded in the lock, shown to whoever is refused). */
  command: string;
  /** How to say "refused" (default: "<runDir> is in use"). */
  refusal?: (holder: RunLockHolder) => string;
  /** Wait up to this long for a live holder to let go (a Slurm job whose submitter is still recording it). */
  waitMs?: number;
}

function tempName(dir: string, tag: string): string {
  return path.join(dir, `.${tag}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
}

function writeTemp(file: string, text: string): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/** Link `tmp` to `target`; false if `target` exists. */
function linkExclusive(tmp: string, target: string): boolean {
  try {
    fs.linkSync(tmp, target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * Remove the lock whose text is `staleText`, if it is still that one. Serialized by a break lock;
 * returns false when someone else is breaking it right now (retry).
 */
function breakStaleLock(runDir: string, staleText: string, judge: HolderJudgeOptions): boolean {
  const breakFile = path.join(runDir, BREAK_FILE);
  const tmp = tempName(runDir, 'break');
  writeTemp(tmp, JSON.stringify(currentProcessIdentity()));
  try {
    if (!linkExclusive(tmp, breakFile)) {
      // Someone is breaking it; a breaker killed in that moment leaves the break lock: clear it.
      let text = '';
      try {
        text = fs.readFileSync(breakFile, 'utf8');
      } catch {
        return false;
      }
      const other = parseLockHolder(JSON.stringify({ v: 1, ...safeJson(text) }));
      const dead = typeof other === 'string' || holderStatus(other, judge) === 'dead';
      if (dead) {
        try {
          if (fs.readFileSync(breakFile, 'utf8') === text) fs.unlinkSync(breakFile);
        } catch {
          /* gone already */
        }
      }
      return false;
    }
    try {
      let now: string | undefined;
      try {
        now = fs.readFileSync(runLockPath(runDir), 'utf8');
      } catch {
        now = undefined;
      }
      if (now === staleText) fs.unlinkSync(runLockPath(runDir));
      return true;
    } finally {
      fs.rmSync(breakFile, { force: true });
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function safeJson(text: string): object {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

/** Temp files of lock takers killed between writing and removing them (a window of microseconds). */
function removeDeadTemps(runDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^\.(?:lock|break)\.(\d+)\.[a-z0-9]+\.tmp$/.exec(n);
    if (m && identityStatus({ pid: Number(m[1]), host: os.hostname() }) === 'dead')
      fs.rmSync(path.join(runDir, n), { force: true });
  }
}

const held = new Set<RunLock>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Every way out that runs JS (normal end, process.exit on a second signal, an uncaught error).
  process.on('exit', () => {
    for (const lock of [...held]) lock.release();
  });
}

/**
 * Take the run folder's lock or throw RunLockedError naming the holder. A stale lock (its holder
 * provably gone) is taken over; a holder that cannot be checked from here is treated as alive.
 */
export function acquireRunLock(runDir: string, opts: AcquireOptions): RunLock {
  const file = runLockPath(runDir);
  // Already ours (e.g. a resume that settles its Slurm job's end): nested, released by the outer holder.
  const mine = [...held].find((l) => l.file === file && l.held());
  if (mine) return { file, holder: mine.holder, held: () => mine.held(), release: () => undefined };
  const deadline = Date.now() + (opts.waitMs ?? 0);
  const judge: HolderJudgeOptions = { slurmJobEnded: opts.slurmJobEnded ?? slurmJobEndedSync };
  const holder: RunLockHolder = {
    v: 1,
    ...currentProcessIdentity(),
    command: opts.command,
    acquiredAt: new Date().toISOString(),
  };
  const text = JSON.stringify(holder) + '\n';
  const tmp = tempName(runDir, 'lock');
  writeTemp(tmp, text);
  try {
    for (let attempt = 0; attempt < 50 || Date.now() < deadline; attempt++) {
      if (linkExclusive(tmp, file)) {
        const lock: RunLock = {
          file,
          holder,
          held: () => {
            try {
              return fs.readFileSync(file, 'utf8') === text;
            } catch {
              return false;
            }
          },
          release: () => {
            held.delete(lock);
            if (lock.held()) fs.rmSync(file, { force: true });
          },
        };
        held.add(lock);
        installExitHook();
        removeDeadTemps(runDir);
        return lock;
      }
      const now = readRunLock(runDir);
      if (now.kind === 'free') continue; // released in between
      if (now.kind === 'malformed') {
        if (Date.now() - now.mtimeMs < MALFORMED_GRACE_MS)
          throw new RunLockedError(
            `${runDir}: its lock ${file} is damaged (${now.reason}) and was written in the last ${MALFORMED_GRACE_MS / 1000} s; try again`,
          );
        if (!breakStaleLock(runDir, now.text, judge)) sleepSync(20);
        continue;
      }
      const status = holderStatus(now.holder, judge);
      if (status === 'dead') {
        if (!breakStaleLock(runDir, now.text, judge)) sleepSync(20);
        continue;
      }
      if (Date.now() < deadline) {
        sleepSync(100);
        continue;
      }
      const why = opts.refusal?.(now.holder) ?? `${runDir} is in use`;
      throw new RunLockedError(
        status === 'alive'
          ? `${why}: ${describeHolder(now.holder)}`
          : `${why}: ${describeHolder(now.holder)}, which cannot be checked from ${holder.host}; if that process is gone, delete ${file}`,
        now.holder,
      );
    }
    throw new RunLockedError(`${runDir}: could not take its lock ${file} (it kept changing hands)`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Run `fn` holding the run's lock; released afterwards (also when it throws). */
export async function withRunLock<T>(
  runDir: string,
  opts: AcquireOptions,
  fn: (lock: RunLock) => Promise<T>,
): Promise<T> {
  const lock = acquireRunLock(runDir, opts);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}
