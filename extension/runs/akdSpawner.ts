/**
 * How the extension starts `akd`: the command line (the editor's Node or annealKd.nodePath, the
 * shipped bin/akd.js), the gate before anything trains (trust, the runner's presence,
 * annealKd.maxConcurrentRuns), and the one spawn helper for runs and sweeps: a start is pending
 * until the runner names its folder with its first event, and refused with its last stderr lines
 * when it exits before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { EXIT, type LauncherType, type StreamEvent } from '../../runner/protocol';
import { launcherArgs, launcherTypeOf } from './launcher';
import { RunnerProcess, type RunnerCommand, type RunnerExit } from './runnerProcess';

export interface AkdOptions {
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

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A run refused before it started; the message is meant for the user as is. */
export class RunRefusedError extends Error {
  constructor(
    message: string,
    /** The runner's exit code, when it exited before naming its run. */
    readonly exitCode?: number | null,
  ) {
    super(message);
  }
}

/** What a short-lived `akd` command (queue, star, note, gc) printed. */
export interface AkdOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A run or sweep this window spawned that has not named its folder yet. */
interface PendingStart {
  configPath: string;
  process: RunnerProcess;
}

export interface AnnouncedStart<T> {
  /** The user's command, e.g. "Run Experiment": a refusal starts with it. */
  what: string;
  args: string[];
  /** The config it starts from (the runner's working folder is the config's, unless `cwd`). */
  configPath: string;
  cwd?: string;
  /** The run or sweep an event names, if it is the one that announces it. */
  announce(event: StreamEvent, process: RunnerProcess): T | undefined;
  /** Every event from the announcing one on. */
  onEvent?(event: StreamEvent, announced: T): void;
  /** How its log lines start: the run or sweep id once known. */
  label(announced: T | undefined): string;
  /** The process is gone (after the refusal, when it never announced). */
  onExit(announced: T | undefined, exit: RunnerExit): void;
}

export class AkdSpawner {
  private readonly pending = new Map<number, PendingStart>();
  private counter = 0;

  /**
   * @param activeCount runs and sweeps going now (a sweep counts as one run)
   * @param onPendingChange a start became pending or stopped being so
   */
  constructor(
    readonly options: AkdOptions,
    private readonly activeCount: () => number,
    private readonly onPendingChange: () => void,
  ) {}

  get log(): vscode.LogOutputChannel {
    return this.options.log;
  }

  /** Configs with a run or sweep whose start has been requested but has no folder yet. */
  startingConfigs(): string[] {
    return [...this.pending.values()].map((p) => p.configPath);
  }

  /** Runs that may still start under annealKd.maxConcurrentRuns (starts pending count as going). */
  freeSlots(): number {
    return this.options.maxConcurrentRuns() - this.activeCount() - this.pending.size;
  }

  /**
   * Refuse (throw RunRefusedError) unless a run may start now. `slots: false`: whatever runs already
   * (a Slurm run: Slurm queues it, the editor only follows it).
   */
  assertCanStart(what: string, opts: { slots?: boolean } = {}): void {
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
    const active = this.activeCount() + this.pending.size;
    if (opts.slots !== false && active >= max) {
      throw new RunRefusedError(
        `${what}: ${active} run${active === 1 ? ' is' : 's are'} already going (annealKd.maxConcurrentRuns is ${max}). Stop one or raise the setting.`,
      );
    }
  }

  command(args: string[], cwd: string): RunnerCommand {
    return { node: this.options.node(), script: this.options.runnerScript, args, cwd };
  }

  /** The launcher flag for a config (see launcherArgs). */
  launcherFor(configPath: string): string[] {
    return launcherArgs(readText(configPath), this.options.launcher?.());
  }

  /** Where a config trains (its launcher block, else annealKd.launcher). */
  launcherTypeFor(configPath: string): LauncherType {
    return launcherTypeOf(readText(configPath), this.options.launcher?.());
  }

  /**
   * An `akd` whose output goes to the log after `[label]` (its events, if any, to `on.event`):
   * a resume, or a short-lived stop, follow or compare.
   */
  spawn(
    args: string[],
    cwd: string,
    label: string,
    on: {
      event?(event: StreamEvent): void;
      line?(line: string, stream: 'stdout' | 'stderr'): void;
      /** false: stdout is data (e.g. JSON), not for the log. */
      logStdout?: boolean;
    } = {},
  ): RunnerProcess {
    return new RunnerProcess(this.command(args, cwd), {
      onEvent: (event) => on.event?.(event),
      onOutput: (line, stream) => {
        on.line?.(line, stream);
        if (stream === 'stderr' || on.logStdout !== false) this.log.info(`[${label}] ${line}`);
      },
    });
  }

  /**
   * Start an `akd` that names its run or sweep with one of its first events: pending until then,
   * resolves with what `announce` made of that event; rejects with RunRefusedError (exit 2: the
   * config is invalid; else the exit code and the last stderr lines) when it exits before.
   */
  startAnnounced<T>(o: AnnouncedStart<T>): Promise<T> {
    const key = ++this.counter;
    const log = this.log;
    return new Promise<T>((resolve, reject) => {
      let announced: T | undefined;
      const stderr: string[] = [];
      const proc = new RunnerProcess(this.command(o.args, o.cwd ?? path.dirname(o.configPath)), {
        onEvent: (event) => {
          if (announced === undefined) {
            announced = o.announce(event, proc);
            if (announced === undefined) return;
            this.pending.delete(key);
            resolve(announced);
          }
          o.onEvent?.(event, announced);
        },
        onOutput: (line, stream) => {
          if (stream === 'stderr') stderr.push(line);
          log.info(`[${o.label(announced)}] ${line}`);
        },
      });
      this.pending.set(key, { configPath: o.configPath, process: proc });
      log.info(
        `${o.what} ${path.basename(o.configPath)}: ${proc.command.node} ${proc.command.script} ${proc.command.args.join(' ')} (pid ${proc.pid ?? '?'})`,
      );
      this.onPendingChange();
      void proc.exited.then((exit) => {
        this.pending.delete(key);
        log.info(
          `[${o.label(announced)}] akd ${o.args[0]} exited (code ${exit.code}${exit.signal ? `, ${exit.signal}` : ''})`,
        );
        if (announced === undefined) {
          const why =
            exit.code === EXIT.invalid ? 'the config is invalid' : `the runner exited with code ${exit.code}`;
          reject(new RunRefusedError(`${o.what}: ${why}. ${stderr.slice(-3).join(' ')}`.trim(), exit.code));
        }
        o.onExit(announced, exit);
      });
    });
  }

  /**
   * A short-lived `akd` command whose output is data (`--json`) or one-line answers: resolves
   * with what it printed once it exits. Its stderr goes to the log.
   */
  async run(args: string[], cwd: string, label: string): Promise<AkdOutput> {
    let stdout = '';
    let stderr = '';
    const proc = this.spawn(args, cwd, label, {
      logStdout: false,
      line: (line, stream) => {
        if (stream === 'stdout') stdout += line + '\n';
        else stderr += line + '\n';
      },
    });
    const exit = await proc.exited;
    return { code: exit.code, stdout, stderr };
  }

  /** Stop the starts that have not named their folder yet (all of them). */
  async stopPending(): Promise<void> {
    await Promise.all([...this.pending.values()].map((p) => p.process.stop(this.options.stopTimeoutMs())));
  }

  /** The window goes away: starts keep going (they are runs soon). */
  dispose(): void {
    for (const p of this.pending.values()) p.process.detach();
  }
}
