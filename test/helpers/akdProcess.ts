/** Run the real `akd` CLI (compiled) as a child process and collect its JSON event stream. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEventLine, type RunEvent } from '../../runner/protocol/events';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const AKD = path.join(REPO, 'bin', 'akd.js');

export interface AkdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: RunEvent[];
  stdout: string;
  stderr: string;
}

const tempDirs: string[] = [];
// Each test file runs in its own process: its temporary folders (run stores with checkpoints,
// tens of MB a run of the suite) go when it exits. AKD_KEEP_TEST_DIRS=1 keeps them to inspect.
process.on('exit', () => {
  if (process.env.AKD_KEEP_TEST_DIRS) return;
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
});

/** A fresh folder under the system temp folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `akd-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export function writeConfig(dir: string, name: string, config: object): string {
  const file = path.join(dir, `${name}.akd.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface TinyScratchOptions {
  seed?: number;
  trainLimit?: number;
  studentHidden?: number[];
  epochs?: number;
}

/**
 * The smallest real run: a scratch student (one epoch by default) beside a one-epoch MLP teacher
 * on a few hundred MNIST images, on the cpu backend; about a second.
 */
export function tinyScratchConfig(dir: string, name: string, o: TinyScratchOptions = {}): string {
  const adam = { type: 'adam', learningRate: 0.003 };
  return writeConfig(dir, name, {
    name,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    data: { dataset: 'mnist', trainLimit: o.trainLimit ?? 600, testLimit: 200 },
    teacher: { model: { type: 'mlp', hidden: [16] }, epochs: 1, optimizer: adam },
    student: { model: { type: 'mlp', hidden: o.studentHidden ?? [4] } },
    method: { type: 'scratch', epochs: o.epochs ?? 1, optimizer: adam },
    backend: 'cpu',
  });
}

/**
 * Start `akd ARGS`; `onEvent` sees each event as it arrives and may act on the process
 * (e.g. send SIGTERM). Resolves when the process exits.
 */
export function runAkd(
  args: string[],
  opts: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    onEvent?: (e: RunEvent, child: ChildProcess) => void;
    timeoutMs?: number;
  } = {},
): Promise<AkdResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AKD, ...args], {
      cwd: opts.cwd ?? REPO,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: RunEvent[] = [];
    let stdout = '';
    let stderr = '';
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`akd ${args.join(' ')} timed out; stderr:\n${stderr}`));
    }, opts.timeoutMs ?? 300_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const e = parseEventLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (e) {
          events.push(e);
          opts.onEvent?.(e, child);
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, events, stdout, stderr });
    });
  });
}
