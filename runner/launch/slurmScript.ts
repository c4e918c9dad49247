/**
 * The sbatch script of a run's job, as a pure function (no I/O), so its quoting can be unit-tested.
 *
 * Two languages meet in one file. `#SBATCH` lines are read by sbatch's own tokenizer: spaces
 * separate arguments, single or double quotes group them, a backslash escapes the next character
 * and an unquoted `#` starts a comment; nothing is expanded (`$HOME` stays `$HOME`). The body is
 * bash, where every value is single-quoted. A newline (or NUL) cannot be expressed in an `#SBATCH`
 * line at all, so values carrying one are rejected rather than guessed at.
 */
import type { SlurmLauncher } from '../protocol/configTypes';

export class SlurmScriptError extends Error {}

/** bash single-quoting: safe for every byte except NUL. */
export function shellQuote(value: string): string {
  if (value.includes('\0'))
    throw new SlurmScriptError(`a NUL byte cannot be passed to bash: ${JSON.stringify(value)}`);
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** One argument of an `#SBATCH` line, quoted for sbatch's tokenizer when it needs to be. */
export function sbatchQuote(value: string, what: string): string {
  if (/[\n\r\0]/.test(value))
    throw new SlurmScriptError(
      `${what} contains a newline or NUL, which an #SBATCH line cannot carry: ${JSON.stringify(value)}`,
    );
  if (value === '') throw new SlurmScriptError(`${what} is empty`);
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * A path as a Slurm filename pattern: `%` is doubled (Slurm expands `%j`, `%A`, ...), and a
 * backslash is rejected because it switches off all pattern expansion (the job id would not be
 * filled in).
 */
export function slurmPathPattern(dir: string): string {
  if (dir.includes('\\'))
    throw new SlurmScriptError(
      `Slurm output paths cannot contain a backslash (it turns off %j expansion): ${dir}`,
    );
  return dir.replace(/%/g, '%%');
}

/** Options akd sets itself; extraArgs may not override them. */
const RESERVED = [
  '--output',
  '-o',
  '--error',
  '-e',
  '--array',
  '-a',
  '--wrap',
  '--chdir',
  '-D',
  '--parsable',
  '--job-name',
  '-J',
];

const TIME = /^(UNLIMITED|INFINITE|[0-9]+(:[0-9]{1,2}){0,2}|[0-9]+-[0-9]{1,2}(:[0-9]{1,2}){0,2})$/;
const MEM = /^[0-9]+[KMGT]?$/;

/** Problems with a launcher block that the schema may not have seen (CLI overrides, programmatic use). */
export function checkSlurmLauncher(l: SlurmLauncher): void {
  if (l.time !== undefined && !TIME.test(l.time)) {
    throw new SlurmScriptError(
      `launcher.time "${l.time}" is not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)`,
    );
  }
  if (l.mem !== undefined && !MEM.test(l.mem))
    throw new SlurmScriptError(`launcher.mem "${l.mem}" is not a Slurm size (e.g. 4000, 4G)`);
  if (l.cpusPerTask !== undefined && !(Number.isInteger(l.cpusPerTask) && l.cpusPerTask >= 1)) {
    throw new SlurmScriptError(`launcher.cpusPerTask must be a positive integer, got ${l.cpusPerTask}`);
  }
  for (const a of l.extraArgs ?? []) {
    if (!a.startsWith('-'))
      throw new SlurmScriptError(
        `launcher.extraArgs: "${a}" is not an sbatch option (each entry is one option such as "--qos=high")`,
      );
    const name = a.split('=')[0];
    if (RESERVED.includes(name)) throw new SlurmScriptError(`launcher.extraArgs: akd sets ${name} itself`);
  }
}

export interface SbatchScriptOptions {
  launcher: SlurmLauncher;
  /** Slurm job name (shown by squeue). */
  jobName: string;
  /** The job's stdout+stderr file as a Slurm pattern, e.g. `<runDir>/slurm-%j.out` (already escaped). */
  output: string;
  /** Where the job starts (the repo, so relative paths behave as for a local run). */
  workDir: string;
  /** The Node.js binary to use when it exists on the compute node; otherwise `node` from PATH. */
  nodeBinary: string;
  /** Arguments after node: the akd entry script and its arguments. */
  args: string[];
  /** e.g. "0-2%2": one task per sweep member, at most 2 at once. */
  array?: string;
  /** e.g. "afterok:123". */
  dependency?: string;
  /** A one-line description for the script's header comment. */
  comment?: string;
}

/** The `#SBATCH` option arguments, in order (exposed for tests and for `--test-only`). */
export function sbatchOptions(o: SbatchScriptOptions): string[] {
  const l = o.launcher;
  checkSlurmLauncher(l);
  const opts: string[] = [`--job-name=${o.jobName}`, `--output=${o.output}`];
  if (l.partition !== undefined) opts.push(`--partition=${l.partition}`);
  if (l.account !== undefined) opts.push(`--account=${l.account}`);
  if (l.time !== undefined) opts.push(`--time=${l.time}`);
  if (l.cpusPerTask !== undefined) opts.push(`--cpus-per-task=${l.cpusPerTask}`);
  if (l.mem !== undefined) opts.push(`--mem=${l.mem}`);
  if (l.gres !== undefined) opts.push(`--gres=${l.gres}`);
  if (o.array !== undefined) opts.push(`--array=${o.array}`);
  if (o.dependency !== undefined) opts.push(`--dependency=${o.dependency}`, '--kill-on-invalid-dep=yes');
  opts.push(...(l.extraArgs ?? []));
  return opts;
}

export function sbatchScript(o: SbatchScriptOptions): string {
  const lines = ['#!/bin/bash'];
  for (const opt of sbatchOptions(o))
    lines.push(`#SBATCH ${sbatchQuote(opt, `sbatch option ${JSON.stringify(opt.split('=')[0])}`)}`);
  const comment = (o.comment ?? '').replace(/[\r\n]+/g, ' ');
  lines.push(
    `# Written by akd (Anneal KD)${comment ? `: ${comment}` : ''}.`,
    '# The repo (with node_modules) and the run folder must be on a filesystem this node shares',
    '# with the submitting host; Node.js 20 must be installed here.',
    'set -u',
    `node_wanted=${shellQuote(o.nodeBinary)}`,
    'node_bin=$node_wanted',
    'if [ ! -x "$node_bin" ]; then node_bin=$(command -v node || true); fi',
    'if [ -z "$node_bin" ]; then',
    '  echo "akd: Node.js 20 is not installed on $(hostname): neither $node_wanted nor node on PATH" >&2',
    '  exit 127',
    'fi',
    'if ! "$node_bin" -e \'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)\'; then',
    '  echo "akd: $node_bin on $(hostname) is Node.js $("$node_bin" --version), akd needs 20 or newer" >&2',
    '  exit 127',
    'fi',
    `cd ${shellQuote(o.workDir)} || { echo "akd: cannot enter the repo from $(hostname): it must be on a filesystem shared with the compute nodes" >&2; exit 66; }`,
    `exec "$node_bin" ${o.args.map(shellQuote).join(' ')}`,
    '',
  );
  return lines.join('\n');
}
