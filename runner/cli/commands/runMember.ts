/**
 * `akd run-member MEMBER_DIR [--json]` or `akd run-member SWEEP_DIR --index N|--member ID`
 * (hidden): one sweep member, run or resumed from its folder; what a local sweep starts for each.
 */
import * as path from 'node:path';
import { runLocally } from '../../launch/localRun';
import type { ExperimentConfig } from '../../protocol/configTypes';
import { EXIT } from '../../protocol/exitCodes';
import { RUN_FILES } from '../../protocol/files';
import { isSweepDir, memberRunDir, readManifest } from '../../protocol/sweepManifest';
import { readJson, readRun } from '../../store/runStore';
import { acquireRunLock } from '../../store/runLock';
import { UsageError, flagString, type ParsedArgs } from '../args';

export async function cmdRunMember(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref)
    throw new UsageError(
      'akd run-member needs a member folder (or a sweep folder with --index N or --member ID)',
    );
  let runDir = path.resolve(ref);
  if (isSweepDir(runDir)) {
    const manifest = readManifest(runDir);
    const index = flagString(args, 'index');
    const id = flagString(args, 'member');
    const m =
      id !== undefined
        ? manifest.members.find((x) => x.id === id)
        : index !== undefined
          ? manifest.members.find((x) => x.index === Number(index))
          : undefined;
    if (!m)
      throw new UsageError(
        `no such member in ${runDir}: give --index 0..${manifest.members.length - 1} or --member ID`,
      );
    runDir = memberRunDir(runDir, m);
  }
  const configPath = path.join(runDir, RUN_FILES.config);
  const config = readJson<ExperimentConfig>(configPath);
  if (!config) {
    process.stderr.write(`${runDir}: no readable ${RUN_FILES.config}\n`);
    return EXIT.failed;
  }
  const lock = acquireRunLock(runDir, { command: 'run-member' });
  try {
    const run = readRun(runDir);
    if (run.status === 'completed') {
      process.stderr.write(`${runDir}: already completed\n`);
      return EXIT.ok;
    }
    return await runLocally({
      config,
      configPath,
      runId: path.basename(runDir),
      runDir,
      json: args.flags.has('json'),
      resume: run.events.length > 0,
    });
  } finally {
    lock.release();
  }
}
