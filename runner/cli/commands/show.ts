/** `akd show RUN [--json]`: one run's summary, star and note. */
import { EXIT } from '../../protocol/exitCodes';
import { readRun } from '../../store/runStore';
import { UsageError, findRunDir, type ParsedArgs } from '../args';
import { formatRunDetails, runListEntry } from '../format';

export function cmdShow(args: ParsedArgs): number {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd show needs a RUN folder or id');
  const run = readRun(findRunDir(ref));
  if (args.flags.has('json')) {
    const { entry } = runListEntry(run);
    process.stdout.write(JSON.stringify({ ...entry, summary: run.summary ?? null }, null, 2) + '\n');
  } else process.stdout.write(formatRunDetails(run) + '\n');
  return EXIT.ok;
}
