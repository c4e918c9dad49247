/**
 * `akd validate CONFIG... [--set KEY=VALUE]...`: one line per problem; exit 0 when every config is
 * valid, 2 otherwise. With --set: each config as `akd run --set` would run it.
 */
import * as path from 'node:path';
import { validateFileWithOverrides } from '../../config/overrides';
import { hasErrors } from '../../config/validate';
import { EXIT } from '../../protocol/exitCodes';
import { UsageError, flagList, type ParsedArgs } from '../args';
import { setOverrides } from './run';

export function cmdValidate(args: ParsedArgs): number {
  if (args.positional.length === 0) throw new UsageError('akd validate needs at least one CONFIG file');
  const overrides = setOverrides(flagList(args, 'set'), 'akd validate');
  let ok = true;
  for (const file of args.positional) {
    const result = validateFileWithOverrides(
      path.resolve(file),
      overrides,
      (line) => process.stdout.write(line + '\n'),
      file,
    );
    if (hasErrors(result.problems)) ok = false;
  }
  return ok ? EXIT.ok : EXIT.invalid;
}
