/**
 * Every run and sweep the window knows about, and what can be done with them: the one object the
 * commands, views and tests talk to. It puts together run discovery (runDiscovery.ts: what is on
 * disk, followed), the run lifecycle (runLifecycle.ts: start, resume, stop, delete) and sweeps
 * (sweepLifecycle.ts), which start `akd` through one spawner (akdSpawner.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ComparisonData, RunState, SweepDisplayStatus, SweepState } from '../../runner/protocol';
import { AkdSpawner, RunRefusedError, type AkdOptions } from './akdSpawner';
import type { RunnerCommand } from './runnerProcess';
import { RunDiscovery, type RunFinished } from './runDiscovery';
import { RunLifecycle } from './runLifecycle';
import { RunQueue, type QueuedItem } from './runQueue';
import { SweepLifecycle } from './sweepLifecycle';

export { RunRefusedError } from './akdSpawner';
export { samePath, type RunFinished } from './runDiscovery';
export type { QueuedItem } from './runQueue';

export interface RunManagerOptions extends AkdOptions {
  /** annealKd.queue.autoStart: the window starts queued runs when a slot frees (default: yes). */
  queueAutoStart?(): boolean;
  /** The folders whose .akd/queue.json the window drains (default: the workspace folders). */
  queueRoots?(): string[];
}

/** What Run Experiment did: started a run, or queued it (no slot was free). */
export type StartOrQueue = { started: string } | { queued: { root: string; id: string; position: number } };

/** `akd gc --json`, as Clean Up Runs shows it. */
export interface GcReport {
  dryRun: boolean;
  removed: { kind: 'completed' | 'failed' | 'teacher'; path: string; bytes: number }[];
  totals: Record<'completed' | 'failed' | 'teacher', { count: number; bytes: number }>;
  kept: { path: string; reason: string; bytes: number }[];
  errors: string[];
}

export class RunManager implements vscode.Disposable {
  private readonly known: RunDiscovery;
  private readonly akd: AkdSpawner;
  private readonly lifecycle: RunLifecycle;
  private readonly sweeps: SweepLifecycle;
  /** The shared run queue of each workspace folder, drained by this window. */
  readonly queue: RunQueue;
  private readonly drainOnChange: vscode.Disposable;

  /** Anything about any run changed (views re-render; cheap to fire). */
  readonly onDidChange: vscode.Event<void>;
  /** A run seen going in this window reached completed or failed or cancelled. */
  readonly onDidFinish: vscode.Event<RunFinished>;

  constructor(options: RunManagerOptions) {
    this.known = new RunDiscovery((entry) => this.lifecycle.ensureSlurmFollower(entry));
    this.akd = new AkdSpawner(
      options,
      () => this.known.activeCount(),
      () => this.known.fire(),
    );
    this.lifecycle = new RunLifecycle(this.known, this.akd);
    this.sweeps = new SweepLifecycle(this.known, this.akd);
    this.queue = new RunQueue(this.akd, {
      autoStart: () => options.queueAutoStart?.() ?? true,
      roots: () =>
        options.queueRoots?.() ?? (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      startClaimer: (root, configPath) => this.lifecycle.startQueued(root, configPath),
    });
    // A run ended or a start settled: a slot may be free for the queue.
    this.drainOnChange = this.known.onDidChange(() => this.queue.scheduleDrain());
    this.onDidChange = this.known.onDidChange;
    this.onDidFinish = this.known.onDidFinish;
  }

  // ---- reading -------------------------------------------------------------------------------

  /** Configs in the workspace (absolute paths), sorted. */
  get configs(): readonly string[] {
    return this.known.configs;
  }
  /** All known runs (sweep members included), newest first. */
  allRuns(): RunState[] {
    return this.known.allRuns();
  }
  /** A config's own runs (not its sweeps' members), newest first. */
  runsOf(configPath: string): RunState[] {
    return this.known.runsOf(configPath);
  }
  get(runDir: string): RunState | undefined {
    return this.known.runs.get(path.resolve(runDir))?.state;
  }
  activeRuns(): RunState[] {
    return this.known.activeRuns();
  }
  /** Configs with a run or sweep whose start has been requested but has no folder yet. */
  startingConfigs(): string[] {
    return this.akd.startingConfigs();
  }
  /** All known sweeps, newest first. */
  allSweeps(): SweepState[] {
    return this.known.allSweeps();
  }
  sweepsOf(configPath: string): SweepState[] {
    return this.known.sweepsOf(configPath);
  }
  getSweep(sweepDir: string): SweepState | undefined {
    return this.known.sweeps.get(path.resolve(sweepDir))?.state;
  }
  /** Each member's run, in the manifest's order; undefined for a member that has not started. */
  membersOf(sweep: SweepState): (RunState | undefined)[] {
    return this.known.membersOf(sweep);
  }
  sweepStatus(sweepDir: string): SweepDisplayStatus | undefined {
    return this.known.sweepStatus(sweepDir);
  }
  /** Rescan the workspace for configs, their run folders and the queues. */
  async refresh(): Promise<void> {
    await this.known.refresh();
    this.queue.reload();
  }

  /** The queue's entries (queued ones with their position), every root. */
  queued(): QueuedItem[] {
    return this.queue.items();
  }

  // ---- runs ----------------------------------------------------------------------------------

  /** Refuse (RunRefusedError) unless a run may start now: trust, the runner, maxConcurrentRuns (unless `slots: false`). */
  assertCanStart(what: string, opts: { slots?: boolean } = {}): void {
    this.akd.assertCanStart(what, opts);
  }
  /** `akd run CONFIG --json [--set ...]`: resolves with the run folder once the runner announced it. */
  start(configPath: string, set: readonly string[] = []): Promise<string> {
    return this.lifecycle.start(configPath, set);
  }

  /**
   * Run Experiment: start now when a slot is free (or the config runs on Slurm, which queues it
   * itself), else add it to the queue, which starts it when one frees.
   */
  async startOrQueue(configPath: string, set: readonly string[] = []): Promise<StartOrQueue> {
    this.akd.assertCanStart('Run Experiment', { slots: false });
    if (this.lifecycle.isSlurm(configPath) || this.akd.freeSlots() > 0)
      return { started: await this.start(configPath, set) };
    const { root, entry, position } = await this.queue.add(configPath, set);
    return { queued: { root, id: entry.id, position } };
  }

  /** Queue Experiment: `akd queue add CONFIG [--set ...]` (a Slurm config is refused: Slurm queues it). */
  async enqueue(
    configPath: string,
    set: readonly string[] = [],
  ): Promise<{ root: string; id: string; position: number }> {
    if (this.lifecycle.isSlurm(configPath))
      throw new RunRefusedError(
        'Queue Experiment: this config runs on Slurm, which queues its jobs itself; use Run Experiment.',
      );
    const { root, entry, position } = await this.queue.add(configPath, set);
    return { root, id: entry.id, position };
  }
  /** `akd resume RUN --json`, into the same run folder. */
  resume(runDir: string): Promise<string> {
    return this.lifecycle.resume(runDir);
  }
  /** SIGTERM, then SIGKILL after annealKd.stopTimeoutSeconds (a Slurm run: `akd stop`). */
  stop(runDir: string): Promise<RunState | undefined> {
    return this.lifecycle.stop(runDir);
  }
  /** Stop the starts that have not announced their folder yet (all of them). */
  stopPending(): Promise<void> {
    return this.akd.stopPending();
  }
  delete(runDir: string): Promise<void> {
    return this.lifecycle.delete(runDir);
  }

  /** Delete a sweep folder with every member (refused while the sweep is going). */
  async deleteSweep(sweepDir: string): Promise<void> {
    sweepDir = path.resolve(sweepDir);
    const status = this.sweepStatus(sweepDir);
    if (status === 'running' || status === 'starting')
      throw new RunRefusedError('Delete Sweep: stop the sweep first.');
    await this.sweeps.delete(sweepDir);
  }

  /** `akd star|unstar RUN...` (meta.json); the views follow. */
  async setStarred(runDirs: readonly string[], starred: boolean): Promise<void> {
    if (runDirs.length === 0) return;
    const out = await this.akd.run(
      [starred ? 'star' : 'unstar', ...runDirs],
      path.dirname(runDirs[0]),
      'star',
    );
    if (out.code !== 0) throw new RunRefusedError(`${starred ? 'Star' : 'Unstar'} Run: ${out.stderr.trim()}`);
    for (const d of runDirs) this.known.refreshMeta(d);
  }

  /** `akd note RUN TEXT` (empty: `--clear`). */
  async setNote(runDir: string, note: string): Promise<void> {
    const args = note.trim() ? ['note', runDir, note.trim()] : ['note', runDir, '--clear'];
    const out = await this.akd.run(args, path.dirname(runDir), 'note');
    if (out.code !== 0) throw new RunRefusedError(`Edit Note: ${out.stderr.trim()}`);
    this.known.refreshMeta(runDir);
  }

  /** `akd gc ROOT --json [--dry-run] [--failed]`: what Clean Up Runs shows, then does. */
  async gc(root: string, opts: { dryRun: boolean; failed?: boolean }): Promise<GcReport> {
    const args = [
      'gc',
      root,
      '--json',
      ...(opts.dryRun ? ['--dry-run'] : []),
      ...(opts.failed ? ['--failed'] : []),
    ];
    const out = await this.akd.run(args, root, 'gc');
    let report: GcReport | undefined;
    try {
      report = JSON.parse(out.stdout) as GcReport;
    } catch {
      report = undefined;
    }
    if (!report)
      throw new RunRefusedError(`Clean Up Runs: ${out.stderr.trim() || `akd gc exited ${out.code}`}`);
    if (!opts.dryRun) await this.refresh();
    return report;
  }

  // ---- sweeps and comparisons ----------------------------------------------------------------

  startSweep(configPath: string): Promise<string> {
    return this.sweeps.start(configPath);
  }
  resumeSweep(sweepDir: string): Promise<string> {
    return this.sweeps.resume(sweepDir);
  }
  stopSweep(sweepDir: string): Promise<SweepDisplayStatus | undefined> {
    return this.sweeps.stop(sweepDir);
  }
  /** `akd compare SWEEP_DIR --md FILE`: resolves with the Markdown file. */
  compareSweep(sweepDir: string): Promise<string> {
    return this.sweeps.compareToMarkdown(sweepDir);
  }
  /** `akd compare DIRS --json`: the dashboard's comparison; never rejects (see `errors`). */
  compare(dirs: readonly string[]): Promise<ComparisonData> {
    return this.sweeps.compare(dirs);
  }

  // ---- export --------------------------------------------------------------------------------

  /** The `akd export ...` command for a run (Export Student); refused where akd may not run. */
  exportCommand(runDir: string, args: string[]): RunnerCommand {
    if (!this.akd.options.isTrusted())
      throw new RunRefusedError('Export Student: this workspace is not trusted; trust it to run akd export.');
    if (!fs.existsSync(this.akd.options.runnerScript))
      throw new RunRefusedError(`Export Student: the runner is missing at ${this.akd.options.runnerScript}.`);
    return this.akd.command(args, path.dirname(runDir));
  }

  /** Resolves when the run reaches one of the statuses (for commands that wait, and tests). */
  waitFor(runDir: string, statuses: RunState['status'][], timeoutMs: number): Promise<RunState> {
    runDir = path.resolve(runDir);
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const s = this.get(runDir);
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
            `run ${runDir} did not reach ${statuses.join('/')} in ${timeoutMs} ms (is ${this.get(runDir)?.status})`,
          ),
        );
      }, timeoutMs);
      check();
    });
  }

  dispose(): void {
    // Runs, sweeps, pending starts and Slurm followers keep going when the window closes (the
    // runner drops output to its closed stdout); the next window re-attaches through the files.
    this.drainOnChange.dispose();
    this.queue.dispose();
    this.known.dispose();
    this.akd.dispose();
    this.lifecycle.dispose();
  }
}
