/**
 * Run lifecycle: start (`akd run CONFIG --json`), resume, stop, delete. A run this window starts
 * is followed through the runner's stdout while its process lives, then reconciled with its
 * events.jsonl (the source of truth); a Slurm run found going with nothing following its job
 * gets an `akd follow`, so it cannot stay "running" forever.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  applyEvents,
  describeHolder,
  runWriter,
  EventTail,
  initialRunState,
  isActive,
  isSweepEvent,
  isTerminal,
  RUN_FILES,
  type RunState,
  type StreamEvent,
} from '../../runner/protocol';
import { RunRefusedError, type AkdSpawner } from './akdSpawner';
import { QUEUE_NOTHING_TO_RUN } from '../../runner/protocol/queue';
import { withMeta, type RunDiscovery, type RunEntry } from './runDiscovery';
import { stopPid, type RunnerProcess } from './runnerProcess';

export class RunLifecycle {
  /** `akd follow RUN` started for Slurm runs found going with no process of ours (one try each). */
  private readonly followers = new Map<string, RunnerProcess>();

  constructor(
    private readonly known: RunDiscovery,
    private readonly akd: AkdSpawner,
  ) {}

  /** Whether the config runs on Slurm (its launcher block, else annealKd.launcher): Slurm queues it itself. */
  isSlurm(configPath: string): boolean {
    return this.akd.launcherTypeFor(configPath) === 'slurm';
  }

  /**
   * Start `akd run CONFIG --json [--set KEY=VALUE]... [--launcher local|slurm]`; resolves with the
   * run folder once the runner announced it (run-started, or job-submitted for a Slurm run). A
   * Slurm run is not held to annealKd.maxConcurrentRuns (Slurm queues it).
   */
  async start(configPath: string, set: readonly string[] = []): Promise<string> {
    configPath = path.resolve(configPath);
    this.akd.assertCanStart('Run Experiment', { slots: !this.isSlurm(configPath) });
    return this.startAnnouncedRun(
      'Run Experiment',
      ['run', configPath, '--json', ...set.flatMap((s) => ['--set', s]), ...this.akd.launcherFor(configPath)],
      configPath,
    );
  }

  /**
   * `akd queue next --root ROOT --json`: a process that claims the queue's next entry and trains
   * it (configPath: the entry expected next, shown as starting). Resolves with the run folder, or
   * undefined when another drainer took the entry first.
   */
  async startQueued(root: string, configPath: string): Promise<string | undefined> {
    this.akd.assertCanStart('Start Queued Run');
    try {
      return await this.startAnnouncedRun(
        'Start Queued Run',
        ['queue', 'next', '--root', root, '--json'],
        configPath,
        root,
      );
    } catch (e) {
      if (e instanceof RunRefusedError && e.exitCode === QUEUE_NOTHING_TO_RUN) return undefined;
      throw e;
    }
  }

  private startAnnouncedRun(what: string, args: string[], configPath: string, cwd?: string): Promise<string> {
    const log = this.akd.log;
    return this.akd
      .startAnnounced<RunEntry>({
        what,
        args,
        configPath,
        ...(cwd ? { cwd } : {}),
        announce: (event, process) => {
          if (event.type !== 'run-started' && event.type !== 'job-submitted') return undefined;
          const runDir = path.resolve(event.runDir);
          const runId = event.type === 'run-started' ? event.runId : path.basename(runDir);
          const entry: RunEntry = {
            state: withMeta(initialRunState(runId, runDir)),
            reader: new EventTail(path.join(runDir, RUN_FILES.events)),
            process,
            live: true,
          };
          this.known.runs.set(runDir, entry);
          log.info(
            event.type === 'run-started'
              ? `[${runId}] started (pid ${event.pid}, backend ${event.backend})`
              : `[${runId}] submitted as Slurm job ${event.jobId}`,
          );
          return entry;
        },
        onEvent: (event, entry) => this.onStdoutEvent(entry, event),
        label: (entry) => entry?.state.runId ?? path.basename(configPath),
        onExit: (entry) => {
          if (entry) this.afterExit(entry);
          this.known.fire();
        },
      })
      .then((entry) => entry.state.runDir);
  }

  /** `akd resume RUN --json`, into the same run folder. */
  async resume(runDir: string): Promise<string> {
    runDir = path.resolve(runDir);
    const entry = this.known.runs.get(runDir);
    if (!entry) throw new RunRefusedError(`Resume Run: no run at ${runDir}`);
    if (entry.state.status === 'completed')
      throw new RunRefusedError('Resume Run: this run has completed; nothing to resume.');
    if (isActive(entry.state.status)) throw new RunRefusedError('Resume Run: this run is still going.');
    // One writer per run folder: another process (a terminal's akd resume, another window) may hold it.
    const writer = runWriter(runDir);
    if (writer.state === 'writing')
      throw new RunRefusedError(
        `Resume Run: ${entry.state.runId} is being written by ${describeHolder(writer.holder)}; stop it or wait for it to end.`,
      );
    this.akd.assertCanStart('Resume Run');
    const log = this.akd.log;
    // Events before the resume are already folded in; from here on stdout is the source.
    entry.reader.readNew();
    entry.live = true;
    entry.state = { ...entry.state, status: 'starting' };
    // Resolves at the session's first event; a runner that refuses (its lock taken meanwhile, a
    // damaged checkpoint) exits before one, and its own one-line reason becomes the refusal.
    return new Promise<string>((resolve, reject) => {
      let started = false;
      const stderr: string[] = [];
      const process = this.akd.spawn(['resume', runDir, '--json'], path.dirname(runDir), entry.state.runId, {
        event: (event) => {
          if (!started) {
            started = true;
            resolve(runDir);
          }
          this.onStdoutEvent(entry, event);
        },
        line: (line, stream) => {
          if (stream === 'stderr') stderr.push(line);
        },
      });
      entry.process = process;
      log.info(`[${entry.state.runId}] resuming (pid ${process.pid ?? '?'})`);
      this.known.fire();
      void process.exited.then((exit) => {
        log.info(
          `[${entry.state.runId}] runner exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`,
        );
        if (!started) entry.live = false; // nothing ran: no "interrupted" notification for it
        this.afterExit(entry);
        this.known.fire();
        if (!started) {
          const why = stderr
            .filter((l) => l.startsWith('akd: '))
            .map((l) => l.slice(5))
            .pop();
          reject(
            new RunRefusedError(
              `Resume Run: ${why ?? `the runner exited with code ${exit.code}. ${stderr.slice(-2).join(' ')}`.trim()}`,
            ),
          );
        }
      });
    });
  }

  private onStdoutEvent(entry: RunEntry, event: StreamEvent): void {
    if (isSweepEvent(event)) return;
    if (event.type === 'log') {
      const line = `[${entry.state.runId}] ${event.message}`;
      if (event.level === 'error') this.akd.log.error(line);
      else if (event.level === 'warning') this.akd.log.warn(line);
      else this.akd.log.info(line);
    }
    this.known.apply(entry, [event]);
    this.known.fire();
  }

  /** The process is gone: reconcile with the file (the source of truth) and settle the status. */
  private afterExit(entry: RunEntry): void {
    entry.process = undefined;
    entry.reader.reset();
    const fromDisk = applyEvents(
      withMeta({ ...initialRunState(entry.state.runId, entry.state.runDir), sweepDir: entry.state.sweepDir }),
      entry.reader.readNew(),
    );
    const before = entry.state.status;
    if (fromDisk.job && isActive(fromDisk.status)) {
      // Our `akd run --launcher slurm` stopped following a job that is still queued or running:
      // the job goes on without it; `akd follow` takes over so its end gets written.
      entry.state = fromDisk;
      this.ensureSlurmFollower(entry);
      this.known.schedulePolling();
      return;
    }
    entry.state =
      fromDisk.status === 'running' || fromDisk.status === 'unknown'
        ? { ...fromDisk, status: 'interrupted' }
        : fromDisk;
    if (entry.live && !isTerminal(before) && isTerminal(entry.state.status)) this.known.finish(entry.state);
    if (entry.live && entry.state.status === 'interrupted') this.known.finish(entry.state);
    entry.live = false;
    this.known.schedulePolling();
  }

  /**
   * A Slurm run found going with no process of this window following it (submitted with
   * --detach, or its `akd run` follower is gone): `akd follow RUN` asks Slurm and settles the job
   * when it ends, so the run cannot stay "running" forever. It keeps going after a reload; if
   * the `akd run` of an earlier window still follows too, the runner settles the job once
   * (runner/launch/slurmRun.ts: an O_EXCL marker).
   */
  ensureSlurmFollower(entry: RunEntry): void {
    const runDir = entry.state.runDir;
    if (
      this.followers.has(runDir) ||
      entry.process?.running ||
      !this.akd.options.isTrusted() ||
      !fs.existsSync(this.akd.options.runnerScript)
    )
      return;
    const log = this.akd.log;
    const follower = this.akd.spawn(['follow', runDir], path.dirname(runDir), `${entry.state.runId} follow`);
    this.followers.set(runDir, follower);
    log.info(
      `[${entry.state.runId}] following Slurm job ${entry.state.job?.id ?? '?'} (akd follow, pid ${follower.pid ?? '?'})`,
    );
    void follower.exited.then((exit) => log.info(`[${entry.state.runId} follow] exited (code ${exit.code})`));
  }

  /** SIGTERM, then SIGKILL after annealKd.stopTimeoutSeconds. Resolves when the process is gone. */
  async stop(runDir: string): Promise<RunState | undefined> {
    runDir = path.resolve(runDir);
    const entry = this.known.runs.get(runDir);
    if (!entry) return undefined;
    const timeout = this.akd.options.stopTimeoutMs();
    if (entry.state.job) {
      // A Slurm job: its pid belongs to a compute node, so never signal a local process with that
      // number; `akd stop` cancels the job (scancel), waits for its checkpoint (Slurm's KillWait
      // is 30 s by default) and settles it. Our own follower, if any, then ends by itself.
      this.akd.log.info(`[${entry.state.runId}] stopping Slurm job ${entry.state.job.id} (akd stop)`);
      const stopper = this.akd.spawn(
        ['stop', runDir, '--wait', String(Math.max(60, Math.ceil(timeout / 1000)))],
        path.dirname(runDir),
        entry.state.runId,
      );
      await stopper.exited;
      this.known.readFromDisk(runDir);
      this.known.poll();
      this.known.fire();
      return this.known.runs.get(runDir)?.state;
    }
    this.akd.log.info(`[${entry.state.runId}] stopping (SIGTERM, SIGKILL after ${timeout / 1000} s)`);
    if (entry.process?.running) {
      await entry.process.stop(timeout);
      await new Promise((r) => setTimeout(r, 50)); // let the exit handler reconcile
    } else if (entry.state.status === 'running') {
      // Re-attached: signal the run lock's holder, and only while it is still that process (pid and start time).
      const writer = runWriter(runDir);
      if (writer.state === 'writing' && writer.certain) await stopPid(writer.holder, timeout);
      else if (writer.state === 'writing')
        throw new RunRefusedError(
          `Stop Run: ${entry.state.runId} is written by ${describeHolder(writer.holder)}, not on this machine; stop it there.`,
        );
      this.known.readFromDisk(runDir);
      this.known.poll();
    }
    this.known.fire();
    return this.known.runs.get(runDir)?.state;
  }

  async delete(runDir: string): Promise<void> {
    runDir = path.resolve(runDir);
    const entry = this.known.runs.get(runDir);
    if (entry && isActive(entry.state.status)) throw new RunRefusedError('Delete Run: stop the run first.');
    // Its last event is written just before the process exits: let it finish closing files.
    if (entry?.process?.running)
      await Promise.race([entry.process.exited, new Promise((r) => setTimeout(r, 5000))]);
    await fs.promises.rm(runDir, { recursive: true, force: true });
    this.known.runs.delete(runDir);
    this.known.fire();
  }

  dispose(): void {
    // `akd follow` goes on after the window: it settles the job when Slurm ends it.
    for (const f of this.followers.values()) if (f.running) f.detach();
  }
}
