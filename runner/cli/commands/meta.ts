/** `akd star RUN...`, `akd unstar RUN...`, `akd note RUN [TEXT] [--clear]`: a run's meta.json. */
import { EXIT } from '../../protocol/exitCodes';
import { readRunMeta } from '../../protocol/runMeta';
import { updateRunMeta } from '../../store/runMeta';
import { UsageError, findRunDir, type ParsedArgs } from '../args';

function setStar(args: ParsedArgs, starred: boolean): number {
  if (args.positional.length === 0)
    throw new UsageError(`akd ${starred ? 'star' : 'unstar'} needs at least one RUN folder or id`);
  const dirs = args.positional.map(findRunDir); // all or nothing: a wrong name changes no run
  for (const dir of dirs) {
    updateRunMeta(dir, { starred });
    process.stderr.write(`${starred ? 'starred' : 'unstarred'} ${dir}\n`);
  }
  return EXIT.ok;
}

export function cmdStar(args: ParsedArgs): number {
  return setStar(args, true);
}

export function cmdUnstar(args: ParsedArgs): number {
  return setStar(args, false);
}

export function cmdNote(args: ParsedArgs): number {
  const [ref, ...words] = args.positional;
  if (!ref) throw new UsageError('akd note needs a RUN folder or id');
  const dir = findRunDir(ref);
  if (args.flags.has('clear')) {
    if (words.length > 0) throw new UsageError('akd note: --clear takes no TEXT');
    updateRunMeta(dir, { note: null });
    return EXIT.ok;
  }
  if (words.length === 0) {
    const note = readRunMeta(dir).note;
    if (note) process.stdout.write(note + '\n');
    return EXIT.ok;
  }
  updateRunMeta(dir, { note: words.join(' ') });
  return EXIT.ok;
}
