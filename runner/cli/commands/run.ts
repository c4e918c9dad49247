/**
 * `akd run CONFIG [--set KEY=VALUE]... [--out DIR] [--json] [--backend ...] [--threads ...]
 * [--launcher local|slurm [--detach]]`.
 */
import * as path from 'node:path';
import {
  OverrideSyntaxError,
  overrideRecord,
  parseOverrides,
  validateFileWithOverrides,
  type ConfigOverride,
} from '../../config/overrides';
import { hasErrors, resolveConfigPaths } from '../../config/validate';
import { runLocally } from '../../launch/localRun';
import { launchOnSlurm, resolveLauncher } from '../../launch/runControl';
import type { ExperimentConfig } from '../../protocol/configTypes';
import { EXIT } from '../../protocol/exitCodes';
import { RUN_FILES } from '../../protocol/files';
import { createRunDir, runsRootFor, writeJsonAtomic } from '../../store/runStore';
import { acquireRunLock } from '../../store/runLock';
import { OptionError, UsageError, flagList, flagString, type ParsedArgs } from '../args';

export interface LoadedConfig {
  /** Validated, overrides applied, paths absolute: what config.json records. */
  config: ExperimentConfig;
  /** key -> value of each --set, for run-started and summary.json (undefined: none). */
  overrides?: Record<string, unknown>;
}

/** `--set` values, or an OptionError naming the one that cannot be read (exit 2). */
export function setOverrides(texts: readonly string[], command: string): ConfigOverride[] {
  try {
    return parseOverrides(texts);
  } catch (e) {
    if (e instanceof OverrideSyntaxError) throw new OptionError(`${command}: --set ${e.message}`);
    throw e;
  }
}

/**
 * Validate the config with its overrides, printing each problem (an override's problems name its
 * key); undefined when it cannot run. The one path from a config file to what a run trains.
 */
export function loadRunConfig(
  configPath: string,
  overrides: readonly ConfigOverride[],
  report: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): LoadedConfig | undefined {
  const abs = path.resolve(configPath);
  const result = validateFileWithOverrides(abs, overrides, report, configPath);
  if (hasErrors(result.problems) || !result.config) return undefined;
  return {
    config: resolveConfigPaths(result.config, abs),
    ...(overrides.length > 0 ? { overrides: overrideRecord(overrides) } : {}),
  };
}

export async function cmdRun(args: ParsedArgs): Promise<number> {
  const configPath = args.positional[0];
  if (!configPath) throw new UsageError('akd run needs a CONFIG file');
  if (args.positional.length > 1)
    throw new UsageError(
      `akd run takes one CONFIG (got ${args.positional.length}); akd sweep runs several settings`,
    );
  const overrides = setOverrides(flagList(args, 'set'), 'akd run');
  const loaded = loadRunConfig(configPath, overrides);
  if (!loaded) {
    process.stderr.write(`${configPath}: invalid config, nothing was run\n`);
    return EXIT.invalid;
  }
  const { config } = loaded;
  const backend = flagString(args, 'backend');
  if (backend) config.backend = backend as ExperimentConfig['backend'];
  const threads = flagString(args, 'threads');
  if (threads) {
    const n = Number(threads);
    if (threads !== 'auto' && !(Number.isInteger(n) && n >= 1 && n <= 64))
      throw new OptionError(`akd run: --threads must be auto or 1..64, got "${threads}"`);
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
  // The run folder's one writer from its first file on (a resume clicked meanwhile is refused).
  const lock = acquireRunLock(runDir, { command: 'run' });
  try {
    writeJsonAtomic(path.join(runDir, RUN_FILES.config), config);
    if (launcher.type === 'slurm') {
      return await launchOnSlurm({
        config,
        configPath: abs,
        runDir,
        launcher,
        json: args.flags.has('json'),
        detach: args.flags.has('detach'),
        resume: false,
        lock,
        ...(loaded.overrides ? { overrides: loaded.overrides } : {}),
      });
    }
    return await runLocally({
      config,
      configPath: abs,
      runId,
      runDir,
      json: args.flags.has('json'),
      resume: false,
      ...(loaded.overrides ? { overrides: loaded.overrides } : {}),
    });
  } finally {
    lock.release();
  }
}
