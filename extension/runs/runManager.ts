/**
 * Every run and sweep the window knows about, and what can be done with them: the one object the
 * commands, views and tests talk to. It puts together run discovery (runDiscovery.ts: what is on
 * disk, followed), the run lifecycle (runLifecycle.ts: start, resume, stop, delete) and sweeps
 * (sweepLifecycle.ts), which start `akd` through one spawner (akdSpawner.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { ComparisonData, RunState, SweepDisplayStatus, SweepState } from '../../runner/protocol';
import { AkdSpawner, RunRefusedError, type AkdOptions } from './akdSpawner';
import type { RunnerCommand } from './runnerProcess';
import { RunDiscovery, type RunFinished } from './runDiscovery';
import { RunLifecycle } from './runLifecycle';
import { SweepLifecycle } from './sweepLifecycle';

export { RunRefusedError } from './akdSpawner';
export { samePath, type RunFinished } from './runDiscovery';
export type RunManagerOptions = AkdOptions;

export class RunManager implements vscode.Disposable {
  private readonly known: RunDiscovery;
  private readonly akd: AkdSpawner;
  private readonly lifecycle: RunLifecycle;
  private readonly sweeps: SweepLifecycle;

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
  /** Rescan the workspace for configs and their run folders. */
  refresh(): Promise<void> {
    return this.known.refresh();
  }

  // ---- runs ----------------------------------------------------------------------------------

  /** Refuse (RunRefusedError) unless a run may start now: trust, the runner, maxConcurrentRuns. */
  assertCanStart(what: string): void {
    this.akd.assertCanStart(what);
  }
  /** `akd run CONFIG --json`: resolves with the run folder once the runner announced it. */
  start(configPath: string): Promise<string> {
    return this.lifecycle.start(configPath);
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
    this.known.dispose();
    this.akd.dispose();
    this.lifecycle.dispose();
  }
}
