/** Command-line arguments of `akd`: flags and positionals, and what a RUN argument names. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_FILES } from '../protocol/files';

/** A command was called wrongly: `akd` prints the message and the usage, and exits 64. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

/** `--name value` for the names in `valued`, `--name=value`, `--flag`; the rest are positionals. */
export function parseArgs(argv: string[], valued: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (valued.includes(name)) {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else flags.set(name, true);
    } else positional.push(a);
  }
  return { positional, flags };
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
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
