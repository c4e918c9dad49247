/**
 * Command-line arguments of `akd`: each command's options (spec.ts) parsed strictly with Node's
 * util.parseArgs, and what a RUN argument names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../config/problems';
import { RUN_FILES } from '../protocol/files';
import type { CommandSpec } from './spec';

/** A command was called wrongly (a missing argument, no such run): `akd` prints the message and exits 64. */
export class UsageError extends Error {}

/**
 * An option akd does not know, or a bad option value: exit 2 with one line naming the option
 * (nothing was run), like a config error.
 */
export class OptionError extends UsageError {}

export interface ParsedArgs {
  positional: string[];
  /** Options given: `true` for a flag, the value of a valued option, every value of a repeatable one. */
  flags: Map<string, string | true | string[]>;
}

/** `--set` style values and `-h`: what util.parseArgs says, as one line naming the option. */
function optionErrorMessage(e: Error & { code?: string }, spec: CommandSpec, command: string): string {
  const named = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1] ?? '';
  const name = named.replace(/^-+/, '');
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const close = closest(name, Object.keys(spec.options ?? {}));
    return `${command}: unknown option ${named}${close ? ` (did you mean --${close}?)` : ''}`;
  }
  if (/argument missing/.test(e.message)) return `${command}: ${named} needs a value`;
  if (/does not take an argument/.test(e.message)) return `${command}: ${named} takes no value`;
  if (/ambiguous/.test(e.message))
    return `${command}: the value of ${named} starts with "-": write it as ${named}=VALUE`;
  return `${command}: ${e.message.split('\n')[0]}`;
}

/**
 * Parse a command's arguments against its spec: unknown options and missing or stray values are
 * OptionErrors naming the option; values listed in `choices` are checked too. `--name=value` and
 * `--name value` both work; `--` ends the options.
 */
export function parseCommandArgs(
  spec: CommandSpec,
  argv: string[],
  command = `akd ${spec.name}`,
): ParsedArgs {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(spec.options ?? {}))
    options[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}) };
  let parsed: {
    values: Record<string, string | boolean | (string | boolean)[] | undefined>;
    positionals: string[];
  };
  try {
    parsed = nodeParseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'))
      throw new OptionError(optionErrorMessage(err, spec, command));
    throw e;
  }
  const flags = new Map<string, string | true | string[]>();
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === undefined || value === false) continue;
    const o = spec.options?.[name];
    if (Array.isArray(value)) flags.set(name, value.map(String));
    else flags.set(name, value === true ? true : value);
    if (o?.choices && typeof value === 'string' && !o.choices.includes(value))
      throw new OptionError(`${command}: --${name} must be ${o.choices.join(', ')}; got "${value}"`);
  }
  return { positional: parsed.positionals, flags };
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable option (none: []). */
export function flagList(args: ParsedArgs, name: string): string[] {
  const v = args.flags.get(name);
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A run folder, or a run id under ./.akd/runs. */
export function findRunDir(ref: string): string {
  const candidates = [path.resolve(ref), path.resolve('.akd', 'runs', ref)];
  for (const c of candidates) {
    if (fs.existsSync(path.join(c, RUN_FILES.events))) return c;
  }
  throw new UsageError(
    `no run at ${ref} (looked for ${candidates.map((c) => path.join(c, RUN_FILES.events)).join(' and ')})`,
  );
}
