/**
 * Who a process is, beyond its pid: pids are reused (after a reboot, or once the counter wraps),
 * so a pid read from a file names "our" process only if it also started when the file says. On
 * Linux the start time is /proc/<pid>/stat's starttime (clock ticks since boot) plus the boot id;
 * elsewhere `ps -o lstart=`. Every place that trusts a recorded pid (stop, show, list, the run
 * lock, the extension's re-attach) asks `identityStatus` instead of "is some process alive".
 *
 * Not exported from runner/protocol/index.ts: the webview imports that, and this reads /proc.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { ProcessIdentity } from './events';

export type { ProcessIdentity } from './events';

/** alive: that very process runs; dead: it does not (or the pid is another process now); unknown: cannot tell from here. */
export type IdentityStatus = 'alive' | 'dead' | 'unknown';

let bootId: string | undefined | null = null;

function linuxBootId(): string | undefined {
  if (bootId === null) {
    try {
      bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
    } catch {
      bootId = undefined;
    }
  }
  return bootId;
}

/** The start-time stamp of a live process on this machine, or undefined if it is gone or unreadable. */
export function processStartTime(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  if (process.platform === 'linux') {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return undefined;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields[19]; // field 22 of the whole line: starttime
    return ticks ? `${linuxBootId() ?? 'boot'}:${ticks}` : undefined;
  }
  if (process.platform === 'win32') return undefined;
  const r = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 });
  const text = r.status === 0 ? r.stdout.trim() : '';
  return text || undefined;
}

/** This process, as it records itself in a run lock and in run-started. */
export function currentProcessIdentity(env: NodeJS.ProcessEnv = process.env): ProcessIdentity {
  const jobId =
    env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID
      ? `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`
      : env.SLURM_JOB_ID;
  const startTime = processStartTime(process.pid);
  return {
    pid: process.pid,
    host: os.hostname(),
    ...(startTime ? { startTime } : {}),
    ...(jobId ? { jobId } : {}),
  };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the recorded process still runs, judged on this machine: a pid that exists but started
 * at another time is someone else now (dead). Another host's process cannot be checked from here
 * (unknown); a Slurm job id lets the caller ask Slurm instead.
 */
export function identityStatus(id: Pick<ProcessIdentity, 'pid' | 'host' | 'startTime'>): IdentityStatus {
  if (id.host !== os.hostname()) return 'unknown';
  if (!Number.isInteger(id.pid) || id.pid <= 0 || !pidExists(id.pid)) return 'dead';
  if (id.startTime === undefined) return 'alive'; // recorded where start times cannot be read: the pid is all we have
  const now = processStartTime(id.pid);
  if (now === undefined) return pidExists(id.pid) ? 'alive' : 'dead';
  return now === id.startTime ? 'alive' : 'dead';
}

/** "pid 123 on host h (Slurm job 42)" for messages. */
export function describeIdentity(id: ProcessIdentity): string {
  return `pid ${id.pid} on ${id.host}${id.jobId ? ` (Slurm job ${id.jobId})` : ''}`;
}
