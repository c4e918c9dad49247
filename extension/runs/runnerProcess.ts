/**
 * One `akd` child process and everything it owns: the spawn (an argv, never a shell string),
 * line reading of stdout (run and sweep events) and stderr (human lines), and stopping with SIGTERM and a
 * SIGKILL fallback. No vscode import: the run manager adapts it to the editor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import {
  parseStreamLine,
  identityStatus,
  processAlive,
  type ProcessIdentity,
  type StreamEvent,
} from '../../runner/protocol';

export interface RunnerCommand {
  /** Node executable: the editor's own runtime (with ELECTRON_RUN_AS_NODE=1) or a configured one. */
  node: string;
  /** The runner's entry, `<extension>/bin/akd.js`. */
  script: string;
  /** e.g. ['run', CONFIG, '--json'] or ['resume', RUN_DIR, '--json']. */
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunnerListeners {
  /** Run events (`akd run|resume|run-member --json`), and sweep events from `akd sweep --json`. */
  onEvent(event: StreamEvent): void;
  /** stderr lines, and stdout lines that are not events. */
  onOutput(line: string, stream: 'stdout' | 'stderr'): void;
}

export class RunnerProcess {
  private readonly child: ChildProcess;
  readonly exited: Promise<RunnerExit>;
  private exitInfo: RunnerExit | undefined;

  constructor(
    readonly command: RunnerCommand,
    listeners: RunnerListeners,
  ) {
    this.child = spawn(command.node, [command.script, ...command.args], {
      cwd: command.cwd,
      env: { ...process.env, ...command.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a window reload ends the extension host, not the training run; the
      // next window re-attaches to it through events.jsonl.
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        listeners.onOutput(`could not start the runner: ${error.message}`, 'stderr');
        this.exitInfo ??= { code: -1, signal: null };
        resolve(this.exitInfo);
      });
      this.child.once('close', (code, signal) => {
        this.exitInfo ??= { code, signal };
        resolve(this.exitInfo);
      });
    });
    if (this.child.stdout) {
      readline.createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) => {
        const event = parseStreamLine(line);
        if (event) listeners.onEvent(event);
        else if (line.trim()) listeners.onOutput(line, 'stdout');
      });
    }
    if (this.child.stderr) {
      readline
        .createInterface({ input: this.child.stderr, crlfDelay: Infinity })
        .on('line', (line) => listeners.onOutput(line, 'stderr'));
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /**
   * Stop reading without stopping the process: what a window reload does to the runner (its
   * stdout and stderr pipes close). The runner drops its output from then on and keeps writing
   * events.jsonl, which the next window reads.
   */
  detach(): void {
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.child.unref();
  }

  /** SIGTERM (the runner writes a checkpoint and a run-cancelled event), SIGKILL if it takes too long. */
  async stop(timeoutMs: number): Promise<RunnerExit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) this.child.kill('SIGKILL');
    }, timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Stop a run this window did not start (re-attached after a reload): SIGTERM, SIGKILL after the
 * timeout, each only while the process is still the one named (pid and start time: a pid read
 * from a file may belong to another process by now). A bare pid is trusted as is (sweeps' orchestrators).
 */
export async function stopPid(
  target: number | ProcessIdentity,
  timeoutMs: number,
  pollMs = 200,
): Promise<'terminated' | 'killed' | 'gone'> {
  const pid = typeof target === 'number' ? target : target.pid;
  const same = (): boolean =>
    typeof target === 'number' ? processAlive(pid) : identityStatus(target) === 'alive';
  if (!same()) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, pollMs));
    if (!same()) return 'terminated';
  }
  try {
    if (same()) process.kill(pid, 'SIGKILL');
  } catch {
    /* exited in between */
  }
  return 'killed';
}
