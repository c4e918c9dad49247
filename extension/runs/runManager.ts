/**
 * Every run the window knows about: the ones it started (followed through the runner's stdout)
 * and the ones found on disk under `<config dir>/.akd/runs/*` (followed by tailing events.jsonl,
 * which is how runs still going after a window reload are re-attached). Starts, stops, resumes
 * and deletes runs; tells the views when anything changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../../runner/store/runStore';
import type { RunEvent, SweepEvent } from '../../runner/protocol';
import { EventFileReader } from './eventFileReader';
import { launcherArgs, type LauncherType } from './launcher';
import { processAlive } from './processAlive';
import { RunnerProcess, stopPid, type RunnerCommand } from './runnerProcess';
import { applyEvents, initialRunState, isActive, isTerminal, type RunState } from './runState';
import {
  applySweepEvents,
  sweepStatus,
  type SweepDisplayStatus,
  type SweepMember,
  type SweepState,
} from './sweepState';

/** runner/sweep/manifest.ts SWEEP_FILES (not imported: that module loads the data readers). */
const SWEEP_FILES = { manifest: 'sweep.json', events: 'sweep-events.jsonl' } as const;

export interface RunManagerOptions {
  /** `<extension>/bin/akd.js`. */
  runnerScript: string;
  node(): string;
  maxConcurrentRuns(): number;
  stopTimeoutMs(): number;
  isTrusted(): boolean;
  /** annealKd.launcher: used for configs without a `launcher` block. */
  launcher?(): LauncherType;
  log: vscode.LogOutputChannel;
}

interface SweepEntry {
  state: SweepState;
  reader: EventFileReader;
  /** `akd sweep|resume SWEEP_DIR --json` spawned by this window. */
  process?: RunnerProcess;
}

/** A run refused before it started; the message is meant for the user as is. */
export class RunRefusedError extends Error {}

interface RunEntry {
  state: RunState;
  reader: EventFileReader;
  process?: RunnerProcess;
  /** Seen going, in this window: its end earns a notification. Runs found finished do not. */
  live: boolean;
}

/** A run this window spawned that has not said `run-started` yet (no folder known). */
interface PendingRun {
  id: string;
  configPath: string;
  process: RunnerProcess;
  sweep?: boolean;
}

export interface RunFinished {
  run: RunState;
}

const POLL_MS = 1000;
const CONFIG_GLOB = '**/*.akd.json';
const CONFIG_EXCLUDE = '**/{node_modules,.akd,.git}/**';

export function samePath(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const na = path.resolve(a);
  const nb = path.resolve(b);
  return process.platform === 'win32' ? na.toLowerCase() === nb.toLowerCase() : na === nb;
}

export class RunManager implements vscode.Disposable {
  private readonly runs = new Map<string, RunEntry>();
  private readonly pending = new Map<string, PendingRun>();
  private readonly sweeps = new Map<string, SweepEntry>();
  /** `akd follow RUN` started for Slurm runs found going with no process of ours (one try each). */
  private readonly followers = new Map<string, RunnerProcess>();
  private configPaths: string[] = [];
  private pendingCounter = 0;
  private poller: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  private readonly changed = new vscode.EventEmitter<void>();
  /** Anything about any run changed (views re-render; cheap to fire). */
  readonly onDidChange = this.changed.event;
  private readonly finished = new vscode.EventEmitter<RunFinished>();
  /** A run seen going in this window reached completed or failed or cancelled. */
  readonly onDidFinish = this.finished.event;

  constructor(private readonly options: RunManagerOptions) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/.akd/runs/*/events.jsonl');
    const onRunsChanged = (): void => {
      void this.refresh();
    };
    watcher.onDidCreate(onRunsChanged, undefined, this.disposables);
    watcher.onDidDelete(onRunsChanged, undefined, this.disposables);
    // A run that ended may start again from elsewhere (akd resume in a terminal, a resubmitted job).
    const onEventsChanged = (uri: vscode.Uri): void => {
      this.onEventsChanged(uri.fsPath);
    };
    watcher.onDidChange(onEventsChanged, undefined, this.disposables);
    const configWatcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB);
    configWatcher.onDidCreate(onRunsChanged, undefined, this.disposables);
    configWatcher.onDidDelete(onRunsChanged, undefined, this.disposables);
    const sweepWatcher = vscode.workspace.createFileSystemWatcher(
      '**/.akd/sweeps/*/{sweep.json,*/events.jsonl}',
    );
    sweepWatcher.onDidCreate(onRunsChanged, undefined, this.disposables);
    sweepWatcher.onDidDelete(onRunsChanged, undefined, this.disposables);
    sweepWatcher.onDidChange(onEventsChanged, undefined, this.disposables);
    this.disposables.push(watcher, configWatcher, sweepWatcher, this.changed, this.finished);
  }

  // ---- reading ---------------------------------------------------------------------------

  /** Configs in the workspace (absolute paths), sorted. */
  get configs(): readonly string[] {
    // A folder deleted outside the editor may not report each config inside it.
    return this.configPaths.filter((c) => fs.existsSync(c));
  }

  /** All known runs (sweep members included), newest first. */
  allRuns(): RunState[] {
    return [...this.runs.values()].map((e) => e.state).sort((a, b) => b.runId.localeCompare(a.runId));
  }

  /** A config's own runs (not its sweeps' members), newest first. */
  runsOf(configPath: string): RunState[] {
    return this.allRuns().filter((r) => !r.sweepDir && samePath(r.configPath, configPath));
  }

  /** Configs with a run or sweep whose start has been requested but has no folder yet. */
  startingConfigs(): string[] {
    return [...this.pending.values()].map((p) => p.configPath);
  }

  /** All known sweeps, newest first. */
  allSweeps(): SweepState[] {
    return [...this.sweeps.values()].map((e) => e.state).sort((a, b) => b.sweepId.localeCompare(a.sweepId));
  }

  sweepsOf(configPath: string): SweepState[] {
    return this.allSweeps().filter((s) => samePath(s.configPath, configPath));
  }

  getSweep(sweepDir: string): SweepState | undefined {
    return this.sweeps.get(path.resolve(sweepDir))?.state;
  }

  /** Each member's run, in the manifest's order; undefined for a member that has not started. */
  membersOf(sweep: SweepState): (RunState | undefined)[] {
    return sweep.members.map((m) => this.runs.get(m.runDir)?.state);
  }

  private orchestratorAlive(entry: SweepEntry): boolean {
    if (entry.process?.running) return true;
    return entry.state.orchestratorPid !== undefined && processAlive(entry.state.orchestratorPid);
  }

  sweepStatus(sweepDir: string): SweepDisplayStatus | undefined {
    const entry = this.sweeps.get(path.resolve(sweepDir));
    return entry
      ? sweepStatus(entry.state, this.membersOf(entry.state), this.orchestratorAlive(entry))
      : undefined;
  }

  get(runDir: string): RunState | undefined {
    return this.runs.get(path.resolve(runDir))?.state;
  }

  activeRuns(): RunState[] {
    return this.allRuns().filter((r) => isActive(r.status));
  }

  /** Rescan the workspace for configs and their run folders. */
  async refresh(): Promise<void> {
    const uris = await vscode.workspace.findFiles(CONFIG_GLOB, CONFIG_EXCLUDE);
    // Shallow first (the workspace root's configs on top), then by path.
    const depth = (p: string): number => p.split(path.sep).length;
    this.configPaths = uris.map((u) => u.fsPath).sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
    const roots = new Set(this.configPaths.map((c) => path.join(path.dirname(c), '.akd', 'runs')));
    for (const entry of this.runs.values())
      if (!entry.state.sweepDir) roots.add(path.dirname(entry.state.runDir));
    const seen = new Set<string>();
    const sweepRoots = new Set(this.configPaths.map((c) => path.join(path.dirname(c), '.akd', 'sweeps')));
    for (const sweepDir of this.sweeps.keys()) sweepRoots.add(path.dirname(sweepDir));
    const seenSweeps = new Set<string>();
    for (const root of sweepRoots) {
      let names: string[];
      try {
        names = fs.readdirSync(root);
      } catch {
        continue;
      }
      for (const name of names) {
        const sweepDir = path.join(root, name);
        if (this.readSweep(sweepDir, seen)) seenSweeps.add(sweepDir);
      }
    }
    for (const [sweepDir, entry] of this.sweeps) {
      if (!seenSweeps.has(sweepDir) && !entry.process?.running) this.sweeps.delete(sweepDir);
    }
    for (const root of roots) {
      let names: string[];
      try {
        names = fs.readdirSync(root);
      } catch {
        continue;
      }
      for (const name of names) {
        const runDir = path.join(root, name);
        if (!fs.existsSync(path.join(runDir, RUN_FILES.events))) continue;
        seen.add(runDir);
        this.readFromDisk(runDir);
      }
    }
    for (const [runDir, entry] of this.runs) {
      if (!seen.has(runDir) && !entry.process?.running) this.runs.delete(runDir);
    }
    this.schedulePolling();
    this.changed.fire();
  }

  /** A known run's events.jsonl changed: read it unless this window reads the run's stdout. */
  private onEventsChanged(file: string): void {
    if (path.basename(file) !== RUN_FILES.events) return;
    const entry = this.runs.get(path.dirname(file));
    if (!entry || entry.process?.running) return;
    const wasActive = isActive(entry.state.status);
    this.readFromDisk(entry.state.runDir, entry.state.sweepDir);
    if (!wasActive && isActive(entry.state.status)) {
      entry.live = !entry.state.sweepDir;
      if (entry.state.job) this.ensureSlurmFollower(entry);
    }
    this.schedulePolling();
    this.changed.fire();
  }

  /** Read (or re-read) a sweep folder: manifest once, new sweep events, members that have started. */
  private readSweep(sweepDir: string, seen?: Set<string>): boolean {
    let entry = this.sweeps.get(sweepDir);
    if (!entry) {
      let manifest: {
        kind?: string;
        name?: string;
        configPath?: string;
        createdAt?: string;
        members?: (Omit<SweepMember, 'runDir'> & { runDir: string })[];
      };
      try {
        manifest = JSON.parse(
          fs.readFileSync(path.join(sweepDir, SWEEP_FILES.manifest), 'utf8'),
        ) as typeof manifest;
      } catch {
        return false;
      }
      if (manifest.kind !== 'akd-sweep' || !Array.isArray(manifest.members) || !manifest.configPath)
        return false;
      const state: SweepState = {
        sweepDir,
        sweepId: path.basename(sweepDir),
        name: manifest.name ?? path.basename(sweepDir),
        configPath: manifest.configPath,
        createdAt: manifest.createdAt,
        members: manifest.members.map((m) => ({
          id: m.id,
          index: m.index,
          method: m.method,
          seed: m.seed,
          overrides: m.overrides ?? {},
          runDir: path.resolve(sweepDir, m.runDir),
        })),
      };
      entry = { state, reader: new EventFileReader(path.join(sweepDir, SWEEP_FILES.events)) };
      this.sweeps.set(sweepDir, entry);
    }
    entry.state = applySweepEvents(entry.state, entry.reader.readNew() as unknown as SweepEvent[]);
    for (const m of entry.state.members) {
      if (!fs.existsSync(path.join(m.runDir, RUN_FILES.events))) continue;
      seen?.add(m.runDir);
      this.readFromDisk(m.runDir, sweepDir);
      if (this.runs.get(m.runDir)?.state.job) entry.state.slurm = true;
    }
    return true;
  }

  /** Read a run folder's new events (not for runs whose stdout this window is reading). */
  private readFromDisk(runDir: string, sweepDir?: string): void {
    let entry = this.runs.get(runDir);
    if (!entry) {
      entry = {
        state: { ...initialRunState(path.basename(runDir), runDir), sweepDir },
        reader: new EventFileReader(path.join(runDir, RUN_FILES.events)),
        live: false,
      };
      this.runs.set(runDir, entry);
      entry.state = applyEvents(entry.state, entry.reader.readNew());
      entry.state = this.withLiveness(entry.state);
      // Found going: re-attach (tail it, notify at its end; not each member of a sweep).
      entry.live = isActive(entry.state.status) && !sweepDir;
      if (entry.live && entry.state.job) this.ensureSlurmFollower(entry);
      return;
    }
    if (entry.process?.running) return;
    this.apply(entry, entry.reader.readNew());
    entry.state = this.withLiveness(entry.state);
  }

  /**
   * A run that says it is running but whose process is gone was interrupted. Slurm runs have
   * their process on another machine: they end with their job, which the runner's follower settles
   * (a final job-state, and a run-failed/run-cancelled when the run wrote no end; runState folds
   * the final job-state the same way), so no pid check applies to them.
   */
  private withLiveness(state: RunState): RunState {
    if (state.job) return state;
    return state.status === 'running' && !processAlive(state.pid)
      ? { ...state, status: 'interrupted' }
      : state;
  }

  /**
   * A Slurm run found going with no process of this window following it (submitted with
   * --detach, or its `akd run` follower is gone): `akd follow RUN` asks Slurm and settles the job
   * when it ends, so the run cannot stay "running" forever. It keeps going after a reload; if
   * the `akd run` of an earlier window still follows too, the runner settles the job once
   * (runner/launch/slurmRun.ts: an O_EXCL marker).
   */
  private ensureSlurmFollower(entry: RunEntry): void {
    const runDir = entry.state.runDir;
    if (
      this.followers.has(runDir) ||
      entry.process?.running ||
      !this.options.isTrusted() ||
      !fs.existsSync(this.options.runnerScript)
    )
      return;
    const log = this.options.log;
    const follower = new RunnerProcess(this.command(['follow', runDir], path.dirname(runDir)), {
      onEvent: () => undefined,
      onOutput: (line) => log.info(`[${entry.state.runId} follow] ${line}`),
    });
    this.followers.set(runDir, follower);
    log.info(
      `[${entry.state.runId}] following Slurm job ${entry.state.job?.id ?? '?'} (akd follow, pid ${follower.pid ?? '?'})`,
    );
    void follower.exited.then((exit) => log.info(`[${entry.state.runId} follow] exited (code ${exit.code})`));
  }

  private apply(entry: RunEntry, events: RunEvent[]): boolean {
    if (events.length === 0) return false;
    const before = entry.state.status;
    entry.state = applyEvents(entry.state, events);
    if (entry.live && !isTerminal(before) && isTerminal(entry.state.status)) {
      entry.live = false;
      this.finished.fire({ run: entry.state });
    }
    return true;
  }

  /** Tail runs that are going but not ours (re-attached) once a second, only while there are any. */
  private schedulePolling(): void {
    const needed =
      [...this.runs.values()].some((e) => isActive(e.state.status) && !e.process?.running) ||
      [...this.sweeps.values()].some((e) => this.orchestratorAlive(e));
    if (needed && !this.poller) {
      this.poller = setInterval(() => this.poll(), POLL_MS);
    } else if (!needed && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  private poll(): void {
    let changed = false;
    // Running sweeps: their new events and the members that started since.
    for (const [sweepDir, entry] of this.sweeps) {
      if (!this.orchestratorAlive(entry)) continue;
      const before = this.runs.size;
      const orchestrator = entry.state.orchestratorPid;
      this.readSweep(sweepDir);
      changed = changed || this.runs.size !== before || orchestrator !== entry.state.orchestratorPid;
    }
    for (const entry of this.runs.values()) {
      if (!isActive(entry.state.status) || entry.process?.running) continue;
      changed = this.apply(entry, entry.reader.readNew()) || changed;
      const checked = this.withLiveness(entry.state);
      if (checked !== entry.state) {
        entry.state = checked;
        entry.live = false;
        changed = true;
      }
    }
    this.schedulePolling();
    if (changed) this.changed.fire();
  }

  // ---- acting ------------------------------------------------------------------------------

  assertCanStart(what: string): void {
    if (!this.options.isTrusted()) {
      throw new RunRefusedError(
        `${what}: this workspace is not trusted. Anneal KD checks configs here but does not run the runner on untrusted files; trust the workspace to run experiments.`,
      );
    }
    if (!fs.existsSync(this.options.runnerScript)) {
      throw new RunRefusedError(
        `${what}: the runner is missing at ${this.options.runnerScript} (in a source checkout, run \`npm run build\`).`,
      );
    }
    const max = this.options.maxConcurrentRuns();
    // A sweep counts as one run: its members are limited by its own concurrency.
    const running = this.activeRuns().filter((r) => !r.sweepDir).length;
    const sweeps = [...this.sweeps.values()].filter(
      (e) =>
        this.sweepStatus(e.state.sweepDir) === 'running' || this.sweepStatus(e.state.sweepDir) === 'starting',
    ).length;
    const active = running + sweeps + this.pending.size;
    if (active >= max) {
      throw new RunRefusedError(
        `${what}: ${active} run${active === 1 ? ' is' : 's are'} already going (annealKd.maxConcurrentRuns is ${max}). Stop one or raise the setting.`,
      );
    }
  }

  private command(args: string[], cwd: string): RunnerCommand {
    return { node: this.options.node(), script: this.options.runnerScript, args, cwd };
  }

  /** The `akd export ...` command for a run (Export Student); refused where akd may not run. */
  exportCommand(runDir: string, args: string[]): RunnerCommand {
    if (!this.options.isTrusted())
      throw new RunRefusedError('Export Student: this workspace is not trusted; trust it to run akd export.');
    if (!fs.existsSync(this.options.runnerScript))
      throw new RunRefusedError(`Export Student: the runner is missing at ${this.options.runnerScript}.`);
    return this.command(args, path.dirname(runDir));
  }

  /** The launcher flag for a config (see launcherArgs). */
  private launcherFor(configPath: string): string[] {
    let text: string | undefined;
    try {
      text = fs.readFileSync(configPath, 'utf8');
    } catch {
      text = undefined;
    }
    return launcherArgs(text, this.options.launcher?.());
  }

  /**
   * Start `akd run CONFIG --json [--launcher local|slurm]`; resolves with the run folder once the
   * runner announced it (run-started, or job-submitted for a Slurm run).
   */
  start(configPath: string): Promise<string> {
    configPath = path.resolve(configPath);
    try {
      this.assertCanStart('Run Experiment');
    } catch (e) {
      return Promise.reject(e);
    }
    const id = `pending-${++this.pendingCounter}`;
    const log = this.options.log;
    return new Promise<string>((resolve, reject) => {
      let entry: RunEntry | undefined;
      const stderr: string[] = [];
      const proc = new RunnerProcess(
        this.command(
          ['run', configPath, '--json', ...this.launcherFor(configPath)],
          path.dirname(configPath),
        ),
        {
          onEvent: (event) => {
            if ((event.type === 'run-started' || event.type === 'job-submitted') && !entry) {
              this.pending.delete(id);
              const runDir = path.resolve(event.runDir);
              const runId = event.type === 'run-started' ? event.runId : path.basename(runDir);
              entry = {
                state: initialRunState(runId, runDir),
                reader: new EventFileReader(path.join(runDir, RUN_FILES.events)),
                process: proc,
                live: true,
              };
              this.runs.set(runDir, entry);
              log.info(
                event.type === 'run-started'
                  ? `[${runId}] started (pid ${event.pid}, backend ${event.backend})`
                  : `[${runId}] submitted as Slurm job ${event.jobId}`,
              );
              resolve(runDir);
            }
            if (entry) this.onStdoutEvent(entry, event);
          },
          onOutput: (line, stream) => {
            if (stream === 'stderr') stderr.push(line);
            log.info(`[${entry?.state.runId ?? path.basename(configPath)}] ${line}`);
          },
        },
      );
      this.pending.set(id, { id, configPath, process: proc });
      log.info(
        `run ${path.basename(configPath)}: ${proc.command.node} ${proc.command.script} ${proc.command.args.join(' ')} (pid ${proc.pid ?? '?'})`,
      );
      this.changed.fire();
      void proc.exited.then((exit) => {
        this.pending.delete(id);
        log.info(
          `[${entry?.state.runId ?? path.basename(configPath)}] runner exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`,
        );
        if (entry) this.afterExit(entry);
        else {
          const why = exit.code === 2 ? 'the config is invalid' : `the runner exited with code ${exit.code}`;
          reject(new RunRefusedError(`Run Experiment: ${why}. ${stderr.slice(-3).join(' ')}`.trim()));
        }
        this.changed.fire();
      });
    });
  }

  /** `akd resume RUN --json`, into the same run folder. */
  async resume(runDir: string): Promise<string> {
    runDir = path.resolve(runDir);
    const entry = this.runs.get(runDir);
    if (!entry) throw new RunRefusedError(`Resume Run: no run at ${runDir}`);
    if (entry.state.status === 'completed')
      throw new RunRefusedError('Resume Run: this run has completed; nothing to resume.');
    if (isActive(entry.state.status)) throw new RunRefusedError('Resume Run: this run is still going.');
    this.assertCanStart('Resume Run');
    const log = this.options.log;
    // Events before the resume are already folded in; from here on stdout is the source.
    entry.reader.readNew();
    entry.live = true;
    entry.state = { ...entry.state, status: 'starting' };
    entry.process = new RunnerProcess(this.command(['resume', runDir, '--json'], path.dirname(runDir)), {
      onEvent: (event) => this.onStdoutEvent(entry, event),
      onOutput: (line) => log.info(`[${entry.state.runId}] ${line}`),
    });
    log.info(`[${entry.state.runId}] resuming (pid ${entry.process.pid ?? '?'})`);
    this.changed.fire();
    void entry.process.exited.then((exit) => {
      log.info(
        `[${entry.state.runId}] runner exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`,
      );
      this.afterExit(entry);
      this.changed.fire();
    });
    return runDir;
  }

  private onStdoutEvent(entry: RunEntry, event: RunEvent): void {
    if (event.type === 'log') {
      const line = `[${entry.state.runId}] ${event.message}`;
      if (event.level === 'error') this.options.log.error(line);
      else if (event.level === 'warning') this.options.log.warn(line);
      else this.options.log.info(line);
    }
    this.apply(entry, [event]);
    this.changed.fire();
  }

  /** The process is gone: reconcile with the file (the source of truth) and settle the status. */
  private afterExit(entry: RunEntry): void {
    entry.process = undefined;
    entry.reader.reset();
    const fromDisk = applyEvents(
      { ...initialRunState(entry.state.runId, entry.state.runDir), sweepDir: entry.state.sweepDir },
      entry.reader.readNew(),
    );
    const before = entry.state.status;
    if (fromDisk.job && isActive(fromDisk.status)) {
      // Our `akd run --launcher slurm` stopped following a job that is still queued or running:
      // the job goes on without it; `akd follow` takes over so its end gets written.
      entry.state = fromDisk;
      this.ensureSlurmFollower(entry);
      this.schedulePolling();
      return;
    }
    entry.state =
      fromDisk.status === 'running' || fromDisk.status === 'unknown'
        ? { ...fromDisk, status: 'interrupted' }
        : fromDisk;
    if (entry.live && !isTerminal(before) && isTerminal(entry.state.status))
      this.finished.fire({ run: entry.state });
    if (entry.live && entry.state.status === 'interrupted') this.finished.fire({ run: entry.state });
    entry.live = false;
    this.schedulePolling();
  }

  /** SIGTERM, then SIGKILL after annealKd.stopTimeoutSeconds. Resolves when the process is gone. */
  async stop(runDir: string): Promise<RunState | undefined> {
    runDir = path.resolve(runDir);
    const entry = this.runs.get(runDir);
    if (!entry) return undefined;
    const timeout = this.options.stopTimeoutMs();
    if (entry.state.job) {
      // A Slurm job: its pid belongs to a compute node, so never signal a local process with that
      // number; `akd stop` cancels the job (scancel), waits for its checkpoint (Slurm's KillWait
      // is 30 s by default) and settles it. Our own follower, if any, then ends by itself.
      this.options.log.info(`[${entry.state.runId}] stopping Slurm job ${entry.state.job.id} (akd stop)`);
      const stopper = new RunnerProcess(
        this.command(
          ['stop', runDir, '--wait', String(Math.max(60, Math.ceil(timeout / 1000)))],
          path.dirname(runDir),
        ),
        {
          onEvent: () => undefined,
          onOutput: (line) => this.options.log.info(`[${entry.state.runId}] ${line}`),
        },
      );
      await stopper.exited;
      this.readFromDisk(runDir);
      this.poll();
      this.changed.fire();
      return this.runs.get(runDir)?.state;
    }
    this.options.log.info(`[${entry.state.runId}] stopping (SIGTERM, SIGKILL after ${timeout / 1000} s)`);
    if (entry.process?.running) {
      await entry.process.stop(timeout);
      await new Promise((r) => setTimeout(r, 50)); // let the exit handler reconcile
    } else if (entry.state.pid && entry.state.status === 'running') {
      await stopPid(entry.state.pid, timeout);
      this.readFromDisk(runDir);
      this.poll();
    }
    this.changed.fire();
    return this.runs.get(runDir)?.state;
  }

  // ---- sweeps --------------------------------------------------------------------------------

  /**
   * `akd sweep CONFIG --json [--launcher ...]` (or `akd resume SWEEP_DIR --json`): resolves with
   * the sweep folder once the orchestrator said sweep-started. Its members are followed through
   * their run folders, like runs started elsewhere.
   */
  startSweep(configPath: string): Promise<string> {
    configPath = path.resolve(configPath);
    try {
      this.assertCanStart('Run Sweep');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.spawnSweep(
      ['sweep', configPath, '--json', ...this.launcherFor(configPath)],
      configPath,
      'Run Sweep',
    );
  }

  async resumeSweep(sweepDir: string): Promise<string> {
    sweepDir = path.resolve(sweepDir);
    const entry = this.sweeps.get(sweepDir);
    if (!entry) throw new RunRefusedError(`Resume Sweep: no sweep at ${sweepDir}`);
    const status = this.sweepStatus(sweepDir);
    if (status === 'running' || status === 'starting')
      throw new RunRefusedError('Resume Sweep: this sweep is still going.');
    if (status === 'completed')
      throw new RunRefusedError('Resume Sweep: every member has completed; nothing to resume.');
    this.assertCanStart('Resume Sweep');
    // The members remember their launcher (config.json): no --launcher here.
    return this.spawnSweep(['resume', sweepDir, '--json'], entry.state.configPath, 'Resume Sweep');
  }

  private spawnSweep(args: string[], configPath: string, what: string): Promise<string> {
    const id = `pending-${++this.pendingCounter}`;
    const log = this.options.log;
    return new Promise<string>((resolve, reject) => {
      let sweepDir: string | undefined;
      const stderr: string[] = [];
      const proc = new RunnerProcess(this.command(args, path.dirname(configPath)), {
        onEvent: (raw) => {
          const event = raw as unknown as SweepEvent;
          if (event.type === 'sweep-started' && !sweepDir) {
            this.pending.delete(id);
            sweepDir = path.resolve(event.sweepDir);
            this.readSweep(sweepDir);
            const entry = this.sweeps.get(sweepDir);
            if (entry) entry.process = proc;
            log.info(
              `[${path.basename(sweepDir)}] sweep started: ${event.members} members, ${event.toRun} to run, ${event.concurrency} at a time (pid ${event.pid})`,
            );
            this.schedulePolling();
            this.changed.fire();
            resolve(sweepDir);
          } else if (
            event.type === 'sweep-log' ||
            event.type === 'member-ended' ||
            event.type === 'teacher-ready'
          ) {
            const text =
              event.type === 'sweep-log'
                ? event.message
                : event.type === 'member-ended'
                  ? `member ${event.id} ${event.status}${event.error ? `: ${event.error}` : ''}`
                  : `teacher ${event.key} ready (${event.source})`;
            log.info(`[${sweepDir ? path.basename(sweepDir) : 'sweep'}] ${text}`);
          }
          if (sweepDir) {
            this.readSweep(sweepDir);
            this.changed.fire();
          }
        },
        onOutput: (line, stream) => {
          if (stream === 'stderr') stderr.push(line);
          log.info(`[${sweepDir ? path.basename(sweepDir) : path.basename(configPath)}] ${line}`);
        },
      });
      this.pending.set(id, { id, configPath, process: proc, sweep: true });
      log.info(
        `${what} ${path.basename(configPath)}: ${proc.command.node} ${proc.command.script} ${proc.command.args.join(' ')} (pid ${proc.pid ?? '?'})`,
      );
      this.changed.fire();
      void proc.exited.then((exit) => {
        this.pending.delete(id);
        log.info(
          `[${sweepDir ? path.basename(sweepDir) : path.basename(configPath)}] akd sweep exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`,
        );
        if (!sweepDir) {
          const why = exit.code === 2 ? 'the config is invalid' : `the runner exited with code ${exit.code}`;
          reject(new RunRefusedError(`${what}: ${why}. ${stderr.slice(-3).join(' ')}`.trim()));
        }
        void this.refresh();
      });
    });
  }

  /**
   * Stop Sweep. A live orchestrator gets one SIGTERM (a local one forwards it once to each
   * running member, which checkpoints, and starts no more; a Slurm one scancels the jobs and
   * follows them to their end). With no orchestrator (a detached Slurm sweep, or a reload after
   * it died), `akd stop SWEEP_DIR` stops the members that are still going. Never both: a member
   * signalled twice exits without its checkpoint.
   */
  async stopSweep(sweepDir: string): Promise<SweepDisplayStatus | undefined> {
    sweepDir = path.resolve(sweepDir);
    const entry = this.sweeps.get(sweepDir);
    if (!entry) return undefined;
    const timeout = this.options.stopTimeoutMs();
    const log = this.options.log;
    // Members need the stop timeout to checkpoint; the orchestrator waits for them.
    const orchestratorTimeout = timeout + 30_000;
    if (entry.process?.running) {
      log.info(
        `[${entry.state.sweepId}] stopping the sweep (SIGTERM to akd sweep, pid ${entry.process.pid ?? '?'})`,
      );
      await entry.process.stop(orchestratorTimeout);
    } else if (entry.state.orchestratorPid !== undefined && processAlive(entry.state.orchestratorPid)) {
      log.info(`[${entry.state.sweepId}] stopping the sweep (SIGTERM to pid ${entry.state.orchestratorPid})`);
      await stopPid(entry.state.orchestratorPid, orchestratorTimeout);
    } else {
      log.info(`[${entry.state.sweepId}] stopping the sweep's members (akd stop)`);
      const stopper = new RunnerProcess(
        this.command(['stop', sweepDir, '--wait', String(Math.ceil(timeout / 1000))], path.dirname(sweepDir)),
        {
          onEvent: () => undefined,
          onOutput: (line) => log.info(`[${entry.state.sweepId}] ${line}`),
        },
      );
      await stopper.exited;
    }
    this.readSweep(sweepDir);
    this.poll();
    this.changed.fire();
    return this.sweepStatus(sweepDir);
  }

  /** `akd compare SWEEP_DIR --md FILE`: resolves with the Markdown file (in the sweep folder). */
  async compareSweep(sweepDir: string): Promise<string> {
    sweepDir = path.resolve(sweepDir);
    if (!this.options.isTrusted())
      throw new RunRefusedError('Compare: this workspace is not trusted; trust it to run akd compare.');
    const md = path.join(sweepDir, 'compare.md');
    const output: string[] = [];
    const proc = new RunnerProcess(this.command(['compare', sweepDir, '--md', md], path.dirname(sweepDir)), {
      onEvent: () => undefined,
      onOutput: (line) => {
        output.push(line);
        this.options.log.info(`[${path.basename(sweepDir)} compare] ${line}`);
      },
    });
    const exit = await proc.exited;
    if (exit.code !== 0 || !fs.existsSync(md)) {
      throw new RunRefusedError(
        `Compare: akd compare exited with code ${exit.code}. ${output
          .filter((l) => /akd compare/.test(l))
          .slice(-2)
          .join(' ')}`.trim(),
      );
    }
    return md;
  }

  /** Stop a run that has not announced its folder yet (all of them). */
  async stopPending(): Promise<void> {
    await Promise.all([...this.pending.values()].map((p) => p.process.stop(this.options.stopTimeoutMs())));
  }

  async delete(runDir: string): Promise<void> {
    runDir = path.resolve(runDir);
    const entry = this.runs.get(runDir);
    if (entry && isActive(entry.state.status)) throw new RunRefusedError('Delete Run: stop the run first.');
    // Its last event is written just before the process exits: let it finish closing files.
    if (entry?.process?.running)
      await Promise.race([entry.process.exited, new Promise((r) => setTimeout(r, 5000))]);
    await fs.promises.rm(runDir, { recursive: true, force: true });
    this.runs.delete(runDir);
    this.changed.fire();
  }

  /** Resolves when the run reaches one of the statuses (for commands that wait, and tests). */
  waitFor(runDir: string, statuses: RunState['status'][], timeoutMs: number): Promise<RunState> {
    runDir = path.resolve(runDir);
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const s = this.runs.get(runDir)?.state;
        if (s && statuses.includes(s.status)) {
          sub.dispose();
          clearTimeout(timer);
          resolve(s);
          return true;
        }
        return false;
      };
      const sub = this.onDidChange(() => {
        check();
      });
      const timer = setTimeout(() => {
        sub.dispose();
        reject(
          new Error(
            `run ${runDir} did not reach ${statuses.join('/')} in ${timeoutMs} ms (is ${this.runs.get(runDir)?.state.status})`,
          ),
        );
      }, timeoutMs);
      check();
    });
  }

  dispose(): void {
    if (this.poller) clearInterval(this.poller);
    // Runs keep going when the window closes (the runner drops output to its closed stdout); the
    // next window re-attaches to them through events.jsonl.
    for (const e of this.runs.values()) if (e.process?.running) e.process.detach();
    for (const e of this.sweeps.values()) if (e.process?.running) e.process.detach();
    for (const p of this.pending.values()) p.process.detach();
    for (const f of this.followers.values()) if (f.running) f.detach();
    for (const d of this.disposables) d.dispose();
  }
}
