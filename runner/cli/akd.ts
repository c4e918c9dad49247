/**
 * `akd`: the command line of Anneal KD. Usable with no editor at all; the VS Code extension
 * launches `akd run --json` and reads the same events. The commands and their options are one
 * table (spec.ts: parsing, help and completions come from it); each command is a module
 * (commands/), loaded only when it runs: `akd validate/list/show` must not pay for TensorFlow.js.
 */
import * as path from 'node:path';
import { LauncherUsageError, slurmErrorMessage } from '../launch/runControl';
import { EXIT } from '../protocol/exitCodes';
import { CheckpointError } from '../store/checkpoint';
import { RunLockedError } from '../store/runLock';
import { StoreWriteError, storeWriteError } from '../store/storeErrors';
import { OptionError, UsageError, parseCommandArgs, type ParsedArgs } from './args';
import { COMMANDS, findCommand, type CommandSpec } from './spec';
import { commandUsage, overviewUsage, synopsis } from './usage';

export type Command = (args: ParsedArgs) => number | Promise<number>;

/** The handler of each command path (`run`, `queue add`, ...): loaded when it runs. */
const HANDLERS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run')).cmdRun,
  resume: async () => (await import('./commands/resume')).cmdResume,
  sweep: async () => (await import('./commands/sweep')).cmdSweep,
  'run-member': async () => (await import('./commands/runMember')).cmdRunMember,
  compare: async () => (await import('./commands/compare')).cmdCompare,
  export: async () => (await import('./commands/export')).cmdExport,
  stop: async () => (await import('./commands/stop')).cmdStop,
  follow: async () => (await import('./commands/follow')).cmdFollow,
  '_run-job': async () => {
    const { runJob } = await import('../launch/jobEntry');
    return (args) => runJob(path.resolve(args.positional[0] ?? '.'));
  },
  validate: async () => (await import('./commands/validate')).cmdValidate,
  list: async () => (await import('./commands/list')).cmdList,
  show: async () => (await import('./commands/show')).cmdShow,
  'queue add': async () => (await import('./commands/queue')).cmdQueueAdd,
  'queue list': async () => (await import('./commands/queue')).cmdQueueList,
  'queue remove': async () => (await import('./commands/queue')).cmdQueueRemove,
  'queue move': async () => (await import('./commands/queue')).cmdQueueMove,
  'queue start': async () => (await import('./commands/queue')).cmdQueueStart,
  'queue next': async () => (await import('./commands/queue')).cmdQueueNext,
  gc: async () => (await import('./commands/gc')).cmdGc,
  star: async () => (await import('./commands/meta')).cmdStar,
  unstar: async () => (await import('./commands/meta')).cmdUnstar,
  note: async () => (await import('./commands/meta')).cmdNote,
  help: async () => cmdHelp,
  completion: async () => (await import('./commands/completion')).cmdCompletion,
};

const HELP_FLAGS = new Set(['-h', '--help']);

/** Whether the arguments ask for help (before a `--`, which ends the options). */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => HELP_FLAGS.has(a));
}

/** `akd help [COMMAND [SUBCOMMAND]]`. */
function cmdHelp(args: ParsedArgs): number {
  const [name, subName] = args.positional;
  if (!name) {
    process.stdout.write(overviewUsage() + '\n');
    return EXIT.ok;
  }
  const spec = findCommand(name);
  if (!spec) throw new UsageError(`no command "${name}" (akd help lists them)`);
  const sub = subName && spec.subcommands ? findCommand(subName, spec.subcommands) : undefined;
  if (subName && !sub)
    throw new UsageError(`no command "akd ${name} ${subName}" (akd help ${name} lists them)`);
  process.stdout.write((sub ? commandUsage(sub, spec) : commandUsage(spec)) + '\n');
  return EXIT.ok;
}

/** The command (or subcommand) the arguments name, and the arguments left for it. */
function resolve(argv: string[]): { spec: CommandSpec; parent?: CommandSpec; key: string; rest: string[] } {
  const [name, ...rest] = argv;
  const spec = findCommand(name);
  if (!spec) throw new UsageError(`unknown command "${name}" (akd help lists them)`);
  if (!spec.subcommands) return { spec, key: spec.name, rest };
  const [subName, ...subRest] = rest;
  if (subName === undefined || HELP_FLAGS.has(subName)) return { spec, key: spec.name, rest };
  const sub = findCommand(subName, spec.subcommands);
  if (!sub)
    throw new UsageError(
      `unknown command "akd ${name} ${subName}": one of ${spec.subcommands
        .filter((s) => !s.hidden)
        .map((s) => s.name)
        .join(', ')}`,
    );
  return { spec: sub, parent: spec, key: `${name} ${sub.name}`, rest: subRest };
}

export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || HELP_FLAGS.has(command)) {
    process.stdout.write(overviewUsage() + '\n');
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  let target: ReturnType<typeof resolve> | undefined;
  try {
    target = resolve(argv);
    const { spec, parent, key, rest } = target;
    if (wantsHelp(rest) || (spec.subcommands && rest.length === 0)) {
      process.stdout.write(commandUsage(spec, parent) + '\n');
      return wantsHelp(rest) ? EXIT.ok : EXIT.usage;
    }
    const args = parseCommandArgs(
      spec,
      rest,
      parent ? `akd ${parent.name} ${spec.name}` : `akd ${spec.name}`,
    );
    const load = HANDLERS[key];
    if (!load) throw new UsageError(`"akd ${key}" has no handler`);
    return await (
      await load()
    )(args);
  } catch (e) {
    // Refusals and faults are one line each for people, never a stack trace.
    if (e instanceof RunLockedError) {
      process.stderr.write(`akd: ${e.message}\n`);
      return EXIT.locked;
    }
    if (e instanceof CheckpointError) {
      process.stderr.write(`akd: ${e.message}\n`);
      return EXIT.failed;
    }
    // A full disk or a folder it may not write, outside a run (creating the run folder, its lock...).
    const store = storeWriteError(e, (e as NodeJS.ErrnoException).path ?? 'the run folder');
    if (store instanceof StoreWriteError) {
      process.stderr.write(`akd: ${store.message}\n`);
      return EXIT.failed;
    }
    if (e instanceof UsageError || e instanceof LauncherUsageError) {
      const where = target ? `\nUsage: ${synopsis(target.spec, target.parent)} (akd help ${target.key})` : '';
      const message = e.message.startsWith('akd') ? e.message : `akd: ${e.message}`;
      process.stderr.write(`${message}${where}\n`);
      return e instanceof OptionError ? EXIT.invalid : EXIT.usage;
    }
    const slurmProblem = slurmErrorMessage(e);
    if (slurmProblem) {
      process.stderr.write(`akd: ${slurmProblem}\n`);
      return EXIT.failed;
    }
    throw e;
  }
}

/** The command paths the dispatcher runs (for tests: every spec has a handler and back). */
export function handledCommands(): string[] {
  return Object.keys(HANDLERS);
}
export { COMMANDS };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      process.stderr.write(`akd: ${e.stack ?? e.message}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
