/**
 * `akd queue add|list|remove|move|start|next`: one queue of runs in ROOT/.akd/queue.json shared
 * by terminals and the editor (the file: protocol/queue.ts; changes under its lock:
 * store/queueStore.ts). `akd queue next` claims one entry and trains it in its own process, so
 * the claim's process identity is the run's; `akd queue start --jobs N` keeps N of those going.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runLocally } from '../../launch/localRun';
import { resolveLauncher } from '../../launch/runControl';
import type { RunStartedEvent } from '../../protocol/events';
import { EXIT, exitCodeForSignal } from '../../protocol/exitCodes';
import { RUN_FILES } from '../../protocol/files';
import { noteLine } from '../../protocol/format';
import {
  QUEUE_NOTHING_TO_RUN as NOTHING_TO_RUN,
  claimableCount,
  queueFile,
  queuePosition,
  readQueue,
  setText,
  type QueueEntry,
  type QueueOutcome,
} from '../../protocol/queue';
import {
  QueueError,
  addEntry,
  claimNext,
  finishEntry,
  moveEntry,
  removeEntries,
  requeueCancelled,
  returnEntry,
  setEntryRunDir,
  type MoveTarget,
} from '../../store/queueStore';
import { CheckpointError, loadResumeState } from '../../store/checkpoint';
import { RunLockedError, acquireRunLock, type RunLock } from '../../store/runLock';
import { createRunDir, readRun, runsRootFor, writeJsonAtomic } from '../../store/runStore';
import { OptionError, UsageError, flagList, flagString, type ParsedArgs } from '../args';
import { loadRunConfig, setOverrides } from './run';

function rootOf(args: ParsedArgs): string {
  return path.resolve(flagString(args, 'root') ?? '.');
}

/** Queue errors are refusals of what was asked (exit 2), said in one line. */
function refused(e: unknown, command: string): number {
  if (e instanceof QueueError) {
    process.stderr.write(`akd queue ${command}: ${e.message}\n`);
    return EXIT.invalid;
  }
  throw e;
}

export function cmdQueueAdd(args: ParsedArgs): number {
  const configPath = args.positional[0];
  if (!configPath) throw new UsageError('akd queue add needs a CONFIG file');
  if (args.positional.length > 1)
    throw new UsageError('akd queue add takes one CONFIG (add each separately)');
  const set = flagList(args, 'set');
  // Validated now, as akd run would (and again when it starts: the file may change meanwhile).
  const loaded = loadRunConfig(configPath, setOverrides(set, 'akd queue add'));
  if (!loaded) {
    process.stderr.write(`${configPath}: invalid config, nothing was queued\n`);
    return EXIT.invalid;
  }
  if (resolveLauncher(loaded.config, undefined).type === 'slurm') {
    process.stderr.write(
      `${configPath}: its launcher is Slurm, which queues jobs itself: run it with akd run ${configPath} (nothing was queued)\n`,
    );
    return EXIT.invalid;
  }
  const root = rootOf(args);
  const out = flagString(args, 'out');
  const entry = addEntry(root, { configPath, set, ...(out ? { out } : {}) });
  const position = queuePosition(readQueue(root), entry.id);
  if (args.flags.has('json')) process.stdout.write(JSON.stringify({ ...entry, position }) + '\n');
  else
    process.stderr.write(
      `queued ${entry.id} at position ${position ?? '?'}: ${configPath}${set.length ? ` ${setText(entry)}` : ''} (${queueFile(root)}; akd queue start drains it)\n`,
    );
  return EXIT.ok;
}

function entryRow(e: QueueEntry, position: number | undefined, root: string): string[] {
  const config = path.relative(root, e.configPath) || e.configPath;
  const state =
    e.state === 'running' ? `running (pid ${e.claim?.pid ?? '?'})` : e.runDir ? 'queued (resumes)' : 'queued';
  return [
    position !== undefined ? String(position) : '-',
    e.id,
    state,
    config.startsWith('..') ? e.configPath : config,
    noteLine(setText(e), 48),
    e.runDir ? path.basename(e.runDir) : '',
  ];
}

export function cmdQueueList(args: ParsedArgs): number {
  const root = rootOf(args);
  const q = readQueue(root);
  const entries = q.entries.map((e) => ({ ...e, position: queuePosition(q, e.id) ?? null }));
  if (args.flags.has('json')) {
    process.stdout.write(
      JSON.stringify({ root, file: queueFile(root), entries, finished: q.finished }, null, 2) + '\n',
    );
    return EXIT.ok;
  }
  if (entries.length === 0) {
    process.stdout.write(`the queue is empty (${queueFile(root)})\n`);
    return EXIT.ok;
  }
  const sorted = [...entries].sort(
    (a, b) => (a.position ?? Infinity) - (b.position ?? Infinity) || a.addedAt.localeCompare(b.addedAt),
  );
  const rows = [
    ['#', 'ID', 'STATE', 'CONFIG', 'SET', 'RUN'],
    ...sorted.map((e) => entryRow(e, e.position ?? undefined, root)),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n',
  );
  return EXIT.ok;
}

export function cmdQueueRemove(args: ParsedArgs): number {
  if (args.positional.length === 0)
    throw new UsageError('akd queue remove needs an entry ID (akd queue list shows them)');
  try {
    const removed = removeEntries(rootOf(args), args.positional);
    for (const e of removed)
      process.stderr.write(
        `removed ${e.id}${e.runDir ? ` (its run stays in ${e.runDir}; akd resume continues it)` : ''}\n`,
      );
    return EXIT.ok;
  } catch (e) {
    return refused(e, 'remove');
  }
}

function moveTarget(text: string | undefined): MoveTarget {
  if (text === 'up' || text === 'down' || text === 'top' || text === 'bottom') return text;
  const n = Number(text);
  if (text !== undefined && Number.isInteger(n) && n >= 1) return n;
  throw new OptionError(
    `akd queue move: where to? up, down, top, bottom or a position >= 1; got "${text ?? ''}"`,
  );
}

export function cmdQueueMove(args: ParsedArgs): number {
  const [id, where] = args.positional;
  if (!id)
    throw new UsageError(
      'akd queue move needs an entry ID and where to: up, down, top, bottom or a position',
    );
  const to = moveTarget(where);
  try {
    const position = moveEntry(rootOf(args), id, to);
    process.stderr.write(`${id} is now at position ${position}\n`);
    return EXIT.ok;
  } catch (e) {
    return refused(e, 'move');
  }
}

/** The outcome of an entry's run from its folder, after the claimer's session ended. */
function outcomeOf(runDir: string): QueueOutcome {
  const status = readRun(runDir).status;
  return status === 'completed' || status === 'failed' || status === 'cancelled' ? status : 'failed';
}

/**
 * `akd queue next`: claim one entry (recovering stale claims first) and train it in this
 * process, then take it off the queue with its outcome. Exits NOTHING_TO_RUN when there was
 * nothing to claim. Killed mid-run, it leaves the entry claimed by a dead process: the next
 * claim puts it back at the front and the claim after resumes its run.
 */
export async function cmdQueueNext(args: ParsedArgs): Promise<number> {
  const root = rootOf(args);
  const json = args.flags.has('json');
  const drainer = flagString(args, 'drainer');
  const claim = claimNext(root, drainer ? { drainer } : {});
  for (const note of claim.notes) process.stderr.write(`akd queue: ${note}\n`);
  const entry = claim.entry;
  if (!entry) {
    process.stderr.write(`akd queue: nothing to run in ${queueFile(root)}\n`);
    return NOTHING_TO_RUN;
  }
  const label = `${entry.id} (${entry.configPath}${entry.set.length ? ` ${setText(entry)}` : ''})`;
  if (claim.resume && entry.runDir) {
    const run = readRun(entry.runDir);
    if (!run.config) {
      finishEntry(
        root,
        entry.id,
        'failed',
        `${path.join(entry.runDir, RUN_FILES.config)} is missing or unreadable`,
      );
      process.stderr.write(`akd queue: ${label}: ${entry.runDir} has no readable ${RUN_FILES.config}\n`);
      return EXIT.failed;
    }
    const lock = lockRun(root, entry.id, label, entry.runDir);
    if (!lock) return EXIT.locked;
    try {
      // A damaged checkpoint ends the entry as failed (akd resume --from previous can still try):
      // never retrained from scratch, nor claimed again and again.
      try {
        loadResumeState(entry.runDir, { runRef: entry.runDir });
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        finishEntry(root, entry.id, 'failed', e.message);
        process.stderr.write(`akd queue: ${label}: ${e.message}\n`);
        return EXIT.failed;
      }
      process.stderr.write(`akd queue: resuming ${label} in ${entry.runDir}\n`);
      const started = run.events.find((e): e is RunStartedEvent => e.type === 'run-started');
      const code = await runLocally({
        config: run.config,
        configPath: started?.configPath ?? entry.configPath,
        runId: path.basename(entry.runDir),
        runDir: entry.runDir,
        json,
        resume: true,
      });
      finishEntry(root, entry.id, outcomeOf(entry.runDir));
      return code;
    } finally {
      lock.release();
    }
  }
  const problems: string[] = [];
  let loaded;
  try {
    loaded = loadRunConfig(entry.configPath, setOverrides(entry.set, 'akd queue'), (line) => {
      problems.push(line);
      process.stderr.write(line + '\n');
    });
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    problems.push(e.message);
  }
  if (!loaded) {
    finishEntry(root, entry.id, 'invalid', problems.join('\n') || 'invalid config');
    process.stderr.write(
      `akd queue: ${label}: invalid config, nothing was run; the entry is off the queue\n`,
    );
    return EXIT.invalid;
  }
  const { config } = loaded;
  // The queue trains here; a config's Slurm block is for akd run (Slurm queues its jobs itself).
  if (config.launcher?.type === 'slurm') {
    process.stderr.write(`akd queue: ${label}: its launcher block is Slurm; the queue trains it locally\n`);
    config.launcher = { type: 'local' };
  }
  let runDir = entry.runDir;
  let runId: string;
  if (runDir && fs.existsSync(runDir)) runId = path.basename(runDir);
  else ({ runId, runDir } = createRunDir(runsRootFor(entry.configPath, entry.out), config.name));
  // The run folder's one writer from its first file on, as for akd run.
  const lock = lockRun(root, entry.id, label, runDir);
  if (!lock) return EXIT.locked;
  try {
    writeJsonAtomic(path.join(runDir, RUN_FILES.config), config);
    setEntryRunDir(root, entry.id, runDir);
    process.stderr.write(`akd queue: starting ${label} in ${runDir}\n`);
    const code = await runLocally({
      config,
      configPath: entry.configPath,
      runId,
      runDir,
      json,
      resume: false,
      ...(loaded.overrides ? { overrides: loaded.overrides } : {}),
    });
    finishEntry(root, entry.id, outcomeOf(runDir));
    return code;
  } finally {
    lock.release();
  }
}

/**
 * The run folder's lock (store/runLock.ts), or undefined when another process took it between
 * the claim (which skips runs being written) and now, e.g. an akd resume by hand: the entry goes
 * back to the front, to be claimed once that writer is done, never run twice at once.
 */
function lockRun(root: string, id: string, label: string, runDir: string): RunLock | undefined {
  try {
    return acquireRunLock(runDir, { command: 'queue' });
  } catch (e) {
    if (!(e instanceof RunLockedError)) throw e;
    returnEntry(root, id, `its run folder is being written by another process (${e.message})`);
    process.stderr.write(`akd queue: ${label}: ${e.message}; back at the front of the queue\n`);
    return undefined;
  }
}

/** The entry script `akd queue start` starts its claimers with: this process's own (bin/akd.js). */
function akdEntry(): string {
  const own = process.argv[1];
  if (own && fs.existsSync(own)) return own;
  return path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'akd.js');
}

/**
 * `akd queue start [--jobs N]`: keep N `akd queue next` processes going until none finds anything
 * to claim. Each child has its own process group, so a terminal's Ctrl-C reaches this process
 * only, which passes one SIGINT/SIGTERM to each child (they checkpoint and end cancelled) and
 * puts their entries back at the front of the queue to resume next time. A second signal is
 * passed on too: the children exit at once and their claims are recovered by the next drain.
 */
export async function cmdQueueStart(args: ParsedArgs): Promise<number> {
  const root = rootOf(args);
  const jobsText = flagString(args, 'jobs') ?? '1';
  const jobs = Number(jobsText);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw new OptionError(`akd queue start: --jobs must be an integer 1..64, got "${jobsText}"`);
  const json = args.flags.has('json');
  const drainer = `${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const children = new Set<ChildProcess>();
  let signal: NodeJS.Signals | undefined;
  let idle = false;
  let ran = 0;
  let wake: () => void = () => {};

  const onSignal = (s: NodeJS.Signals): void => {
    signal = s;
    for (const c of children) c.kill(s);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const startChild = (): void => {
    const child = spawn(
      process.execPath,
      [akdEntry(), 'queue', 'next', '--root', root, '--drainer', drainer, ...(json ? ['--json'] : [])],
      { stdio: ['ignore', 'inherit', 'inherit'], detached: process.platform !== 'win32' },
    );
    children.add(child);
    child.on('exit', (code) => {
      children.delete(child);
      if (code === NOTHING_TO_RUN) idle = true;
      else {
        idle = false;
        ran++;
      }
      wake();
    });
  };
  try {
    if (!json)
      process.stderr.write(
        `akd queue: draining ${queueFile(root)}, ${jobs} run${jobs === 1 ? '' : 's'} at a time\n`,
      );
    for (;;) {
      while (!signal && !idle && children.size < jobs) {
        // Whether a claimer has anything to find; with claimers going, the one that finds nothing says so.
        if (children.size === 0) {
          let claimable = 0;
          try {
            claimable = claimableCount(readQueue(root));
          } catch (e) {
            process.stderr.write(`akd queue: ${(e as Error).message}\n`);
          }
          if (claimable === 0) {
            idle = true;
            break;
          }
        }
        startChild();
      }
      if (children.size === 0) break;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (signal) {
    const back = requeueCancelled(root, drainer);
    if (back.length > 0)
      process.stderr.write(
        `akd queue: stopped; ${back.map((f) => f.id).join(', ')} back at the front of the queue (akd queue start resumes ${back.length === 1 ? 'it' : 'them'})\n`,
      );
    return exitCodeForSignal(signal);
  }
  const finished = readQueue(root).finished.filter((f) => f.drainer === drainer);
  const bad = finished.filter((f) => f.outcome !== 'completed');
  if (!json)
    process.stderr.write(
      `akd queue: done: ${ran === 0 ? 'nothing to run' : `${finished.length - bad.length} completed${bad.length ? `, ${bad.map((f) => `${f.id} ${f.outcome}`).join(', ')}` : ''}`}\n`,
    );
  return bad.length > 0 ? EXIT.failed : EXIT.ok;
}
