/** `akd list [DIR]`: the runs under DIR (default ./.akd/runs), one line each. */
import * as path from 'node:path';
import { EXIT } from '../../protocol/exitCodes';
import { listRuns } from '../../store/runStore';
import { parseArgs } from '../args';
import { formatRunList } from '../format';

export function cmdList(argv: string[]): number {
  const args = parseArgs(argv, []);
  const root = path.resolve(args.positional[0] ?? path.join('.akd', 'runs'));
  process.stdout.write(formatRunList(listRuns(root), root) + '\n');
  return EXIT.ok;
}
