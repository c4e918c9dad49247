/** `akd stop RUN|SWEEP_DIR [--wait SECONDS] [--json]`. */
import * as path from 'node:path';
import { stopRun } from '../../launch/runControl';
import { isSweepDir } from '../../protocol/sweepManifest';
import { OptionError, UsageError, findRunDir, flagString, type ParsedArgs } from '../args';

export async function cmdStop(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd stop needs a RUN folder or id');
  const wait = Number(flagString(args, 'wait') ?? '120');
  if (!(wait >= 0))
    throw new OptionError(`akd stop: --wait must be a number of seconds, got "${flagString(args, 'wait')}"`);
  if (isSweepDir(path.resolve(ref))) {
    return (await import('../../launch/slurmSweep')).stopSweep(path.resolve(ref), {
      waitMs: wait * 1000,
      json: args.flags.has('json'),
    });
  }
  return stopRun(findRunDir(ref), { waitMs: wait * 1000, json: args.flags.has('json') });
}
