/** `akd run CONFIG [--out DIR] [--json] [--backend ...] [--threads ...] [--launcher local|slurm [--detach]]`. */
import * as path from 'node:path';
import { formatProblem, hasErrors, resolveConfigPaths, validateConfigFile } from '../../config/validate';
import { runLocally } from '../../launch/localRun';
import { launchOnSlurm, resolveLauncher } from '../../launch/runControl';
import type { ExperimentConfig } from '../../protocol/configTypes';
import { EXIT } from '../../protocol/exitCodes';
import { RUN_FILES } from '../../protocol/files';
import { createRunDir, runsRootFor, writeJsonAtomic } from '../../store/runStore';
import { acquireRunLock } from '../../store/runLock';
import { UsageError, flagString, parseArgs } from '../args';

/** Validate and print problems; returns the resolved config when it can run. */
function loadValidConfig(configPath: string, stderr: NodeJS.WritableStream): ExperimentConfig | undefined {
  const abs = path.resolve(configPath);
  const result = validateConfigFile(abs);
  for (const p of result.problems) stderr.write(formatProblem(configPath, p) + '\n');
  if (hasErrors(result.problems) || !result.config) return undefined;
  return resolveConfigPaths(result.config, abs);
}

export async function cmdRun(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['launcher', 'out', 'backend', 'threads']);
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
      });
    }
    return await runLocally({
      config,
      configPath: abs,
      runId,
      runDir,
      json: args.flags.has('json'),
      resume: false,
    });
  } finally {
    lock.release();
  }
}
