/** `akd show RUN`: one run's summary. */
import { EXIT } from '../../protocol/exitCodes';
import { readRun } from '../../store/runStore';
import { UsageError, findRunDir, parseArgs } from '../args';
import { formatRunDetails } from '../format';

export function cmdShow(argv: string[]): number {
  const args = parseArgs(argv, []);
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd show needs a RUN folder or id');
  process.stdout.write(formatRunDetails(readRun(findRunDir(ref))) + '\n');
  return EXIT.ok;
}
