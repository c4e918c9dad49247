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
import type { RunEvent } from '../../runner/protocol';
import { EventFileReader } from './eventFileReader';
import { processAlive } from './processAlive';
import { RunnerProcess, stopPid, type RunnerCommand } from './runnerProcess';
import { applyEvents, initialRunState, isActive, isTerminal, type RunState } from './runState';

export interface RunManagerOptions {
  /** `<extension>/bin/akd.js`. */
  runnerScript: string;
  node(): string;
  maxConcurrentRuns(): number;
  stopTimeoutMs(): number;
  isTrusted(): boolean;
  log: vscode.LogOutputChannel;
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
    const onRunsChanged = (): void => { void this.refresh(); };
    watcher.onDidCreate(onRunsChanged, undefined, this.disposables);
    watcher.onDidDelete(onRunsChanged, undefined, this.disposables);
    const configWatcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB);
    configWatcher.onDidCreate(onRunsChanged, undefined, this.disposables);
    configWatcher.onDidDelete(onRunsChanged, undefined, this.disposables);
    this.disposables.push(watcher, configWatcher, this.changed, this.finished);
  }

  // ---- reading ---------------------------------------------------------------------------

  /** Configs in the workspace (absolute paths), sorted. */
  get configs(): readonly string[] {
    // A folder deleted outside the editor may not report each config inside it.
    return this.configPaths.filter((c) => fs.existsSync(c));
  }

  /** All known runs, newest first. */
  allRuns(): RunState[] {
    return [...this.runs.values()].map((e) => e.state).sort((a, b) => b.runId.localeCompare(a.runId));
  }

  runsOf(configPath: string): RunState[] {
    return this.allRuns().filter((r) => samePath(r.configPath, configPath));
  }

  /** Configs with a run whose start has been requested but has no folder yet. */
  startingConfigs(): string[] {
    return [...this.pending.values()].map((p) => p.configPath);
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
    for (const entry of this.runs.values()) roots.add(path.dirname(entry.state.runDir));
    const seen = new Set<string>();
    for (const root of roots) {
      let names: string[];
      try { names = fs.readdirSync(root); } catch { continue; }
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

  /** Read a run folder's new events (not for runs whose stdout this window is reading). */
  private readFromDisk(runDir: string): void {
    let entry = this.runs.get(runDir);
    if (!entry) {
      entry = { state: initialRunState(path.basename(runDir), runDir), reader: new EventFileReader(path.join(runDir, RUN_FILES.events)), live: false };
      this.runs.set(runDir, entry);
      entry.state = applyEvents(entry.state, entry.reader.readNew());
      entry.state = this.withLiveness(entry.state);
      // Found going: re-attach (tail it, notify at its end).
      entry.live = isActive(entry.state.status);
      return;
    }
    if (entry.process?.running) return;
    this.apply(entry, entry.reader.readNew());
    entry.state = this.withLiveness(entry.state);
  }

  /**
   * A run that says it is running but whose process is gone was interrupted. Slurm runs have
   * their process elsewhere: they end with their job (a final job-state without a terminal event).
   */
  private withLiveness(state: RunState): RunState {
    if (state.job) return isActive(state.status) && state.job.final ? { ...state, status: 'interrupted' } : state;
    return state.status === 'running' && !processAlive(state.pid) ? { ...state, status: 'interrupted' } : state;
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
    const needed = [...this.runs.values()].some((e) => isActive(e.state.status) && !e.process?.running);
    if (needed && !this.poller) {
      this.poller = setInterval(() => this.poll(), POLL_MS);
    } else if (!needed && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  private poll(): void {
    let changed = false;
    for (const entry of this.runs.values()) {
      if (!isActive(entry.state.status) || entry.process?.running) continue;
      changed = this.apply(entry, entry.reader.readNew()) || changed;
      const checked = this.withLiveness(entry.state);
      if (checked !== entry.state) { entry.state = checked; entry.live = false; changed = true; }
    }
    this.schedulePolling();
    if (changed) this.changed.fire();
  }

  // ---- acting ------------------------------------------------------------------------------

  assertCanStart(what: string): void {
    if (!this.options.isTrusted()) {
      throw new RunRefusedError(`${what}: this workspace is not trusted. Anneal KD checks configs here but does not run the runner on untrusted files; trust the workspace to run experiments.`);
    }
    if (!fs.existsSync(this.options.runnerScript)) {
      throw new RunRefusedError(`${what}: the runner is missing at ${this.options.runnerScript} (in a source checkout, run \`npm run build\`).`);
    }
    const max = this.options.maxConcurrentRuns();
    const active = this.activeRuns().length + this.pending.size;
    if (active >= max) {
      throw new RunRefusedError(`${what}: ${active} run${active === 1 ? ' is' : 's are'} already going (annealKd.maxConcurrentRuns is ${max}). Stop one or raise the setting.`);
    }
  }

  private command(args: string[], cwd: string): RunnerCommand {
    return { node: this.options.node(), script: this.options.runnerScript, args, cwd };
  }

  /** Start `akd run CONFIG --json`; resolves with the run folder once the runner announced it. */
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
      const proc = new RunnerProcess(this.command(['run', configPath, '--json'], path.dirname(configPath)), {
        onEvent: (event) => {
          if (event.type === 'run-started' && !entry) {
            this.pending.delete(id);
            const runDir = path.resolve(event.runDir);
            entry = { state: initialRunState(event.runId, runDir), reader: new EventFileReader(path.join(runDir, RUN_FILES.events)), process: proc, live: true };
            this.runs.set(runDir, entry);
            log.info(`[${event.runId}] started (pid ${event.pid}, backend ${event.backend})`);
            resolve(runDir);
          }
          if (entry) this.onStdoutEvent(entry, event);
        },
        onOutput: (line, stream) => {
          if (stream === 'stderr') stderr.push(line);
          log.info(`[${entry?.state.runId ?? path.basename(configPath)}] ${line}`);
        },
      });
      this.pending.set(id, { id, configPath, process: proc });
      log.info(`run ${path.basename(configPath)}: ${proc.command.node} ${proc.command.script} ${proc.command.args.join(' ')} (pid ${proc.pid ?? '?'})`);
      this.changed.fire();
      void proc.exited.then((exit) => {
        this.pending.delete(id);
        log.info(`[${entry?.state.runId ?? path.basename(configPath)}] runner exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`);
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
    if (entry.state.status === 'completed') throw new RunRefusedError('Resume Run: this run has completed; nothing to resume.');
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
      log.info(`[${entry.state.runId}] runner exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`);
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
    const fromDisk = applyEvents(initialRunState(entry.state.runId, entry.state.runDir), entry.reader.readNew());
    const before = entry.state.status;
    entry.state = fromDisk.status === 'running' || fromDisk.status === 'unknown' ? { ...fromDisk, status: 'interrupted' } : fromDisk;
    if (entry.live && !isTerminal(before) && isTerminal(entry.state.status)) this.finished.fire({ run: entry.state });
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
    if (entry.state.job && !entry.process?.running) {
      // A Slurm job: its pid belongs to a compute node, so never signal a local process with that
      // number; `akd stop` cancels the job (scancel) and waits for its checkpoint.
      this.options.log.info(`[${entry.state.runId}] stopping Slurm job ${entry.state.job.id} (akd stop)`);
      const stopper = new RunnerProcess(this.command(['stop', runDir, '--wait', String(Math.ceil(timeout / 1000))], path.dirname(runDir)), {
        onEvent: () => undefined,
        onOutput: (line) => this.options.log.info(`[${entry.state.runId}] ${line}`),
      });
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

  /** Stop a run that has not announced its folder yet (all of them). */
  async stopPending(): Promise<void> {
    await Promise.all([...this.pending.values()].map((p) => p.process.stop(this.options.stopTimeoutMs())));
  }

  async delete(runDir: string): Promise<void> {
    runDir = path.resolve(runDir);
    const entry = this.runs.get(runDir);
    if (entry && isActive(entry.state.status)) throw new RunRefusedError('Delete Run: stop the run first.');
    // Its last event is written just before the process exits: let it finish closing files.
    if (entry?.process?.running) await Promise.race([entry.process.exited, new Promise((r) => setTimeout(r, 5000))]);
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
        if (s && statuses.includes(s.status)) { sub.dispose(); clearTimeout(timer); resolve(s); return true; }
        return false;
      };
      const sub = this.onDidChange(() => { check(); });
      const timer = setTimeout(() => { sub.dispose(); reject(new Error(`run ${runDir} did not reach ${statuses.join('/')} in ${timeoutMs} ms (is ${this.runs.get(runDir)?.state.status})`)); }, timeoutMs);
      check();
    });
  }

  dispose(): void {
    if (this.poller) clearInterval(this.poller);
    // Runs keep going when the window closes; the next window re-attaches to them.
    for (const d of this.disposables) d.dispose();
  }
}

