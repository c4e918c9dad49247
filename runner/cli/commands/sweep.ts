/**
 * `akd sweep` (expand a config's grid and run it with a shared teacher) and `akd sweep --resume`.
 * Each member runs as `akd run-member` (runMember.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblem, hasErrors, resolveConfigPaths, validateConfigText } from '../../config/validate';
import { METHOD_TYPES, type ExperimentConfig, type MethodType } from '../../protocol/configTypes';
import { expandSweep, type SweepOverrides } from '../../config/sweepExpand';
import { EXIT, exitCodeForSignal } from '../../protocol/exitCodes';
import { akdDirBeside } from '../../protocol/files';
import { humanSweepReporter } from '../../protocol/format';
import { isSweepDir, readManifest, type SweepManifest } from '../../protocol/sweepManifest';
import { folderStamp } from '../../store/runStore';
import { defaultConcurrency, memberState, prepareSweep } from '../../sweep/manifest';
import { acquireRunLock } from '../../store/runLock';
import { runSweep } from '../../sweep/runSweep';
import { OptionError, UsageError, flagString, type ParsedArgs } from '../args';

function parseList(flag: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new OptionError(`akd sweep: --${flag} needs a comma-separated list`);
  return items;
}

export function parseSweepFlags(args: ParsedArgs): SweepOverrides {
  const seeds = parseList('seeds', flagString(args, 'seeds'))?.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 4294967295)
      throw new OptionError(`akd sweep: --seeds: "${s}" is not a seed (an integer >= 0)`);
    return n;
  });
  const methods = parseList('methods', flagString(args, 'methods'))?.map((m) => {
    if (!(METHOD_TYPES as readonly string[]).includes(m))
      throw new OptionError(`akd sweep: --methods: "${m}" is not one of ${METHOD_TYPES.join(', ')}`);
    return m as MethodType;
  });
  const c = flagString(args, 'concurrency');
  let concurrency: number | undefined;
  if (c !== undefined) {
    concurrency = Number(c);
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new OptionError(`akd sweep: --concurrency must be an integer >= 1, got "${c}"`);
  }
  return {
    ...(seeds ? { seeds } : {}),
    ...(methods ? { methods } : {}),
    ...(concurrency ? { concurrency } : {}),
  };
}

/** The entry script members are started with: this process's own (bin/akd.js). */
function akdEntry(): string {
  const own = process.argv[1];
  if (own && fs.existsSync(own)) return own;
  return path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'akd.js');
}

/** Validate the config with the command-line overrides applied to its sweep block (so every member is checked). */
function loadSweepConfig(configPath: string, flags: SweepOverrides): ExperimentConfig | undefined {
  const abs = path.resolve(configPath);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    process.stderr.write(`${configPath}: cannot read: ${(e as Error).message}\n`);
    return undefined;
  }
  let result = validateConfigText(text, abs);
  if (result.config && (flags.seeds || flags.methods || flags.concurrency)) {
    const raw = structuredClone(result.config);
    raw.sweep = { ...(raw.sweep ?? {}), ...flags };
    const withFlags = validateConfigText(JSON.stringify(raw, null, 2), abs);
    result = {
      ...withFlags,
      problems: [...result.problems, ...withFlags.problems.filter((p) => p.code === 'sweep-member')],
    };
  }
  for (const p of result.problems) process.stderr.write(formatProblem(configPath, p) + '\n');
  if (hasErrors(result.problems) || !result.config) return undefined;
  return resolveConfigPaths(result.config, abs);
}

async function runAndReport(
  sweepDir: string,
  manifest: SweepManifest,
  concurrency: number,
  json: boolean,
  resumed: boolean,
  retryFailed: boolean,
): Promise<number> {
  // One orchestrator per sweep folder (a second `akd sweep --resume` would start the same members).
  const lock = acquireRunLock(sweepDir, {
    command: 'sweep',
    refusal: () => `${sweepDir} is already being run, nothing was started`,
  });
  try {
    return await orchestrate(sweepDir, manifest, concurrency, json, resumed, retryFailed);
  } finally {
    lock.release();
  }
}

async function orchestrate(
  sweepDir: string,
  manifest: SweepManifest,
  concurrency: number,
  json: boolean,
  resumed: boolean,
  retryFailed: boolean,
): Promise<number> {
  const toRun = manifest.members.filter((m) => memberState(sweepDir, m) !== 'completed').length;
  const handle = runSweep({
    sweepDir,
    manifest,
    concurrency,
    resumed,
    retryFailed,
    akdEntry: akdEntry(),
    onEvent: json
      ? (e) => {
          process.stdout.write(JSON.stringify(e) + '\n');
        }
      : humanSweepReporter(process.stderr, toRun),
  });
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals): void => {
    signal = s;
    handle.stop(s);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const outcome = await handle.done;
    if (!json)
      process.stderr.write(`compare: akd compare ${sweepDir}\nresume:  akd sweep --resume ${sweepDir}\n`);
    if (outcome.status === 'completed') return EXIT.ok;
    if (outcome.status === 'cancelled' && signal) return exitCodeForSignal(signal);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function cmdSweep(args: ParsedArgs): Promise<number> {
  const json = args.flags.has('json');
  const flags = parseSweepFlags(args);
  const resumeRef = args.flags.get('resume');
  if (resumeRef !== undefined) {
    const sweepDir = path.resolve(typeof resumeRef === 'string' ? resumeRef : (args.positional[0] ?? ''));
    if (!isSweepDir(sweepDir)) throw new UsageError(`no sweep at ${sweepDir} (no sweep.json)`);
    if (flags.seeds || flags.methods)
      throw new UsageError('--seeds and --methods cannot change a sweep being resumed; start a new sweep');
    const manifest = readManifest(sweepDir);
    const slurm = await import('../../launch/slurmSweep');
    const launcher = slurm.sweepLauncher(
      flagString(args, 'launcher'),
      slurm.sweepMemberConfig(sweepDir, manifest),
    );
    if (launcher.type === 'slurm') {
      return slurm.launchSweepOnSlurm({
        sweepDir,
        manifest,
        launcher,
        concurrency: flags.concurrency ?? manifest.concurrency,
        json,
        detach: args.flags.has('detach'),
        resumed: true,
        retryFailed: args.flags.has('retry-failed'),
      });
    }
    // Members still queued or running as Slurm jobs must not be started here as well.
    const blocker = await slurm.slurmSweepBlocker(sweepDir, manifest);
    if (blocker) {
      process.stderr.write(`akd: ${blocker}\n`);
      return EXIT.invalid;
    }
    return runAndReport(
      sweepDir,
      manifest,
      flags.concurrency ?? manifest.concurrency,
      json,
      true,
      args.flags.has('retry-failed'),
    );
  }

  const configPath = args.positional[0];
  if (!configPath) throw new UsageError('akd sweep needs a CONFIG file (or --resume SWEEP_DIR)');
  const config = loadSweepConfig(configPath, flags);
  if (!config) {
    process.stderr.write(`${configPath}: invalid config, nothing was run\n`);
    return EXIT.invalid;
  }
  const abs = path.resolve(configPath);
  if (args.flags.has('dry-run')) {
    // `akd sweep CONFIG --dry-run | head` closes the pipe early: that is not an error.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(EXIT.ok);
      else throw e;
    });
    for (const m of expandSweep(config, flags)) {
      process.stdout.write(`${String(m.index).padStart(3)}  ${m.id}  ${JSON.stringify(m.overrides)}\n`);
    }
    return EXIT.ok;
  }
  const out = flagString(args, 'out');
  const sweepDir = out
    ? path.resolve(out)
    : path.join(akdDirBeside(abs, 'sweeps'), `${folderStamp()}-${config.name}`);
  if (isSweepDir(sweepDir))
    throw new UsageError(
      `${sweepDir} already holds a sweep: resume it with akd sweep --resume ${sweepDir}, or pick another --out`,
    );
  const cacheFlag = flagString(args, 'teacher-cache');
  const cacheRoot = cacheFlag ? path.resolve(cacheFlag) : akdDirBeside(abs, 'teachers');
  const slurm = await import('../../launch/slurmSweep');
  const launcher = slurm.sweepLauncher(flagString(args, 'launcher'), config);
  // Members remember it (config.json), so a resume submits them the same way.
  if (launcher.type === 'slurm' || config.launcher) config.launcher = launcher;
  const manifest = prepareSweep({ config, configPath: abs, sweepDir, cacheRoot, flags });
  if (launcher.type === 'slurm') {
    return slurm.launchSweepOnSlurm({
      sweepDir,
      manifest,
      launcher,
      concurrency: flags.concurrency ?? manifest.concurrency,
      json,
      detach: args.flags.has('detach'),
      resumed: false,
    });
  }
  return runAndReport(
    sweepDir,
    manifest,
    flags.concurrency ?? manifest.concurrency ?? defaultConcurrency(),
    json,
    false,
    false,
  );
}
