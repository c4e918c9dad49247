/** `akd validate CONFIG...`: one line per problem; exit 0 when every config is valid, 2 otherwise. */
import * as path from 'node:path';
import { formatProblem, hasErrors, validateConfigFile } from '../../config/validate';
import { EXIT } from '../../protocol/exitCodes';
import { UsageError, parseArgs } from '../args';

export function cmdValidate(argv: string[]): number {
  const args = parseArgs(argv, []);
  if (args.positional.length === 0) throw new UsageError('akd validate needs at least one CONFIG file');
  let ok = true;
  for (const file of args.positional) {
    const result = validateConfigFile(path.resolve(file));
    for (const p of result.problems) process.stdout.write(formatProblem(file, p) + '\n');
    if (hasErrors(result.problems)) ok = false;
  }
  return ok ? EXIT.ok : EXIT.invalid;
}
