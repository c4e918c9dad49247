/** `akd resume RUN [--json] [--launcher ...]` (a sweep folder: `akd sweep --resume SWEEP_DIR`). */
import * as path from 'node:path';
import { runLocally } from '../../launch/localRun';
import { launchOnSlurm, resolveLauncher, slurmResumeBlocker } from '../../launch/runControl';
import type { RunStartedEvent } from '../../protocol/events';
import { EXIT } from '../../protocol/exitCodes';
import { RUN_FILES } from '../../protocol/files';
import { isSweepDir } from '../../protocol/sweepManifest';
import { readRun } from '../../store/runStore';
import { loadResumeState } from '../../store/checkpoint';
import { acquireRunLock, type RunLock } from '../../store/runLock';
import { UsageError, findRunDir, flagString, type ParsedArgs } from '../args';
import { cmdSweep } from './sweep';

export async function cmdResume(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  // A sweep folder: akd sweep --resume SWEEP_DIR, with the same options.
  if (ref && isSweepDir(path.resolve(ref)))
    return cmdSweep({
      positional: args.positional.slice(1),
      flags: new Map([...args.flags, ['resume', ref]]),
    });
  if (!ref) throw new UsageError('akd resume needs a RUN folder or id');
  const runDir = findRunDir(ref);
  // Before anything else: the one writer (a second resume, a running run or its Slurm job refuse it).
  const lock = acquireRunLock(runDir, {
    command: 'resume',
    refusal: () => `${runDir} is already being written, nothing was resumed`,
  });
  try {
    return await resumeLocked(runDir, args, lock);
  } finally {
    lock.release();
  }
}

async function resumeLocked(runDir: string, args: ParsedArgs, lock: RunLock): Promise<number> {
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
  // The checkpoint is checked before anything is written: a damaged one is refused, never retrained from scratch.
  const from = flagString(args, 'from');
  if (from !== undefined && from !== 'latest' && from !== 'previous')
    throw new UsageError(`--from must be latest or previous, got "${from}"`);
  loadResumeState(runDir, { from, runRef: args.positional[0] });
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
      lock,
    });
  }
  return runLocally({
    config: run.config,
    configPath,
    runId: run.runId,
    runDir,
    json: args.flags.has('json'),
    resume: true,
  });
}
