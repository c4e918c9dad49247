/** `akd list [DIR] [--json] [--starred]`: the runs under DIR (default ./.akd/runs), one line each. */
import * as path from 'node:path';
import { EXIT } from '../../protocol/exitCodes';
import { listRuns } from '../../store/runStore';
import { type ParsedArgs } from '../args';
import { formatRunList, runListEntry } from '../format';

export function cmdList(args: ParsedArgs): number {
  const root = path.resolve(args.positional[0] ?? path.join('.akd', 'runs'));
  let runs = listRuns(root).map(runListEntry);
  if (args.flags.has('starred')) runs = runs.filter((r) => r.entry.starred);
  if (args.flags.has('json'))
    process.stdout.write(
      JSON.stringify(
        runs.map((r) => r.entry),
        null,
        2,
      ) + '\n',
    );
  else process.stdout.write(formatRunList(runs, root) + '\n');
  return EXIT.ok;
}
