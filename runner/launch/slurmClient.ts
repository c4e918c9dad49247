/**
 * The Slurm client calls akd makes: sbatch, squeue --json, scontrol show job, scancel. Every call
 * has a timeout (a 22.05 client blocks about 9 s when the controller is down) and fails with a
 * SlurmError whose `kind` says what went wrong: not installed, not reachable, or refused.
 */
import { execFile } from 'node:child_process';

export type SlurmErrorKind = 'not-installed' | 'unreachable' | 'rejected';

export class SlurmError extends Error {
  constructor(
    readonly kind: SlurmErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Milliseconds a client call may take: AKD_SLURM_TIMEOUT_MS, default 5000. */
export function slurmTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.AKD_SLURM_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 5000;
}

const UNREACHABLE =
  /Unable to contact slurm controller|Zero Bytes were transmitted|Connection refused|Socket timed out|Communication connection failure|Unable to establish connection|Munge encode failed|authentication failure/i;

export interface SlurmCallOptions {
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Run one Slurm client command; resolves with its stdout. */
export function slurmCall(cmd: string, args: string[], opts: SlurmCallOptions = {}): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? slurmTimeoutMs(opts.env);
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const e = err as NodeJS.ErrnoException & {
          killed?: boolean;
          signal?: string | null;
          code?: number | string;
        };
        const where = process.env.SLURM_CONF ? ` (SLURM_CONF=${process.env.SLURM_CONF})` : '';
        if (e.code === 'ENOENT') {
          reject(
            new SlurmError(
              'not-installed',
              `Slurm is not installed here: "${cmd}" is not on PATH. Run akd on a login node of the cluster, or install the Slurm client (Debian: apt-get install slurm-client).`,
            ),
          );
        } else if (e.killed || e.signal === 'SIGKILL') {
          reject(
            new SlurmError(
              'unreachable',
              `the Slurm controller is not reachable: ${cmd} did not answer within ${(timeoutMs / 1000).toFixed(1)} s${where}. Is slurmctld running? (AKD_SLURM_TIMEOUT_MS sets the limit)`,
            ),
          );
        } else {
          const text = `${stderr}`.trim() || `${stdout}`.trim() || e.message;
          if (UNREACHABLE.test(text))
            reject(
              new SlurmError('unreachable', `the Slurm controller is not reachable${where}: ${cmd}: ${text}`),
            );
          else reject(new SlurmError('rejected', `${cmd} ${args.join(' ')}: ${text}`));
        }
      },
    );
  });
}

/** What akd knows about a job: Slurm's JobState, Reason, node and exit code. */
export interface JobStatus {
  jobId: string;
  /** PENDING, RUNNING, COMPLETING, COMPLETED, CANCELLED, FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, ...; GONE when Slurm no longer knows the job. */
  state: string;
  reason?: string;
  node?: string;
  /** "exit:signal", as `scontrol show job` prints it. */
  exitCode?: string;
  /** The job's stdout file, when Slurm says. */
  stdout?: string;
}

/** Slurm job states after which the job will not run again. */
const ENDED = new Set([
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'TIMEOUT',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'OUT_OF_MEMORY',
  'REVOKED',
  'SPECIAL_EXIT',
  'GONE',
]);

export function jobEnded(state: string): boolean {
  return ENDED.has(state);
}

/** Ended through no fault of the run: Slurm stopped it (these are the ones whose SIGTERM is not a user's). */
export const SLURM_KILLED = new Set([
  'TIMEOUT',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'OUT_OF_MEMORY',
  'REVOKED',
]);

/** A raw wait status (squeue --json's exit_code in 22.05) as "exit:signal". */
export function waitStatusToExitCode(status: number): string {
  const signal = status & 0x7f;
  return signal ? `0:${signal}` : `${(status >> 8) & 0xff}:0`;
}

interface SqueueJob {
  job_id?: number;
  array_job_id?: number | { number?: number };
  array_task_id?: number | null | { number?: number; set?: boolean };
  array_task_string?: string;
  job_state?: string | string[];
  state_reason?: string;
  nodes?: string;
  batch_host?: string;
  exit_code?:
    | number
    | {
        status?: string | string[];
        return_code?: number | { number?: number };
        signal?: { id?: number | { number?: number } };
      };
  standard_output?: string;
}

const num = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && typeof (v as { number?: unknown }).number === 'number') {
    const o = v as { number: number; set?: boolean };
    return o.set === false ? undefined : o.number;
  }
  return undefined;
};

function exitCodeOf(j: SqueueJob): string | undefined {
  const e = j.exit_code;
  if (typeof e === 'number') return waitStatusToExitCode(e);
  if (e && typeof e === 'object') return `${num(e.return_code) ?? 0}:${num(e.signal?.id) ?? 0}`;
  return undefined;
}

/** Task ids an array spec such as "0-4%2" or "1,3,5-7" names. */
function inArraySpec(spec: string, task: number): boolean {
  for (const part of spec.split('%')[0].split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (task >= lo && task <= hi && (task - lo) % step === 0) return true;
  }
  return false;
}

/**
 * The statuses of `ids` ("123" or "123_4" for an array task) in `squeue --json` output. Ids the
 * output does not mention are missing from the map. Handles 22.05 (strings, raw wait status) and
 * newer (arrays, structured numbers) field shapes.
 */
export function parseSqueueJson(text: string, ids: string[]): Map<string, JobStatus> {
  const data = JSON.parse(text) as { jobs?: SqueueJob[] };
  const out = new Map<string, JobStatus>();
  const jobs = data.jobs ?? [];
  const status = (id: string, j: SqueueJob): JobStatus => {
    const raw = j.job_state;
    const state = Array.isArray(raw) ? (raw[0] ?? 'UNKNOWN') : (raw ?? 'UNKNOWN');
    const node = j.batch_host || j.nodes || undefined;
    return {
      jobId: id,
      state,
      ...(j.state_reason && j.state_reason !== 'None' ? { reason: j.state_reason } : {}),
      ...(node ? { node } : {}),
      ...(exitCodeOf(j) ? { exitCode: exitCodeOf(j) } : {}),
      ...(j.standard_output ? { stdout: j.standard_output } : {}),
    };
  };
  for (const id of ids) {
    const [base, taskText] = id.split('_');
    const jobId = Number(base);
    if (taskText === undefined) {
      const j = jobs.find((x) => x.job_id === jobId);
      if (j) out.set(id, status(id, j));
      continue;
    }
    const task = Number(taskText);
    const exact = jobs.find((x) => num(x.array_job_id) === jobId && num(x.array_task_id) === task);
    // Tasks not started yet are one record for the whole array, listed with its task spec.
    const unsplit = (x: SqueueJob): boolean =>
      (num(x.array_job_id) === jobId || x.job_id === jobId) && num(x.array_task_id) === undefined;
    const pending =
      exact ??
      jobs.find(
        (x) =>
          unsplit(x) && typeof x.array_task_string === 'string' && inArraySpec(x.array_task_string, task),
      ) ??
      // Tasks cancelled before they were split off keep one record for the array, with an empty task string.
      jobs.find((x) => unsplit(x) && !x.array_task_string);
    if (pending) out.set(id, status(id, pending));
  }
  return out;
}

/** `scontrol show job ID` output: the first record's Key=Value pairs (values may contain spaces only for the last key on a line). */
export function parseScontrolJob(text: string, id: string): JobStatus | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    // StdOut/StdErr/Command/WorkDir have a line of their own and take all of it (paths may contain spaces).
    const whole = /^(StdOut|StdErr|StdIn|Command|WorkDir)=(.*)$/.exec(t);
    if (whole) {
      fields.set(whole[1], whole[2]);
      continue;
    }
    for (const m of t.matchAll(/(?:^|\s)([A-Za-z][A-Za-z0-9/:_]*)=(\S*)/g))
      if (!fields.has(m[1])) fields.set(m[1], m[2]);
  }
  const state = fields.get('JobState');
  if (!state) return undefined;
  const reason = fields.get('Reason');
  const node = fields.get('BatchHost') || fields.get('NodeList');
  return {
    jobId: id,
    state,
    ...(reason && reason !== 'None' ? { reason } : {}),
    ...(node && node !== '(null)' ? { node } : {}),
    ...(fields.get('ExitCode') ? { exitCode: fields.get('ExitCode') } : {}),
    ...(fields.get('StdOut') ? { stdout: fields.get('StdOut') } : {}),
  };
}

export interface SbatchResult {
  jobId: string;
}

export class SlurmClient {
  constructor(readonly opts: SlurmCallOptions = {}) {}

  private call(cmd: string, args: string[], extra: SlurmCallOptions = {}): Promise<string> {
    return slurmCall(cmd, args, { ...this.opts, ...extra });
  }

  /** Submit a batch script file; `cwd` is where sbatch runs (the job's default working directory). */
  async sbatch(scriptPath: string, cwd: string, extraArgs: string[] = []): Promise<SbatchResult> {
    const out = await this.call('sbatch', ['--parsable', ...extraArgs, scriptPath], { cwd });
    const jobId = out.trim().split('\n').pop()?.split(';')[0].trim() ?? '';
    if (!/^\d+$/.test(jobId))
      throw new SlurmError('rejected', `sbatch printed no job id: ${JSON.stringify(out)}`);
    return { jobId };
  }

  /**
   * Statuses of jobs: one `squeue --json -t all` call, then `scontrol show job` for the ids squeue
   * no longer lists (finished jobs stay listed for MinJobAge seconds). Ids Slurm has forgotten
   * come back as state GONE.
   */
  async statuses(ids: string[]): Promise<Map<string, JobStatus>> {
    if (ids.length === 0) return new Map();
    const text = await this.call('squeue', [
      '--json',
      '-t',
      'all',
      `--jobs=${[...new Set(ids.map((i) => i.split('_')[0]))].join(',')}`,
    ]);
    let found: Map<string, JobStatus>;
    try {
      found = parseSqueueJson(text, ids);
    } catch (e) {
      throw new SlurmError(
        'rejected',
        `squeue --json printed something that is not JSON: ${(e as Error).message}`,
      );
    }
    for (const id of ids) {
      if (found.has(id)) continue;
      found.set(id, await this.show(id));
    }
    return found;
  }

  async status(id: string): Promise<JobStatus> {
    return (await this.statuses([id])).get(id) ?? { jobId: id, state: 'GONE' };
  }

  /** `scontrol show job ID`; state GONE when Slurm no longer knows it. */
  async show(id: string): Promise<JobStatus> {
    try {
      const text = await this.call('scontrol', ['show', 'job', id]);
      return parseScontrolJob(text, id) ?? { jobId: id, state: 'GONE' };
    } catch (e) {
      if (
        e instanceof SlurmError &&
        e.kind === 'rejected' &&
        /Invalid job id|Job \S+ not found/i.test(e.message)
      )
        return { jobId: id, state: 'GONE' };
      throw e;
    }
  }

  /** `scontrol release ID`: let a job submitted with --hold start. */
  async release(id: string): Promise<void> {
    await this.call('scontrol', ['release', id]);
  }

  /** `scancel ID...` (SIGTERM to the jobs, SIGKILL after the cluster's KillWait). */
  async cancel(id: string | string[], extraArgs: string[] = []): Promise<void> {
    await this.call('scancel', [...extraArgs, ...(Array.isArray(id) ? id : [id])]);
  }
}
