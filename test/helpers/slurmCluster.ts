/**
 * A real single-node Slurm cluster (Debian's slurm-wlm: munged + slurmctld + slurmd) under a
 * temporary folder, listening on 127.0.0.1 only, for the launcher's tests. It starts in about a
 * second; see ../shared/docs/slurm-offline.md for the recipe and how Slurm behaves here.
 *
 * Every client call of the code under test must see `SLURM_CONF`: `env()` gives the variables to
 * pass to child processes (the `akd` CLI), and `start()` also sets them in this process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The daemons and clients this needs; missing ones mean "slurm-wlm is not installed". */
const REQUIRED = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo'];

function onPath(cmd: string): boolean {
  return (
    (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
      try {
        fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }) || ['/usr/sbin', '/sbin'].some((dir) => fs.existsSync(path.join(dir, cmd)))
  );
}

/** Why the Slurm tests cannot run here, or undefined when they can. */
export function slurmUnavailable(): string | undefined {
  const missing = REQUIRED.filter((c) => !onPath(c));
  return missing.length === 0
    ? undefined
    : `slurm-wlm is not installed (missing ${missing.join(', ')}): apt-get install -y --no-install-recommends slurm-wlm (.ci/run does this)`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(
  what: string,
  check: () => boolean,
  timeoutMs: number,
  log?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${log ? `\n${log()}` : ''}`);
    await sleep(50);
  }
}

function sbin(cmd: string): string {
  for (const dir of ['/usr/sbin', '/sbin'])
    if (fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  return cmd;
}

const readText = (file: string): string => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

export class SlurmCluster {
  readonly base: string;
  readonly conf: string;
  private started = false;
  private readonly pidFiles: string[];
  private readonly exitHandler = (): void => this.killDaemons();

  private readonly ownsBase: boolean;

  constructor(base?: string) {
    this.ownsBase = base === undefined;
    this.base = base ?? fs.mkdtempSync(path.join(os.tmpdir(), 'akd-slurm-'));
    this.conf = path.join(this.base, 'etc', 'slurm.conf');
    this.pidFiles = ['slurmd.pid', 'slurmctld.pid', 'munged.pid'].map((f) => path.join(this.base, 'run', f));
  }

  /** The environment client calls (and `akd` child processes) need. */
  env(): NodeJS.ProcessEnv {
    return { ...process.env, SLURM_CONF: this.conf };
  }

  private p(...parts: string[]): string {
    return path.join(this.base, ...parts);
  }

  async start(): Promise<void> {
    const user = os.userInfo().username;
    for (const d of ['etc', 'munge', 'run', 'log', 'state', 'spool'])
      fs.mkdirSync(this.p(d), { recursive: true });
    // munged: "Socket is inaccessible: execute permissions for all required".
    fs.chmodSync(this.base, 0o755);
    fs.chmodSync(this.p('munge'), 0o755);
    const key = this.p('etc', 'munge.key');
    fs.writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    fs.chmodSync(key, 0o400);
    process.on('exit', this.exitHandler);
    this.started = true;

    const socket = this.p('munge', 'munge.socket.2');
    execFileSync(
      sbin('munged'),
      [
        `--key-file=${key}`,
        `--socket=${socket}`,
        `--pid-file=${this.p('run', 'munged.pid')}`,
        `--log-file=${this.p('log', 'munged.log')}`,
        `--seed-file=${this.p('munge', 'munged.seed')}`,
        ...(process.getuid?.() === 0 ? ['--force'] : []),
      ],
      { stdio: 'pipe' },
    );
    await waitFor(
      'munged',
      () => fs.existsSync(socket),
      5000,
      () => readText(this.p('log', 'munged.log')),
    );

    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    const nodeLine = execFileSync(sbin('slurmd'), ['-C'], { encoding: 'utf8' })
      .split('\n')[0]
      .replace(/^NodeName=\S+/, 'NodeName=localhost NodeAddr=127.0.0.1');
    const conf = [
      'ClusterName=ci',
      'SlurmctldHost=localhost(127.0.0.1)',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'CommunicationParameters=NoCtldInAddrAny,NoInAddrAny',
      `SlurmUser=${user}`,
      `SlurmdUser=${user}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${this.p('state')}`,
      `SlurmdSpoolDir=${this.p('spool')}`,
      `SlurmctldPidFile=${this.p('run', 'slurmctld.pid')}`,
      `SlurmdPidFile=${this.p('run', 'slurmd.pid')}`,
      `SlurmctldLogFile=${this.p('log', 'slurmctld.log')}`,
      `SlurmdLogFile=${this.p('log', 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'SchedulerType=sched/backfill',
      'SchedulerParameters=batch_sched_delay=0,sched_min_interval=0',
      'MpiDefault=none',
      'ReturnToService=2',
      'MailProg=/bin/true',
      'AccountingStorageType=accounting_storage/none',
      'JobAcctGatherType=jobacct_gather/none',
      'JobCompType=jobcomp/filetxt',
      `JobCompLoc=${this.p('log', 'jobcomp.txt')}`,
      'MinJobAge=300',
      'KillWait=5',
      'JobRequeue=0',
      nodeLine,
      'PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n');
    fs.writeFileSync(this.conf, conf);
    process.env.SLURM_CONF = this.conf;

    execFileSync(sbin('slurmctld'), ['-f', this.conf], { stdio: 'pipe', env: this.env() });
    await waitFor(
      'slurmctld',
      () => readText(this.p('log', 'slurmctld.log')).includes('Running as primary controller'),
      10_000,
      () => readText(this.p('log', 'slurmctld.log')).slice(-2000),
    );
    execFileSync(sbin('slurmd'), ['-f', this.conf, '-N', 'localhost'], { stdio: 'pipe', env: this.env() });
    await waitFor(
      'the node to be idle',
      () => this.sinfoState() === 'idle',
      15_000,
      () => `sinfo: ${this.sinfoState()}\n${readText(this.p('log', 'slurmd.log')).slice(-2000)}`,
    );
  }

  sinfoState(): string {
    const r = spawnSync('sinfo', ['-h', '-n', 'localhost', '-o', '%T'], {
      encoding: 'utf8',
      env: this.env(),
      timeout: 5000,
    });
    return (r.stdout ?? '').trim();
  }

  /** Wait until the node is idle again (e.g. after a test set it DOWN), resuming it if needed. */
  async waitIdle(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.sinfoState() !== 'idle') {
      if (/down|drain|fail/.test(this.sinfoState())) {
        spawnSync('scontrol', ['update', 'NodeName=localhost', 'State=RESUME'], {
          env: this.env(),
          timeout: 5000,
        });
      }
      if (Date.now() > deadline)
        throw new Error(`the node is ${this.sinfoState()}, not idle\n${this.logs()}`);
      await sleep(200);
    }
  }

  /** Job ids Slurm still has pending or running. */
  activeJobs(): string[] {
    const r = spawnSync(
      'squeue',
      ['-h', '-o', '%i', '-t', 'PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED'],
      { encoding: 'utf8', env: this.env(), timeout: 5000 },
    );
    return (r.stdout ?? '')
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** Cancel everything and wait until the queue has drained (slurmstepd is not a child of slurmd). */
  async drain(timeoutMs = 20_000): Promise<void> {
    if (this.activeJobs().length === 0) return;
    spawnSync('scancel', ['--user', os.userInfo().username], { env: this.env(), timeout: 5000 });
    await waitFor('the queue to drain', () => this.activeJobs().length === 0, timeoutMs);
  }

  /** A slurm.conf whose controller port nobody listens on: "Slurm is down" for client calls. */
  async downConf(): Promise<string> {
    const port = await freePort();
    const file = this.p('etc', 'slurm-down.conf');
    fs.writeFileSync(file, readText(this.conf).replace(/^SlurmctldPort=\d+$/m, `SlurmctldPort=${port}`));
    return file;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    try {
      await this.drain();
    } catch {
      /* kill the daemons anyway */
    }
    this.killDaemons();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && this.pidFiles.some((f) => this.alive(f))) await sleep(50);
    process.off('exit', this.exitHandler);
    this.started = false;
    // State, spool and job output of a throwaway cluster (AKD_KEEP_TEST_DIRS=1 keeps them).
    if (this.ownsBase && !process.env.AKD_KEEP_TEST_DIRS)
      fs.rmSync(this.base, { recursive: true, force: true, maxRetries: 2 });
  }

  private alive(pidFile: string): boolean {
    const pid = Number(readText(pidFile).trim());
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  private killDaemons(): void {
    for (const f of this.pidFiles) {
      const pid = Number(readText(f).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
    }
  }

  logs(): string {
    return ['slurmctld.log', 'slurmd.log']
      .map((f) => `--- ${f}\n${readText(this.p('log', f)).slice(-3000)}`)
      .join('\n');
  }
}
