/**
 * Run discovery: every run and sweep the window knows about, found on disk under
 * `<config dir>/.akd/{runs,sweeps}/*` and followed by tailing their events.jsonl and
 * sweep-events.jsonl (which is how runs still going after a window reload are re-attached). Runs
 * this window started are followed through their stdout instead (runLifecycle.ts) and skipped
 * here while their process runs. Tells the views when anything changed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  akdDirBeside,
  applyEvents,
  applySweepEvents,
  EventTail,
  initialRunState,
  isActive,
  isTerminal,
  metaFields,
  readManifest,
  readRunMeta,
  runWriterAlive,
  RUN_FILES,
  SWEEP_FILES,
  SweepEventTail,
  sweepStatus,
  type RunEvent,
  type RunState,
  type SweepDisplayStatus,
  type SweepManifest,
  type SweepState,
} from '../../runner/protocol';
import type { RunnerProcess } from './runnerProcess';

export interface RunEntry {
  state: RunState;
  reader: EventTail;
  /** `akd run|resume --json` spawned by this window: while it runs, its stdout is the source. */
  process?: RunnerProcess;
  /** Seen going, in this window: its end earns a notification. Runs found finished do not. */
  live: boolean;
}

export interface SweepEntry {
  state: SweepState;
  reader: SweepEventTail;
  /** `akd sweep|resume SWEEP_DIR --json` spawned by this window. */
  process?: RunnerProcess;
}

export interface RunFinished {
  run: RunState;
}

const POLL_MS = 1000;
/** A burst of new run folders waits this long for the rest before the rescan. */
const RESCAN_MS = 150;
/** Run folders read between two turns of the event loop. */
const SCAN_BATCH = 50;
const CONFIG_GLOB = '**/*.akd.json';
const CONFIG_EXCLUDE = '**/{node_modules,.akd,.git}/**';

/** A run's state with its star and note from its meta.json (protocol/runMeta.ts). */
export function withMeta(state: RunState): RunState {
  const next: RunState = { ...state };
  delete next.starred;
  delete next.note;
  return { ...next, ...metaFields(readRunMeta(state.runDir)) };
}

export function samePath(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const na = path.resolve(a);
  const nb = path.resolve(b);
  return process.platform === 'win32' ? na.toLowerCase() === nb.toLowerCase() : na === nb;
}

export class RunDiscovery implements vscode.Disposable {
  readonly runs = new Map<string, RunEntry>();
  readonly sweeps = new Map<string, SweepEntry>();
  private configPaths: string[] = [];
  private poller: NodeJS.Timeout | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private readonly disposables: vscode.Disposable[] = [];

  private readonly changed = new vscode.EventEmitter<void>();
  /** Anything about any run changed (views re-render; cheap to fire). */
  readonly onDidChange = this.changed.event;
  private readonly finished = new vscode.EventEmitter<RunFinished>();
  /** A run seen going in this window reached completed or failed or cancelled. */
  readonly onDidFinish = this.finished.event;

  /**
   * @param foundGoing a run found going with a Slurm job (found on disk, or started again from
   *   elsewhere): the lifecycle makes sure something follows the job to its end.
   */
  constructor(private readonly foundGoing: (entry: RunEntry) => void) {
    const watcher = vscode.workspace.createFileSystemWatcher('**/.akd/runs/*/events.jsonl');
    // Folders appear in bursts (a sweep, a copy of many runs): one rescan for a burst.
    const onRunsChanged = (): void => {
      if (this.rescanTimer) return;
      this.rescanTimer = setTimeout(() => {
        this.rescanTimer = undefined;
        void this.refresh();
      }, RESCAN_MS);
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
    // Stars and notes (akd star|note, from here or a terminal).
    const metaWatcher = vscode.workspace.createFileSystemWatcher('**/.akd/{runs/*,sweeps/*/*}/meta.json');
    const onMetaChanged = (uri: vscode.Uri): void => this.refreshMeta(path.dirname(uri.fsPath));
    metaWatcher.onDidCreate(onMetaChanged, undefined, this.disposables);
    metaWatcher.onDidChange(onMetaChanged, undefined, this.disposables);
    metaWatcher.onDidDelete(onMetaChanged, undefined, this.disposables);
    this.disposables.push(watcher, configWatcher, sweepWatcher, metaWatcher, this.changed, this.finished);
  }

  /** Re-read a run's star and note (after akd star|unstar|note). */
  refreshMeta(runDir: string): void {
    const entry = this.runs.get(path.resolve(runDir));
    if (!entry) return;
    entry.state = withMeta(entry.state);
    this.changed.fire();
  }

  /** Views re-render. */
  fire(): void {
    this.changed.fire();
  }

  /** A run seen going in this window ended (or was interrupted). */
  finish(run: RunState): void {
    this.finished.fire({ run });
  }

  // ---- what is known -----------------------------------------------------------------------

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

  /** All known sweeps, newest first. */
  allSweeps(): SweepState[] {
    return [...this.sweeps.values()].map((e) => e.state).sort((a, b) => b.sweepId.localeCompare(a.sweepId));
  }

  sweepsOf(configPath: string): SweepState[] {
    return this.allSweeps().filter((s) => samePath(s.configPath, configPath));
  }

  /** Each member's run, in the manifest's order; undefined for a member that has not started. */
  membersOf(sweep: SweepState): (RunState | undefined)[] {
    return sweep.members.map((m) => this.runs.get(m.runDir)?.state);
  }

  orchestratorAlive(entry: SweepEntry): boolean {
    if (entry.process?.running) return true;
    // The orchestrator holds the sweep folder's lock (pid and start time); older sweeps: the pid.
    return (
      entry.state.orchestratorPid !== undefined &&
      runWriterAlive(entry.state.sweepDir, entry.state.orchestratorPid)
    );
  }

  sweepStatus(sweepDir: string): SweepDisplayStatus | undefined {
    const entry = this.sweeps.get(path.resolve(sweepDir));
    return entry
      ? sweepStatus(entry.state, this.membersOf(entry.state), this.orchestratorAlive(entry))
      : undefined;
  }

  activeRuns(): RunState[] {
    return this.allRuns().filter((r) => isActive(r.status));
  }

  /** Runs and sweeps going now, as annealKd.maxConcurrentRuns counts them (a sweep is one). */
  activeCount(): number {
    const runs = this.activeRuns().filter((r) => !r.sweepDir).length;
    const sweeps = [...this.sweeps.values()].filter((e) => {
      const status = this.sweepStatus(e.state.sweepDir);
      return status === 'running' || status === 'starting';
    }).length;
    return runs + sweeps;
  }

  // ---- reading from disk -------------------------------------------------------------------

  /**
   * Rescan the workspace for configs and their run folders. Scans run one after another (a call
   * during a scan gets a full scan of its own after it), and a scan lets the event loop run
   * between batches of folders, so thousands of runs never block the extension host.
   */
  refresh(): Promise<void> {
    const next = this.scanning.then(() => this.scan());
    this.scanning = next.catch(() => undefined);
    return next;
  }

  private async scan(): Promise<void> {
    const uris = await vscode.workspace.findFiles(CONFIG_GLOB, CONFIG_EXCLUDE);
    // Shallow first (the workspace root's configs on top), then by path.
    const depth = (p: string): number => p.split(path.sep).length;
    this.configPaths = uris.map((u) => u.fsPath).sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
    const roots = new Set(this.configPaths.map((c) => akdDirBeside(c, 'runs')));
    for (const entry of this.runs.values())
      if (!entry.state.sweepDir) roots.add(path.dirname(entry.state.runDir));
    const seen = new Set<string>();
    const sweepRoots = new Set(this.configPaths.map((c) => akdDirBeside(c, 'sweeps')));
    for (const sweepDir of this.sweeps.keys()) sweepRoots.add(path.dirname(sweepDir));
    const seenSweeps = new Set<string>();
    for (const root of sweepRoots) {
      for (const name of listDir(root)) {
        const sweepDir = path.join(root, name);
        if (this.readSweep(sweepDir, seen)) seenSweeps.add(sweepDir);
      }
    }
    for (const [sweepDir, entry] of this.sweeps) {
      if (!seenSweeps.has(sweepDir) && !entry.process?.running) this.sweeps.delete(sweepDir);
    }
    let read = 0;
    for (const root of roots) {
      for (const name of listDir(root)) {
        const runDir = path.join(root, name);
        if (!fs.existsSync(path.join(runDir, RUN_FILES.events))) continue;
        seen.add(runDir);
        this.readFromDisk(runDir);
        // Known runs too: re-reading 2,000 events.jsonl tails is a stall of its own.
        if (++read % SCAN_BATCH === 0) await new Promise<void>((r) => setImmediate(r));
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
      if (entry.state.job) this.foundGoing(entry);
    }
    this.schedulePolling();
    this.changed.fire();
  }

  /** Read (or re-read) a sweep folder: manifest once, new sweep events, members that have started. */
  readSweep(sweepDir: string, seen?: Set<string>): boolean {
    let entry = this.sweeps.get(sweepDir);
    if (!entry) {
      let manifest: SweepManifest;
      try {
        manifest = readManifest(sweepDir);
      } catch {
        return false;
      }
      if (!manifest.configPath) return false;
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
      entry = { state, reader: new SweepEventTail(path.join(sweepDir, SWEEP_FILES.events)) };
      this.sweeps.set(sweepDir, entry);
    }
    entry.state = applySweepEvents(entry.state, entry.reader.readNew());
    for (const m of entry.state.members) {
      if (!fs.existsSync(path.join(m.runDir, RUN_FILES.events))) continue;
      seen?.add(m.runDir);
      this.readFromDisk(m.runDir, sweepDir);
      if (this.runs.get(m.runDir)?.state.job) entry.state.slurm = true;
    }
    return true;
  }

  /** Read a run folder's new events (not for runs whose stdout this window is reading). */
  readFromDisk(runDir: string, sweepDir?: string): void {
    let entry = this.runs.get(runDir);
    if (!entry) {
      entry = {
        state: withMeta({ ...initialRunState(path.basename(runDir), runDir), sweepDir }),
        reader: new EventTail(path.join(runDir, RUN_FILES.events)),
        live: false,
      };
      this.runs.set(runDir, entry);
      entry.state = applyEvents(entry.state, entry.reader.readNew());
      entry.state = this.withLiveness(entry.state);
      // Found going: re-attach (tail it, notify at its end; not each member of a sweep).
      entry.live = isActive(entry.state.status) && !sweepDir;
      if (entry.live && entry.state.job) this.foundGoing(entry);
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
    // The run's lock names its writer by pid AND start time: a reused pid is not the run.
    return state.status === 'running' && !runWriterAlive(state.runDir, state.pid)
      ? { ...state, status: 'interrupted' }
      : state;
  }

  /** Fold events into a run; a live run that reached its end is announced. */
  apply(entry: RunEntry, events: RunEvent[]): boolean {
    if (events.length === 0) return false;
    const before = entry.state.status;
    entry.state = applyEvents(entry.state, events);
    if (entry.live && !isTerminal(before) && isTerminal(entry.state.status)) {
      entry.live = false;
      this.finish(entry.state);
    }
    return true;
  }

  /** Tail runs that are going but not ours (re-attached) once a second, only while there are any. */
  schedulePolling(): void {
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

  poll(): void {
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

  dispose(): void {
    if (this.poller) clearInterval(this.poller);
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    // Runs keep going when the window closes (the runner drops output to its closed stdout); the
    // next window re-attaches to them through events.jsonl.
    for (const e of this.runs.values()) if (e.process?.running) e.process.detach();
    for (const e of this.sweeps.values()) if (e.process?.running) e.process.detach();
    for (const d of this.disposables) d.dispose();
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
