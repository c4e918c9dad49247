/**
 * `akd`: the command line of Anneal KD. Usable with no editor at all; the VS Code extension
 * launches `akd run --json` and reads the same events. One module per command (commands/),
 * each loaded only when it runs: `akd validate/list/show` must not pay for TensorFlow.js.
 */
import * as path from 'node:path';
import { LauncherUsageError, slurmErrorMessage } from '../launch/runControl';
import { EXIT } from '../protocol/exitCodes';
import { CheckpointError } from '../store/checkpoint';
import { RunLockedError } from '../store/runLock';
import { StoreWriteError, storeWriteError } from '../store/storeErrors';
import { UsageError } from './args';
import { USAGE } from './usage';

type Command = (argv: string[]) => number | Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run')).cmdRun,
  resume: async () => (await import('./commands/resume')).cmdResume,
  sweep: async () => (await import('./commands/sweep')).cmdSweep,
  // Hidden: one sweep member, run or resumed from its folder (what a sweep starts for each).
  'run-member': async () => (await import('./commands/runMember')).cmdRunMember,
  compare: async () => (await import('./commands/compare')).cmdCompare,
  export: async () => (await import('./commands/export')).cmdExport,
  stop: async () => (await import('./commands/stop')).cmdStop,
  follow: async () => (await import('./commands/follow')).cmdFollow,
  // Hidden: what a Slurm job runs on its compute node (one session of an existing run folder).
  '_run-job': async () => {
    const { runJob } = await import('../launch/jobEntry');
    return (argv) => runJob(path.resolve(argv[0] ?? '.'));
  },
  validate: async () => (await import('./commands/validate')).cmdValidate,
  list: async () => (await import('./commands/list')).cmdList,
  show: async () => (await import('./commands/show')).cmdShow,
};

const HELP = new Set(['-h', '--help', 'help']);

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || HELP.has(command)) {
    process.stdout.write(USAGE + '\n');
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!load) throw new UsageError(`unknown command "${command}"`);
    return await (
      await load()
    )(rest);
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
      process.stderr.write(`akd: ${e.message}\n\n${USAGE}\n`);
      return EXIT.usage;
    }
    const slurmProblem = slurmErrorMessage(e);
    if (slurmProblem) {
      process.stderr.write(`akd: ${slurmProblem}\n`);
      return EXIT.failed;
    }
    throw e;
  }
}

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
