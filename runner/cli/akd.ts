/**
 * `akd`: the command line of Anneal KD. Usable with no editor at all; the VS Code extension
 * launches `akd run --json` and reads the same events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblem, hasErrors, resolveConfigPaths, validateConfigFile } from '../config/validate';
import type { ExperimentConfig } from '../config/types';
import type { RunEvent, RunStartedEvent } from '../protocol/events';
import { EventLog } from '../store/eventLog';
import {
  RUN_FILES,
  createRunDir,
  listRuns,
  processAlive,
  readRun,
  runsRootFor,
  writeJsonAtomic,
} from '../store/runStore';
import type { CancelToken } from '../training/phaseTrainer';
import { humanReporter } from './humanReporter';
import { installSignalHandlers } from './signals';
import { surviveClosedPipes, writeIfOpen } from './detachableOutput';
import {
  LauncherUsageError,
  followRun,
  launchOnSlurm,
  resolveLauncher,
  slurmErrorMessage,
  slurmResumeBlocker,
  stopRun,
} from '../launch/launchCli';
import { formatRunList, formatRunDetails } from './format';

export const EXIT = { ok: 0, failed: 1, invalid: 2, usage: 64, sigint: 130, sigterm: 143 } as const;

const USAGE = `akd — Anneal KD: knowledge distillation experiments with TensorFlow.js

Usage:
  akd run CONFIG [--out DIR] [--json] [--backend auto|tensorflow|wasm|cpu] [--threads auto|N]
      Train the config's teacher and student; the run goes to .akd/runs/<id>/ beside CONFIG
      (or under DIR). --json streams the run's events to stdout, one JSON object per line.
      --threads: data-parallel training threads on wasm/cpu (overrides the config's "threads").
  akd resume RUN [--json]      Continue a cancelled or crashed run from its last checkpoint.
  akd run CONFIG --launcher slurm [--detach] ...   (also: akd resume RUN, akd sweep CONFIG|--resume DIR)
      Submit the run as a Slurm batch job (a sweep: a teacher job, then one job array; settings: the
      config's "launcher" block) and follow it like a local run; --detach returns after submitting
      and prints RUNDIR<TAB>JOBID. The repo and the run folder must be on a filesystem the compute
      nodes share. --launcher local overrides a config's slurm block.
  akd stop RUN|SWEEP_DIR [--wait SECONDS]  Stop a run or a sweep's running members (Slurm: scancel; local:
      SIGTERM): each checkpoints and ends cancelled.
  akd follow RUN [--json]      Re-attach to a Slurm run (e.g. after --detach) and follow it to its end.
  akd validate CONFIG...       Check configs: exit 0 if valid, 2 if not; one line per problem.
  akd list [DIR]               The runs under DIR (default: ./.akd/runs).
  akd show RUN                 One run's summary. RUN is a run folder or an id under ./.akd/runs.
  akd sweep CONFIG [--seeds 1,2,3] [--methods scratch,kd,takd,annealing] [--out DIR]
                   [--concurrency N] [--teacher-cache DIR] [--dry-run] [--json]
      Expand the config's "sweep" block (the flags override it) into members, one \`akd\` process
      each, N at a time (default: the cores), sharing one teacher trained once and cached in
      .akd/teachers/. The sweep goes to .akd/sweeps/<id>/ beside CONFIG (or DIR).
  akd sweep --resume SWEEP_DIR [--retry-failed] [--json]   (also: akd resume SWEEP_DIR)
      Continue a stopped sweep: completed members are skipped, cancelled and crashed ones resumed.
  akd compare RUN_OR_SWEEP_DIR... [--csv FILE] [--md FILE] [--png FILE] [--runs-csv FILE] [--best-only]
      Student test accuracy per method and swept setting: mean ± std over seeds (sample std), best,
      n, validation accuracy, the gap to the teacher, parameters, wall time; --png draws it with
      error bars and the annealing phase-1 curves per temperature.
  akd export RUN [--format onnx] [--quantize int8] [--model student|teacher] [--out FILE] [--json]
                 [--max-drop POINTS] [--calibration-images N]
      The run's student (or teacher) as ONNX: raw float32 pixels 0..255 NHWC [N,H,W,C] in, logits
      out, batchnorm folded; default RUN/export/student.onnx (student.int8.onnx). Verified in ONNX
      Runtime before it is written: fp32 within 0.1 point of the run's test accuracy and 1e-4 of its
      logits; int8 (static, calibrated on N training images, default 500) at most POINTS (1.5)
      below fp32. Recorded in the run's summary.json "exports".

Signals: SIGINT/SIGTERM stop at the next batch boundary, write a checkpoint and exit 130/143.`;

interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[], valued: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (valued.includes(name)) {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else flags.set(name, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

export class UsageError extends Error {}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Validate and print problems; returns the resolved config when it can run. */
function loadValidConfig(configPath: string, stderr: NodeJS.WritableStream): ExperimentConfig | undefined {
  const abs = path.resolve(configPath);
  const result = validateConfigFile(abs);
  for (const p of result.problems) stderr.write(formatProblem(configPath, p) + '\n');
  if (hasErrors(result.problems) || !result.config) return undefined;
  return resolveConfigPaths(result.config, abs);
}

function attachOutput(log: EventLog, json: boolean): void {
  surviveClosedPipes();
  if (json) log.onEvent((e: RunEvent) => writeIfOpen(process.stdout, JSON.stringify(e) + '\n'));
  else
    log.onEvent(
      humanReporter({
        write: (text: string) => writeIfOpen(process.stderr, text),
        isTTY: process.stderr.isTTY,
      }),
    );
}

export async function execute(
  config: ExperimentConfig,
  configPath: string,
  runId: string,
  runDir: string,
  json: boolean,
  resume: boolean,
): Promise<number> {
  // Loaded lazily: `akd validate/list/show` must not pay for TensorFlow.js.
  const { runExperiment } = await import('../training/runExperiment');
  const cancel: CancelToken = { cancelled: false };
  const removeHandlers = installSignalHandlers(cancel);
  const log = new EventLog(path.join(runDir, RUN_FILES.events));
  attachOutput(log, json);
  try {
    const outcome = await runExperiment({ config, configPath, runId, runDir, log, cancel, resume });
    if (!json) process.stderr.write(`run folder: ${runDir}\n`);
    if (outcome.status === 'completed') return EXIT.ok;
    if (outcome.status === 'cancelled') return cancel.signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    return EXIT.failed;
  } finally {
    log.close();
    removeHandlers();
  }
}

async function cmdRun(args: ParsedArgs): Promise<number> {
  const configPath = args.positional[0];
  if (!configPath) throw new UsageError('akd run needs a CONFIG file');
  const config = loadValidConfig(configPath, process.stderr);
  if (!config) {
    process.stderr.write(`${configPath}: invalid config, nothing was run\n`);
    return EXIT.invalid;
  }
  const backend = flagString(args, 'backend');
  if (backend) {
    if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend))
      throw new UsageError(`--backend must be auto, tensorflow, wasm or cpu, got "${backend}"`);
    config.backend = backend as ExperimentConfig['backend'];
  }
  const threads = flagString(args, 'threads');
  if (threads) {
    const n = Number(threads);
    if (threads !== 'auto' && !(Number.isInteger(n) && n >= 1 && n <= 64))
      throw new UsageError(`--threads must be auto or 1..64, got "${threads}"`);
    config.threads = threads === 'auto' ? 'auto' : n;
  }
  if (config.sweep) {
    process.stderr.write(
      `${configPath}: has a "sweep" block; akd run trains it once as written (seed ${config.seed}, ${config.method.type}): akd sweep runs the grid\n`,
    );
  }
  const launcher = resolveLauncher(config, flagString(args, 'launcher'));
  if (launcher.type === 'slurm' || config.launcher) config.launcher = launcher;
  const abs = path.resolve(configPath);
  const { runId, runDir } = createRunDir(runsRootFor(abs, flagString(args, 'out')), config.name);
  writeJsonAtomic(path.join(runDir, RUN_FILES.config), config);
  if (launcher.type === 'slurm') {
    return launchOnSlurm({
      config,
      configPath: abs,
      runDir,
      launcher,
      json: args.flags.has('json'),
      detach: args.flags.has('detach'),
      resume: false,
    });
  }
  return execute(config, abs, runId, runDir, args.flags.has('json'), false);
}

/** A run folder, or a run id under ./.akd/runs. */
export function findRunDir(ref: string): string {
  const candidates = [path.resolve(ref), path.resolve('.akd', 'runs', ref)];
  for (const c of candidates) {
    if (fs.existsSync(path.join(c, RUN_FILES.events))) return c;
  }
  throw new UsageError(
    `no run at ${ref} (looked for ${candidates.map((c) => path.join(c, RUN_FILES.events)).join(' and ')})`,
  );
}

async function cmdResume(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd resume needs a RUN folder or id');
  const runDir = findRunDir(ref);
  // A Slurm session: settle it if Slurm already ended its job; refuse while it is queued or running.
  const blocker = await slurmResumeBlocker(runDir);
  if (blocker) {
    process.stderr.write(blocker + '\n');
    return EXIT.invalid;
  }
  const run = readRun(runDir);
  if (run.status === 'completed') {
    process.stderr.write(`${runDir}: already completed, nothing to resume\n`);
    return EXIT.invalid;
  }
  const started = [...run.events].reverse().find((e): e is RunStartedEvent => e.type === 'run-started');
  if (run.status === 'running' && started && processAlive(started.pid) && started.pid !== process.pid) {
    process.stderr.write(`${runDir}: still running (pid ${started.pid})\n`);
    return EXIT.invalid;
  }
  if (!run.config) {
    process.stderr.write(`${runDir}: ${RUN_FILES.config} is missing or unreadable\n`);
    return EXIT.failed;
  }
  const configPath = started?.configPath ?? path.join(runDir, RUN_FILES.config);
  const launcher = resolveLauncher(run.config, flagString(args, 'launcher'));
  if (launcher.type === 'slurm') {
    return launchOnSlurm({
      config: run.config,
      configPath,
      runDir,
      launcher,
      json: args.flags.has('json'),
      detach: args.flags.has('detach'),
      resume: true,
    });
  }
  return execute(run.config, configPath, run.runId, runDir, args.flags.has('json'), true);
}

async function cmdStop(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd stop needs a RUN folder or id');
  const wait = Number(flagString(args, 'wait') ?? '120');
  if (!(wait >= 0))
    throw new UsageError(`--wait must be a number of seconds, got "${flagString(args, 'wait')}"`);
  if (fs.existsSync(path.join(path.resolve(ref), 'sweep.json'))) {
    return (await import('../launch/slurmSweep')).stopSweep(path.resolve(ref), {
      waitMs: wait * 1000,
      json: args.flags.has('json'),
    });
  }
  return stopRun(findRunDir(ref), { waitMs: wait * 1000, json: args.flags.has('json') });
}

async function cmdFollow(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd follow needs a RUN folder or id');
  return followRun(findRunDir(ref), args.flags.has('json'));
}

function cmdValidate(args: ParsedArgs): number {
  if (args.positional.length === 0) throw new UsageError('akd validate needs at least one CONFIG file');
  let ok = true;
  for (const file of args.positional) {
    const result = validateConfigFile(path.resolve(file));
    for (const p of result.problems) process.stdout.write(formatProblem(file, p) + '\n');
    if (hasErrors(result.problems)) ok = false;
  }
  return ok ? EXIT.ok : EXIT.invalid;
}

function cmdList(args: ParsedArgs): number {
  const root = path.resolve(args.positional[0] ?? path.join('.akd', 'runs'));
  process.stdout.write(formatRunList(listRuns(root), root) + '\n');
  return EXIT.ok;
}

function cmdShow(args: ParsedArgs): number {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd show needs a RUN folder or id');
  process.stdout.write(formatRunDetails(readRun(findRunDir(ref))) + '\n');
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await cmdRun(parseArgs(rest, ['launcher', 'out', 'backend', 'threads']));
      case 'resume':
        if (rest[0] && fs.existsSync(path.join(path.resolve(rest[0]), 'sweep.json')))
          return await (await import('./commands/sweep')).cmdSweep(['--resume', ...rest]);
        return await cmdResume(parseArgs(rest, ['launcher']));
      case 'sweep':
        return await (await import('./commands/sweep')).cmdSweep(rest);
      case 'run-member':
        return await (await import('./commands/sweep')).cmdRunMember(rest);
      case 'compare':
        return await (await import('./commands/compare')).cmdCompare(rest);
      case 'export':
        return await (await import('./commands/export')).cmdExport(rest);
      case 'stop':
        return await cmdStop(parseArgs(rest, ['wait']));
      case 'follow':
        return await cmdFollow(parseArgs(rest, []));
      // Hidden: what a Slurm job runs on its compute node (one session of an existing run folder).
      case '_run-job':
        return await (await import('../launch/jobEntry')).runJob(path.resolve(rest[0] ?? '.'));
      case 'validate':
        return cmdValidate(parseArgs(rest, []));
      case 'list':
        return cmdList(parseArgs(rest, []));
      case 'show':
        return cmdShow(parseArgs(rest, []));
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof LauncherUsageError) {
      process.stderr.write(`akd: ${e.message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    const slurmProblem = slurmErrorMessage(e);
    if (slurmProblem) {
      process.stderr.write(`akd: ${slurmProblem}\n`);
      return EXIT.failed;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      process.stderr.write(`akd: ${e.stack ?? e.message}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
