/**
 * A run as a Slurm job: submit it (the run folder already exists here, so its id is known),
 * follow its events.jsonl until the run ends while polling Slurm, and settle jobs that Slurm
 * ended without the run saying so (time limit, node failure, out of memory, cancelled while
 * pending, killed): those get Slurm's state and reason appended, and a failed or cancelled end,
 * so no run looks "running" forever.
 *
 * Who writes events.jsonl: the job on its compute node while it runs; the submitting host only
 * before the job starts (job-submitted, PENDING states) and after Slurm says it ended (the final
 * job-state, and the run's end when the job never wrote one). On a shared filesystem such as NFS,
 * two hosts appending to one file at the same time could interleave; this split keeps them apart.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExperimentConfig, SlurmLauncher } from '../protocol/configTypes';
import type { JobInfo, RunEvent, RunSummary } from '../protocol/events';
import { readEvents } from '../protocol/eventTail';
import { readJson, writeJsonAtomic } from '../store/runStore';
import { RUN_FILES } from '../protocol/files';
import { EventTail } from '../protocol/eventTail';
import { appendEvent } from '../store/eventLog';
import { latestSession, isTerminalEvent, type RunSession, type TerminalEvent } from '../protocol/sessions';
import { RunLockedError, acquireRunLock, type RunLock } from '../store/runLock';
import { SlurmClient, SlurmError, jobEnded, type JobStatus } from './slurmClient';
import { sbatchScript, slurmPathPattern } from './slurmScript';

/** The repo (where bin/akd.js and node_modules are) and the akd entry, from out/runner/launch/. */
export const REPO_DIR = path.resolve(__dirname, '..', '..', '..');
export const AKD_ENTRY = path.join(REPO_DIR, 'bin', 'akd.js');

export const JOB_SCRIPT = 'job.sbatch';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface SubmitOptions {
  runDir: string;
  configPath: string;
  config: ExperimentConfig;
  launcher: SlurmLauncher;
  /** Continue from the run's checkpoint (the job decides by the checkpoint's presence; this is recorded). */
  resume: boolean;
  client: SlurmClient;
  /** e.g. ["123"]: start only after these jobs completed successfully. */
  dependsOn?: string[];
  /** `--set` values of the run, recorded in job-submitted. */
  overrides?: Record<string, unknown>;
}

/** Write the run's batch script, sbatch it, record `job-submitted`; returns the job id. */
export async function submitRun(o: SubmitOptions): Promise<string> {
  const script = sbatchScript({
    launcher: o.launcher,
    jobName: `akd-${o.config.name}`,
    output: path.join(slurmPathPattern(o.runDir), 'slurm-%j.out'),
    workDir: REPO_DIR,
    nodeBinary: process.execPath,
    args: [AKD_ENTRY, '_run-job', o.runDir],
    ...(o.dependsOn && o.dependsOn.length > 0 ? { dependency: `afterok:${o.dependsOn.join(':')}` } : {}),
    comment: `one session of the run in ${o.runDir}`,
  });
  const scriptPath = path.join(o.runDir, JOB_SCRIPT);
  fs.writeFileSync(scriptPath, script, { mode: 0o755 });
  const { jobId } = await o.client.sbatch(scriptPath, REPO_DIR);
  appendEvent(path.join(o.runDir, RUN_FILES.events), {
    type: 'job-submitted',
    launcher: 'slurm',
    jobId,
    runDir: o.runDir,
    configPath: o.configPath,
    script: JOB_SCRIPT,
    output: path.join(o.runDir, `slurm-${jobId}.out`),
    resume: o.resume,
    ...(o.dependsOn && o.dependsOn.length > 0 ? { dependsOn: o.dependsOn } : {}),
    ...(o.overrides ? { overrides: o.overrides } : {}),
  });
  return jobId;
}

/** The last lines of the job's output file (Slurm's own messages land there: CANCELLED, DUE TO TIME LIMIT, oom-kill...). */
export function outputTail(file: string | undefined, lines = 12): string {
  if (!file) return '';
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('\r'))
      .slice(-lines)
      .join('\n');
  } catch {
    return '';
  }
}

/** Words for a job Slurm ended, for people. */
export function describeJobEnd(s: JobStatus): string {
  const why: Record<string, string> = {
    TIMEOUT: 'it reached its time limit (launcher.time)',
    OUT_OF_MEMORY: 'it ran out of memory (launcher.mem)',
    NODE_FAIL: 'its node failed',
    PREEMPTED: 'it was preempted',
    BOOT_FAIL: 'its node failed to boot',
    DEADLINE: 'it reached its deadline',
    CANCELLED: 'it was cancelled',
    GONE: 'Slurm no longer knows it (it ended more than MinJobAge ago)',
  };
  const parts = [`Slurm job ${s.jobId} ended ${s.state}`];
  if (s.reason) parts.push(`(reason ${s.reason})`);
  if (s.exitCode && s.exitCode !== '0:0') {
    const [code, signal] = s.exitCode.split(':').map(Number);
    parts.push(
      signal
        ? `, killed by signal ${signal}${signal === 9 ? ' (SIGKILL: out of memory, or KillWait ran out)' : ''}`
        : `, exit code ${code}`,
    );
  }
  if (s.node) parts.push(`on ${s.node}`);
  const text = parts.join(' ').replace(' ,', ',');
  return why[s.state] ? `${text}: ${why[s.state]}` : text;
}

function updateSummary(
  runDir: string,
  job: JobInfo,
  end?: { status: RunSummary['status']; error?: string },
): void {
  const file = path.join(runDir, RUN_FILES.summary);
  const summary = readJson<RunSummary>(file);
  if (!summary) return;
  const next: RunSummary = { ...summary, job: { ...summary.job, ...job } };
  if (end) {
    next.status = end.status;
    if (end.error) next.error = end.error;
    next.endedAt = new Date().toISOString();
  }
  writeJsonAtomic(file, next);
}

/**
 * Once Slurm says the session's job ended: append the final job-state (and, when the run wrote no
 * end, a run-failed or run-cancelled with Slurm's reason) and update summary.json. Exactly one
 * process does it (a marker file made with O_EXCL), so a follower and `akd stop` never both write.
 */
export function settleEndedJob(
  runDir: string,
  session: RunSession,
  status: JobStatus,
): TerminalEvent | undefined {
  const jobId = session.submitted!.jobId;
  // Slurm says the job ended, so its lock (if it left one) is stale; a live writer (a local resume) keeps it.
  let lock: RunLock;
  try {
    lock = acquireRunLock(runDir, { command: 'settle' });
  } catch (e) {
    if (e instanceof RunLockedError) return undefined;
    throw e;
  }
  try {
    return settleLocked(runDir, session, status, jobId);
  } finally {
    lock.release();
  }
}

function settleLocked(
  runDir: string,
  session: RunSession,
  status: JobStatus,
  jobId: string,
): TerminalEvent | undefined {
  try {
    fs.closeSync(fs.openSync(path.join(runDir, `.job-${jobId}.settled`), 'wx'));
  } catch {
    return undefined; // someone else settles (or settled) it
  }
  const file = path.join(runDir, RUN_FILES.events);
  // Re-read: the job may have written its end since the caller looked.
  const fresh = latestSession(readEvents(file));
  const ended = fresh && fresh.submitted?.jobId === jobId ? fresh.ended : session.ended;
  const node = status.node ?? fresh?.state?.node ?? session.state?.node;
  appendEvent(file, {
    type: 'job-state',
    launcher: 'slurm',
    jobId,
    state: status.state,
    final: true,
    source: 'follower',
    ...(status.reason ? { reason: status.reason } : {}),
    ...(node ? { node } : {}),
    ...(status.exitCode ? { exitCode: status.exitCode } : {}),
  });
  const job: JobInfo = {
    launcher: 'slurm',
    jobId,
    state: status.state,
    ...(status.reason ? { reason: status.reason } : {}),
    ...(node ? { node } : {}),
    ...(status.exitCode ? { exitCode: status.exitCode } : {}),
  };
  if (ended) {
    updateSummary(runDir, job);
    return undefined;
  }
  const tail = outputTail(session.submitted!.output);
  const message =
    `${describeJobEnd({ ...status, ...(node ? { node } : {}) })}, before the run reported an end` +
    (tail ? `; the last lines of ${session.submitted!.output}:\n${tail}` : '');
  let terminal: RunEvent;
  if (status.state === 'CANCELLED') {
    terminal = appendEvent(file, { type: 'run-cancelled', signal: 'scancel' });
    updateSummary(runDir, job, { status: 'cancelled' });
  } else {
    terminal = appendEvent(file, { type: 'run-failed', error: { message } });
    updateSummary(runDir, job, { status: 'failed', error: message });
  }
  return terminal as TerminalEvent;
}

/**
 * If the run's latest session is a Slurm job that has no end yet, ask Slurm; settle it when Slurm
 * says it ended. Returns Slurm's status of that job (undefined when there is nothing to ask).
 */
export async function reconcileRun(runDir: string, client: SlurmClient): Promise<JobStatus | undefined> {
  const session = latestSession(readEvents(path.join(runDir, RUN_FILES.events)));
  if (!session?.submitted || session.final) return undefined;
  const status = await client.status(session.submitted.jobId);
  if (jobEnded(status.state)) settleEndedJob(runDir, session, status);
  return status;
}

/**
 * Follows one run's Slurm session: reads its new events, writes PENDING states while the job
 * waits, and settles the job once Slurm says it ended. Driven by a loop that feeds it Slurm's
 * statuses (one squeue call for all the runs a loop follows).
 */
export class SlurmRunFollower {
  private readonly tail: EventTail;
  private readonly file: string;
  terminal: TerminalEvent | undefined;
  /** The session is over: the run ended and Slurm let go of the job (or we stopped waiting). */
  done = false;
  started = false;
  private lastWritten = '';
  private endedSince: number | undefined;
  private lastStatus: JobStatus | undefined;
  private terminalAt: number | undefined;

  constructor(
    readonly runDir: string,
    readonly jobId: string,
    fromOffset: number,
    private readonly onEvent: (e: RunEvent) => void,
    private readonly graceMs = 3000,
  ) {
    this.file = path.join(runDir, RUN_FILES.events);
    this.tail = new EventTail(this.file, fromOffset);
  }

  /** Print (onEvent) what was appended since the last call. */
  read(): void {
    for (const e of this.tail.readNew()) {
      this.onEvent(e);
      if (isTerminalEvent(e)) {
        this.terminal = e;
        this.terminalAt ??= Date.now();
      }
      if (e.type === 'run-started') this.started = true;
      if (e.type === 'job-state' && e.jobId === this.jobId) {
        if (e.state === 'RUNNING') this.started = true;
        if (e.final) this.done = true;
        // What any follower last wrote, so a second one (a reloaded window's `akd follow` beside
        // the first) does not write the same PENDING line again.
        if (e.source === 'follower' && !e.final) this.lastWritten = `${e.state}/${e.reason ?? ''}`;
      }
    }
    // The run ended; its job exits right after. Do not wait forever for Slurm to confirm.
    if (this.terminalAt !== undefined && Date.now() - this.terminalAt > 20_000) this.done = true;
  }

  /** Slurm's latest word on the job. */
  status(status: JobStatus): void {
    this.lastStatus = status;
    if (jobEnded(status.state)) {
      this.endedSince ??= Date.now();
    } else if (!this.started && status.state === 'PENDING') {
      const key = `${status.state}/${status.reason ?? ''}`;
      if (key !== this.lastWritten) {
        this.lastWritten = key;
        appendEvent(this.file, {
          type: 'job-state',
          launcher: 'slurm',
          jobId: this.jobId,
          state: status.state,
          source: 'follower',
          ...(status.reason ? { reason: status.reason } : {}),
        });
      }
    }
  }

  /** True while the follower wants Slurm's status soon (after the run's end: until Slurm confirms). */
  get eager(): boolean {
    return this.terminal !== undefined;
  }

  /** Settle the job if Slurm said it ended and its last events had time to arrive. */
  async settle(): Promise<void> {
    if (this.done || this.endedSince === undefined || !this.lastStatus) return;
    if (!this.terminal && Date.now() - this.endedSince < this.graceMs) return;
    this.read();
    const session = latestSession(readEvents(this.file));
    if (session?.submitted?.jobId === this.jobId) settleEndedJob(this.runDir, session, this.lastStatus);
    this.read();
    // Someone else (akd stop, another follower) may be settling it: wait briefly for their events.
    const until = Date.now() + this.graceMs;
    while (!this.terminal && Date.now() < until) {
      await sleep(100);
      this.read();
    }
    this.done = true;
  }
}

export interface FollowOptions {
  /** Slurm is asked this often (default 1000 ms); the files are read every 200 ms. */
  pollMs?: number;
  /** Something to say about Slurm not answering (once per outage). */
  warn: (message: string) => void;
  /** Set to stop following early (the jobs are left alone). */
  abort?: { aborted: boolean };
  /** Called after each round (the sweep reports member starts and ends from here). */
  afterRound?: () => void;
}

/** Follow several runs' jobs until all are done, with one Slurm status call per round. */
export async function followSlurmRuns(
  client: SlurmClient,
  followers: SlurmRunFollower[],
  o: FollowOptions,
): Promise<void> {
  const pollMs = o.pollMs ?? 1000;
  let lastPoll = 0;
  let unreachable = false;
  for (;;) {
    for (const f of followers) if (!f.done) f.read();
    const active = followers.filter((f) => !f.done);
    if (active.length === 0 || o.abort?.aborted) {
      o.afterRound?.();
      return;
    }
    if (Date.now() - lastPoll >= (active.some((f) => f.eager) ? 200 : pollMs)) {
      lastPoll = Date.now();
      try {
        const statuses = await client.statuses(active.map((f) => f.jobId));
        if (unreachable) {
          o.warn('Slurm answers again');
          unreachable = false;
        }
        for (const f of active) {
          const st = statuses.get(f.jobId);
          if (st) f.status(st);
        }
      } catch (e) {
        if (!(e instanceof SlurmError) || e.kind === 'rejected') throw e;
        if (!unreachable) o.warn(`${e.message}; still following the run folders`);
        unreachable = true;
      }
    }
    for (const f of active) await f.settle();
    o.afterRound?.();
    await sleep(200);
  }
}

/**
 * Follow a Slurm run until its session ends and Slurm has let go of the job. Prints (through
 * onEvent) every event from `fromOffset` on, including the ones this follower appends.
 */
export async function followSlurmRun(
  o: FollowOptions & {
    runDir: string;
    jobId: string;
    fromOffset: number;
    client: SlurmClient;
    onEvent: (e: RunEvent) => void;
    graceMs?: number;
  },
): Promise<TerminalEvent | undefined> {
  const f = new SlurmRunFollower(o.runDir, o.jobId, o.fromOffset, o.onEvent, o.graceMs);
  await followSlurmRuns(o.client, [f], o);
  return f.terminal;
}

/** A warning when the run folder is probably not visible from compute nodes. */
export function sharedFilesystemHint(runDir: string): string | undefined {
  const tmp = os.tmpdir();
  if (runDir === tmp || runDir.startsWith(tmp + path.sep)) {
    return `the run folder ${runDir} is under ${tmp}, which on most clusters is local to each node: the job must be able to write it (use --out on a shared filesystem)`;
  }
  return undefined;
}
