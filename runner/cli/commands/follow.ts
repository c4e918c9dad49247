/** `akd follow RUN [--json]`: re-attach to a run (Slurm or local) and follow it to its end. */
import { followRun } from '../../launch/runControl';
import { UsageError, findRunDir, type ParsedArgs } from '../args';

export async function cmdFollow(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd follow needs a RUN folder or id');
  return followRun(findRunDir(ref), args.flags.has('json'));
}
