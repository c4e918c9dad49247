/** `akd completion bash|zsh`: print the shell's completion script. */
import { EXIT } from '../../protocol/exitCodes';
import { OptionError, type ParsedArgs } from '../args';
import { SHELLS, completionScript, type Shell } from '../completion';

export function cmdCompletion(args: ParsedArgs): number {
  const shell = args.positional[0];
  if (!(SHELLS as readonly string[]).includes(shell ?? ''))
    throw new OptionError(
      `akd completion: give a shell, ${SHELLS.join(' or ')}${shell ? `; got "${shell}"` : ''}`,
    );
  process.stdout.write(completionScript(shell as Shell));
  return EXIT.ok;
}
