/**
 * The CLI side of launchers: `akd run|resume --launcher slurm [--detach]`, `akd stop RUN`,
 * `akd follow RUN`. akd.ts parses the arguments and calls these; the local launcher stays the
 * in-process run it always was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExperimentConfig, LauncherConfig, LauncherType, SlurmLauncher } from '../protocol/configTypes';
import type { RunEvent } from '../protocol/events';
import { EXIT, exitCodeForSignal } from '../protocol/exitCodes';
import { humanReporter } from '../protocol/format';
import { readEvents } from '../protocol/eventTail';
import { readJson } from '../store/runStore';
import { RUN_FILES } from '../protocol/files';
import { EventTail } from '../protocol/eventTail';
import { latestSession, type TerminalEvent } from '../protocol/sessions';
import type { RunLock } from '../store/runLock';
import { runWriter, runWriterAlive } from '../protocol/runLock';
import { describeIdentity } from '../protocol/processIdentity';
import { SlurmClient, SlurmError, jobEnded } from './slurmClient';
import { SlurmScriptError } from './slurmScript';
import { followSlurmRun, reconcileRun, settleEndedJob, sharedFilesystemHint, submitRun } from './slurmRun';

export class LauncherUsageError extends Error {}

/** The launcher a command uses: `--launcher` names the type, the config's block gives the settings. */
export function resolveLauncher(
  config: Pick<ExperimentConfig, 'launcher'>,
  flag: string | undefined,
): LauncherConfig {
  if (flag !== undefined && flag !== 'local' && flag !== 'slurm')
    throw new LauncherUsageError(`--launcher must be local or slurm, got "${flag}"`);
  const type: LauncherType = (flag as LauncherType | undefined) ?? config.launcher?.type ?? 'local';
  if (type === 'local') return { type: 'local' };
  return config.launcher?.type === 'slurm' ? config.launcher : { type: 'slurm' };
}

export function eventPrinter(json: boolean): (e: RunEvent) => void {
  if (json)
    return (e) => {
      process.stdout.write(JSON.stringify(e) + '\n');
    };
  return humanReporter(process.stderr);
}

export function exitCodeFor(terminal: TerminalEvent | undefined): number {
  if (!terminal) return EXIT.failed;
  if (terminal.type === 'run-completed') return EXIT.ok;
  if (terminal.type === 'run-cancelled') return exitCodeForSignal(terminal.signal);
  return EXIT.failed;
}

function warn(message: string): void {
  process.stderr.write(`akd: ${message}\n`);
}

export function slurmErrorMessage(e: unknown): string | undefined {
  if (e instanceof SlurmError || e instanceof SlurmScriptError) return e.message;
  return undefined;
}

/**
 * Follow a submitted run until it ends. The first SIGINT/SIGTERM cancels the job (scancel: the
 * run checkpoints, as a local run does); a second one stops following at once.
 */
async function follow(
  runDir: string,
  jobId: string,
  fromOffset: number,
  json: boolean,
  client: SlurmClient,
): Promise<number> {
  let cancelling = false;
  const abort = { aborted: false };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (cancelling) {
      abort.aborted = true;
      process.exit(exitCodeForSignal(signal));
    }
    cancelling = true;
    warn(
      `${signal}: cancelling Slurm job ${jobId} (the run checkpoints; a second signal stops following, the job goes on ending)`,
    );
    client.cancel(jobId).catch((e: Error) => warn(`could not cancel job ${jobId}: ${e.message}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const terminal = await followSlurmRun({
      runDir,
      jobId,
      fromOffset,
      client,
      onEvent: eventPrinter(json),
      warn,
      abort,
    });
    if (!json) process.stderr.write(`run folder: ${runDir}\n`);
    return exitCodeFor(terminal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export interface SlurmLaunchOptions {
  config: ExperimentConfig;
  configPath: string;
  runDir: string;
  launcher: SlurmLauncher;
  json: boolean;
  detach: boolean;
  resume: boolean;
  /** `--set` values of a fresh run (recorded in job-submitted, so the job's summary has them). */
  overrides?: Record<string, unknown>;
  /** The run's lock, held while submitting: released once the job is submitted (the job takes it). */
  lock?: RunLock;
}

/** Submit one session of a run (its folder and config.json exist) and follow it, or return at once with --detach. */
export async function launchOnSlurm(o: SlurmLaunchOptions): Promise<number> {
  const client = new SlurmClient();
  const eventsFile = path.join(o.runDir, RUN_FILES.events);
  const fromOffset = EventTail.sizeOf(eventsFile);
  const hint = sharedFilesystemHint(o.runDir);
  if (hint && process.env.AKD_QUIET_SHARED_FS_HINT !== '1') warn(`note: ${hint}`);
  let jobId: string;
  try {
    jobId = await submitRun({
      runDir: o.runDir,
      configPath: o.configPath,
      config: o.config,
      launcher: o.launcher,
      resume: o.resume,
      client,
      ...(o.overrides ? { overrides: o.overrides } : {}),
    });
  } catch (e) {
    o.lock?.release();
    const msg = slurmErrorMessage(e);
    if (!msg) throw e;
    warn(`could not submit the run to Slurm: ${msg}`);
    // Nothing ran: a fresh run's folder goes away again; a resumed run keeps its history.
    if (!o.resume && !fs.existsSync(eventsFile)) fs.rmSync(o.runDir, { recursive: true, force: true });
    return EXIT.failed;
  }
  o.lock?.release();
  if (o.detach) {
    const submitted = new EventTail(eventsFile, fromOffset).readNew().find((e) => e.type === 'job-submitted');
    if (o.json && submitted) process.stdout.write(JSON.stringify(submitted) + '\n');
    else process.stdout.write(`${o.runDir}\t${jobId}\n`);
    if (!o.json)
      warn(
        `submitted Slurm job ${jobId}; follow it with: akd follow ${o.runDir}  (stop: akd stop ${o.runDir})`,
      );
    return EXIT.ok;
  }
  return follow(o.runDir, jobId, fromOffset, o.json, client);
}

/**
 * Before a resume: settle the latest Slurm session if Slurm already ended it; refuse while its
 * job is still queued or running. Returns an error message, or undefined when resuming is fine.
 */
export async function slurmResumeBlocker(runDir: string): Promise<string | undefined> {
  const session = latestSession(readEvents(path.join(runDir, RUN_FILES.events)));
  if (!session?.submitted || session.final) return undefined;
  const status = await reconcileRun(runDir, new SlurmClient());
  if (status && !jobEnded(status.state))
    return `${runDir}: its Slurm job ${status.jobId} is still ${status.state} (akd stop ${runDir} first)`;
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `akd stop RUN`: a Slurm run's job is cancelled (scancel: SIGTERM, the run checkpoints, SIGKILL
 * after the cluster's KillWait); a local run gets SIGTERM at the pid of its run-started. Waits
 * (up to `waitMs`) until the run has ended and prints how.
 */
export async function stopRun(runDir: string, opts: { waitMs: number; json: boolean }): Promise<number> {
  const file = path.join(runDir, RUN_FILES.events);
  const session = latestSession(readEvents(file));
  const say = (text: string): void => {
    process.stderr.write(`${text}\n`);
  };
  if (!session || (session.ended && (!session.submitted || session.final))) {
    say(`${runDir}: not running (${session?.ended?.type ?? 'no session'}), nothing to stop`);
    return EXIT.ok;
  }
  const deadline = Date.now() + opts.waitMs;
  if (session.submitted) {
    const client = new SlurmClient();
    const jobId = session.submitted.jobId;
    const before = await client.status(jobId);
    if (!jobEnded(before.state)) {
      await client.cancel(jobId);
      say(`cancelled Slurm job ${jobId} (was ${before.state})`);
    }
    // Wait for the run's end and for Slurm to let go of the job, then settle what is missing.
    for (;;) {
      const status = await client.status(jobId);
      const now = latestSession(readEvents(file));
      if (jobEnded(status.state)) {
        if (now && now.submitted?.jobId === jobId && !now.final) {
          if (!now.ended) await sleep(Math.min(2000, Math.max(0, deadline - Date.now())));
          const again = latestSession(readEvents(file));
          if (again) settleEndedJob(runDir, again, status);
        }
        break;
      }
      if (Date.now() > deadline) {
        say(`${runDir}: Slurm job ${jobId} is still ${status.state} after ${opts.waitMs / 1000} s`);
        return EXIT.failed;
      }
      await sleep(250);
    }
  } else {
    // Signal only the process that holds the run's lock and is still the one that took it (pid
    // and start time): a pid written in a file may belong to someone else by now.
    const writer = runWriter(runDir);
    if (writer.state !== 'writing') {
      const who =
        writer.state === 'gone' ? describeIdentity(writer.holder) : `pid ${session.started?.pid ?? '?'}`;
      say(
        `${runDir}: its process (${who}) is gone without an end event (crashed); akd resume continues from its last checkpoint`,
      );
      return EXIT.ok;
    }
    if (!writer.certain) {
      say(
        `${runDir}: it is written by ${describeIdentity(writer.holder)}, which is not on this machine: stop it there (akd stop on ${writer.holder.host})`,
      );
      return EXIT.failed;
    }
    const pid = writer.holder.pid;
    process.kill(pid, 'SIGTERM');
    say(`sent SIGTERM to pid ${pid}`);
    while (!latestSession(readEvents(file))?.ended) {
      if (Date.now() > deadline) {
        say(`${runDir}: pid ${pid} has not ended the run after ${opts.waitMs / 1000} s`);
        return EXIT.failed;
      }
      if (runWriter(runDir).state !== 'writing' && !latestSession(readEvents(file))?.ended) {
        say(
          `${runDir}: pid ${pid} ended without an end event (crashed); akd resume continues from its last checkpoint`,
        );
        return EXIT.failed;
      }
      await sleep(200);
    }
  }
  const end = latestSession(readEvents(file))?.ended;
  if (opts.json && end) process.stdout.write(JSON.stringify(end) + '\n');
  say(
    `${runDir}: ${end ? end.type.replace('run-', '') : 'ended'}${end?.type === 'run-cancelled' && end.position ? ` at ${end.position.phase} epoch ${end.position.epoch + 1}, batch ${end.position.batch} (checkpoint saved; akd resume continues)` : ''}`,
  );
  return EXIT.ok;
}

/** `akd follow RUN`: re-attach to a Slurm run (e.g. after --detach) and follow it to its end. */
export async function followRun(runDir: string, json: boolean): Promise<number> {
  const file = path.join(runDir, RUN_FILES.events);
  const events = readEvents(file);
  const session = latestSession(events);
  if (!session?.submitted) return followLocal(runDir, json);
  const print = eventPrinter(json);
  // Print this session's events so far, then follow from the end of the file.
  for (const e of events.slice(session.index)) print(e);
  if (session.final) return exitCodeFor(session.ended);
  const client = new SlurmClient();
  const terminal = await followSlurmRun({
    runDir,
    jobId: session.submitted.jobId,
    fromOffset: EventTail.sizeOf(file),
    client,
    onEvent: print,
    warn,
  });
  return exitCodeFor(terminal ?? latestSession(readEvents(file))?.ended);
}

/**
 * `akd follow RUN` for a run trained on this machine: its latest session's events so far, then new
 * ones until its end. When its writer (the run lock's holder, by pid and start time) is gone
 * without an end event, the run crashed: said so, exit 1.
 */
async function followLocal(runDir: string, json: boolean): Promise<number> {
  const file = path.join(runDir, RUN_FILES.events);
  const print = eventPrinter(json);
  const tail = new EventTail(file, 0);
  const all = tail.readNew();
  let session = latestSession(all);
  for (const e of all.slice(session?.index ?? all.length)) print(e);
  for (;;) {
    if (session?.ended) return exitCodeFor(session.ended);
    if (!runWriterAlive(runDir, session?.started?.pid)) {
      session = latestSession(readEvents(file)); // it may have ended just now
      if (session?.ended) {
        for (const e of tail.readNew()) print(e);
        return exitCodeFor(session.ended);
      }
      warn(
        `${runDir}: crashed: its process (pid ${session?.started?.pid ?? '?'}) is gone without an end event; akd resume continues from its last checkpoint`,
      );
      return EXIT.failed;
    }
    await sleep(200);
    for (const e of tail.readNew()) print(e);
    session = latestSession(readEvents(file));
  }
}

/** The effective launcher of an existing run (for resume): its config.json's block. */
export function runLauncher(runDir: string): LauncherConfig | undefined {
  return readJson<ExperimentConfig>(path.join(runDir, RUN_FILES.config))?.launcher;
}
