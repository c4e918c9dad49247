/**
 * Sweeps: start (`akd sweep CONFIG --json`), resume, stop, and their comparison (`akd compare`).
 * Members are followed through their own run folders, like runs started elsewhere
 * (runDiscovery.ts); the orchestrator's stdout only says when the sweep exists and what it logs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  describeSweepEvent,
  runWriter,
  type ComparisonData,
  type SweepDisplayStatus,
} from '../../runner/protocol';
import { RunRefusedError, type AkdSpawner } from './akdSpawner';
import type { RunDiscovery } from './runDiscovery';
import { stopPid } from './runnerProcess';

export class SweepLifecycle {
  constructor(
    private readonly known: RunDiscovery,
    private readonly akd: AkdSpawner,
  ) {}

  /**
   * `akd sweep CONFIG --json [--launcher ...]`: resolves with the sweep folder once the
   * orchestrator said sweep-started.
   */
  async start(configPath: string): Promise<string> {
    configPath = path.resolve(configPath);
    this.akd.assertCanStart('Run Sweep');
    return this.spawn(
      ['sweep', configPath, '--json', ...this.akd.launcherFor(configPath)],
      configPath,
      'Run Sweep',
    );
  }

  /** `akd resume SWEEP_DIR --json`: completed members are skipped, the others continue. */
  async resume(sweepDir: string): Promise<string> {
    sweepDir = path.resolve(sweepDir);
    const entry = this.known.sweeps.get(sweepDir);
    if (!entry) throw new RunRefusedError(`Resume Sweep: no sweep at ${sweepDir}`);
    const status = this.known.sweepStatus(sweepDir);
    if (status === 'running' || status === 'starting')
      throw new RunRefusedError('Resume Sweep: this sweep is still going.');
    if (status === 'completed')
      throw new RunRefusedError('Resume Sweep: every member has completed; nothing to resume.');
    this.akd.assertCanStart('Resume Sweep');
    // The members remember their launcher (config.json): no --launcher here.
    return this.spawn(['resume', sweepDir, '--json'], entry.state.configPath, 'Resume Sweep');
  }

  private spawn(args: string[], configPath: string, what: string): Promise<string> {
    const log = this.akd.log;
    return this.akd.startAnnounced<string>({
      what,
      args,
      configPath,
      announce: (event, process) => {
        if (event.type !== 'sweep-started') return undefined;
        const sweepDir = path.resolve(event.sweepDir);
        this.known.readSweep(sweepDir);
        const entry = this.known.sweeps.get(sweepDir);
        if (entry) entry.process = process;
        log.info(
          `[${path.basename(sweepDir)}] sweep started: ${event.members} members, ${event.toRun} to run, ${event.concurrency} at a time (pid ${event.pid})`,
        );
        this.known.schedulePolling();
        return sweepDir;
      },
      onEvent: (event, sweepDir) => {
        if (event.type === 'sweep-log' || event.type === 'member-ended' || event.type === 'teacher-ready')
          log.info(`[${path.basename(sweepDir)}] ${describeSweepEvent(event)}`);
        this.known.readSweep(sweepDir);
        this.known.fire();
      },
      label: (sweepDir) => path.basename(sweepDir ?? configPath),
      onExit: () => void this.known.refresh(),
    });
  }

  /**
   * Stop Sweep. A live orchestrator gets one SIGTERM (a local one forwards it once to each
   * running member, which checkpoints, and starts no more; a Slurm one scancels the jobs and
   * follows them to their end). With no orchestrator (a detached Slurm sweep, or a reload after
   * it died), `akd stop SWEEP_DIR` stops the members that are still going. Never both: a member
   * signalled twice exits without its checkpoint.
   */
  async stop(sweepDir: string): Promise<SweepDisplayStatus | undefined> {
    sweepDir = path.resolve(sweepDir);
    const entry = this.known.sweeps.get(sweepDir);
    if (!entry) return undefined;
    const timeout = this.akd.options.stopTimeoutMs();
    const log = this.akd.log;
    // Members need the stop timeout to checkpoint; the orchestrator waits for them.
    const orchestratorTimeout = timeout + 30_000;
    if (entry.process?.running) {
      log.info(
        `[${entry.state.sweepId}] stopping the sweep (SIGTERM to akd sweep, pid ${entry.process.pid ?? '?'})`,
      );
      await entry.process.stop(orchestratorTimeout);
    } else if (entry.state.orchestratorPid !== undefined && this.known.orchestratorAlive(entry)) {
      log.info(`[${entry.state.sweepId}] stopping the sweep (SIGTERM to pid ${entry.state.orchestratorPid})`);
      // Its identity from the sweep folder's lock (pid and start time); older sweeps: the pid.
      const writer = runWriter(sweepDir);
      await stopPid(
        writer.state === 'writing' ? writer.holder : entry.state.orchestratorPid,
        orchestratorTimeout,
      );
    } else {
      log.info(`[${entry.state.sweepId}] stopping the sweep's members (akd stop)`);
      const stopper = this.akd.spawn(
        ['stop', sweepDir, '--wait', String(Math.ceil(timeout / 1000))],
        path.dirname(sweepDir),
        entry.state.sweepId,
      );
      await stopper.exited;
    }
    this.known.readSweep(sweepDir);
    this.known.poll();
    this.known.fire();
    return this.known.sweepStatus(sweepDir);
  }

  /** Remove a sweep folder (its manifest, events and every member's run folder). The caller checks it is not going. */
  async delete(sweepDir: string): Promise<void> {
    sweepDir = path.resolve(sweepDir);
    const entry = this.known.sweeps.get(sweepDir);
    if (entry?.process?.running)
      await Promise.race([entry.process.exited, new Promise((r) => setTimeout(r, 5000))]);
    await fs.promises.rm(sweepDir, { recursive: true, force: true });
    for (const m of entry?.state.members ?? []) this.known.runs.delete(m.runDir);
    this.known.sweeps.delete(sweepDir);
    this.known.fire();
  }

  /** `akd compare SWEEP_DIR --md FILE`: resolves with the Markdown file (in the sweep folder). */
  async compareToMarkdown(sweepDir: string): Promise<string> {
    sweepDir = path.resolve(sweepDir);
    if (!this.akd.options.isTrusted())
      throw new RunRefusedError('Compare: this workspace is not trusted; trust it to run akd compare.');
    const md = path.join(sweepDir, 'compare.md');
    const output: string[] = [];
    const proc = this.akd.spawn(
      ['compare', sweepDir, '--md', md],
      path.dirname(sweepDir),
      `${path.basename(sweepDir)} compare`,
      { line: (line) => output.push(line) },
    );
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

  /**
   * `akd compare DIRS --json`: the dashboard's comparison, read and computed by the runner (the
   * extension bundles no run reader). It only reads the folders' JSON files, so it runs in an
   * untrusted workspace too, as reading them in the extension host did; the runtime is the
   * editor's own or annealKd.nodePath, which an untrusted workspace cannot set. Never rejects:
   * what went wrong is in `errors`.
   */
  async compare(dirs: readonly string[]): Promise<ComparisonData> {
    const failed = (why: string): ComparisonData => ({ runs: [], groups: [], errors: [why] });
    if (dirs.length === 0) return { runs: [], groups: [], errors: [] };
    if (!fs.existsSync(this.akd.options.runnerScript))
      return failed(`the runner is missing at ${this.akd.options.runnerScript}`);
    const abs = dirs.map((d) => path.resolve(d));
    const stdout: string[] = [];
    const stderr: string[] = [];
    const proc = this.akd.spawn(['compare', ...abs, '--json'], path.dirname(abs[0]), 'compare', {
      line: (line, stream) => (stream === 'stdout' ? stdout : stderr).push(line),
      logStdout: false,
    });
    const exit = (await proc.exited).code;
    try {
      const data = JSON.parse(stdout.join('\n')) as ComparisonData;
      if (Array.isArray(data.runs) && Array.isArray(data.groups) && Array.isArray(data.errors)) return data;
    } catch {
      /* reported below */
    }
    this.akd.log.warn(`compare: akd compare exited with code ${exit}: ${stderr.slice(-3).join(' ')}`);
    return failed(
      `akd compare exited with code ${exit}${stderr.length ? `: ${stderr[stderr.length - 1]}` : ''}`,
    );
  }
}
