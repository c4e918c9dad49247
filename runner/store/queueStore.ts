/**
 * The run queue, write side (the file: protocol/queue.ts). Every change is a read-modify-write
 * of ROOT/.akd/queue.json under a lock taken with the run lock's primitive (store/runLock.ts:
 * an O_EXCL hard link holding the taker's process identity, stale when that very process is
 * gone), in ROOT/.akd/queue-lock/; the file itself is replaced atomically, so readers without
 * the lock (the editor) never see half of it.
 *
 * Exactly once: an entry is claimed under the lock by the process that will train it (its
 * identity goes into the entry), so two drainers never take the same entry. A claim whose
 * process is gone (killed mid-run) is recovered by the next claim: a run that completed or
 * failed is finished, anything else goes back to the front of the queue with its run folder,
 * and the next claimer resumes that run from its checkpoint instead of starting it again.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEvents } from '../protocol/eventTail';
import { RUN_FILES } from '../protocol/files';
import { currentProcessIdentity, describeIdentity } from '../protocol/processIdentity';
import {
  claimStatus,
  emptyQueue,
  parseQueue,
  queueFile,
  queuedEntries,
  type FinishedEntry,
  type QueueEntry,
  type QueueOutcome,
  type QueueState,
} from '../protocol/queue';
import { runWriter, runWriterAlive } from '../protocol/runLock';
import type { RunStartedEvent } from '../protocol/events';
import { acquireRunLock } from './runLock';
import { runStatusFromEvents, writeJsonAtomic } from './runStore';

/** Finished entries kept in queue.json (the oldest go first). */
const FINISHED_KEPT = 100;

/** A change refused as asked (an unknown id, a running entry): the message is for people. */
export class QueueError extends Error {}

/** The folder whose run.lock serializes changes to ROOT/.akd/queue.json. */
export function queueLockDir(root: string): string {
  return path.join(path.dirname(queueFile(root)), 'queue-lock');
}

/**
 * Run `change` on the queue under its lock and write the result. The lock is held for the
 * read-modify-write only (milliseconds), so a second taker waits instead of being refused.
 */
export function mutateQueue<T>(root: string, change: (q: QueueState) => T): T {
  const file = queueFile(root);
  const lockDir = queueLockDir(root);
  fs.mkdirSync(lockDir, { recursive: true });
  const lock = acquireRunLock(lockDir, {
    command: 'queue',
    waitMs: 30_000,
    refusal: () => `${file} is being changed by another process`,
  });
  try {
    let q: QueueState;
    try {
      q = parseQueue(fs.readFileSync(file, 'utf8'), file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      q = emptyQueue();
    }
    const result = change(q);
    if (q.finished.length > FINISHED_KEPT) q.finished = q.finished.slice(-FINISHED_KEPT);
    writeJsonAtomic(file, q);
    return result;
  } finally {
    lock.release();
  }
}

function newId(q: QueueState): string {
  const taken = new Set([...q.entries, ...q.finished].map((e) => e.id));
  for (;;) {
    const id = crypto.randomBytes(3).toString('hex');
    if (!taken.has(id)) return id;
  }
}

export interface NewEntry {
  configPath: string;
  set: string[];
  out?: string;
}

/** Append an entry at the end of the queue. */
export function addEntry(root: string, e: NewEntry): QueueEntry {
  return mutateQueue(root, (q) => {
    const entry: QueueEntry = {
      id: newId(q),
      configPath: path.resolve(e.configPath),
      set: [...e.set],
      ...(e.out ? { out: path.resolve(e.out) } : {}),
      addedAt: new Date().toISOString(),
      state: 'queued',
    };
    q.entries.push(entry);
    return entry;
  });
}

function find(q: QueueState, id: string, root: string): QueueEntry {
  const entry = q.entries.find((e) => e.id === id);
  if (!entry) {
    const done = q.finished.find((f) => f.id === id);
    throw new QueueError(
      done
        ? `entry ${id} already ${done.outcome === 'invalid' ? 'failed to start' : done.outcome}${done.runDir ? ` (${done.runDir})` : ''}`
        : `no entry ${id} in ${queueFile(root)} (akd queue list shows them)`,
    );
  }
  return entry;
}

function refuseRunning(entry: QueueEntry, what: string): void {
  if (entry.state === 'running')
    throw new QueueError(
      `entry ${entry.id} is running${entry.claim ? ` (${describeIdentity(entry.claim)})` : ''}: it cannot be ${what}${entry.runDir ? `; stop its run with akd stop ${entry.runDir}` : ''}`,
    );
}

/** Take queued entries off the queue (all or none). Their run folders, if any, stay. */
export function removeEntries(root: string, ids: readonly string[]): QueueEntry[] {
  return mutateQueue(root, (q) => {
    const entries = ids.map((id) => find(q, id, root));
    for (const e of entries) refuseRunning(e, 'removed');
    q.entries = q.entries.filter((e) => !entries.includes(e));
    return entries;
  });
}

export type MoveTarget = 'up' | 'down' | 'top' | 'bottom' | number;

/** Move a queued entry among the queued ones; returns its new position (1 = next). */
export function moveEntry(root: string, id: string, to: MoveTarget): number {
  return mutateQueue(root, (q) => {
    const entry = find(q, id, root);
    refuseRunning(entry, 'moved');
    const queued = queuedEntries(q);
    const from = queued.indexOf(entry);
    const last = queued.length - 1;
    const target =
      to === 'up' ? from - 1 : to === 'down' ? from + 1 : to === 'top' ? 0 : to === 'bottom' ? last : to - 1;
    const at = Math.max(0, Math.min(last, target));
    queued.splice(from, 1);
    queued.splice(at, 0, entry);
    // Running entries keep their places; the queued ones take the queued slots in the new order.
    let k = 0;
    q.entries = q.entries.map((e) => (e.state === 'queued' ? queued[k++] : e));
    return at + 1;
  });
}

/** What a run folder says about its run, for claims and recovery. */
export interface RunProbe {
  /** Some session started (a claim of it resumes rather than starts). */
  started: boolean;
  status: ReturnType<typeof runStatusFromEvents>;
  /** A live process writes it now (its run lock's holder, or the running session's pid). */
  writing: boolean;
}

export function probeRun(runDir: string): RunProbe {
  const events = readEvents(path.join(runDir, RUN_FILES.events));
  const status = runStatusFromEvents(events);
  const started = [...events].reverse().find((e): e is RunStartedEvent => e.type === 'run-started');
  return {
    started: started !== undefined,
    status,
    // The run lock's holder decides; a run without one (or a lock taken before it started) by its pid.
    writing:
      runWriter(runDir).state === 'writing' || (status === 'running' && runWriterAlive(runDir, started?.pid)),
  };
}

function finish(q: QueueState, entry: QueueEntry, outcome: QueueOutcome, error?: string): FinishedEntry {
  q.entries = q.entries.filter((e) => e !== entry);
  const done: FinishedEntry = {
    id: entry.id,
    configPath: entry.configPath,
    set: entry.set,
    ...(entry.runDir ? { runDir: entry.runDir } : {}),
    ...(entry.out ? { out: entry.out } : {}),
    addedAt: entry.addedAt,
    outcome,
    endedAt: new Date().toISOString(),
    ...(error ? { error } : {}),
    ...(entry.claim?.drainer ? { drainer: entry.claim.drainer } : {}),
  };
  q.finished.push(done);
  return done;
}

/** An entry taken out of the queue to go back to its front, keeping its run folder (the next claim resumes it). */
function takeBack(q: QueueState, entry: QueueEntry, why: string): QueueEntry {
  q.entries = q.entries.filter((e) => e !== entry);
  const back: QueueEntry = { ...entry, state: 'queued', returned: why };
  delete back.claim;
  if (back.runDir && !fs.existsSync(path.join(back.runDir, RUN_FILES.events))) {
    // Claimed but never started: nothing in the folder to resume (at most its config.json).
    removeUnstartedRunDir(back.runDir);
    delete back.runDir;
  }
  return back;
}

/** A run folder a claimer made but never started a run in: only its config.json, if anything. */
function removeUnstartedRunDir(runDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    return;
  }
  if (names.every((n) => n === RUN_FILES.config || n.startsWith(`${RUN_FILES.config}.tmp-`)))
    fs.rmSync(runDir, { recursive: true, force: true });
}

/**
 * Recover the entries whose claimer is gone (killed mid-run): a run that ended completed or
 * failed is finished; one still written by a live process is left alone; anything else goes back
 * to the front of the queue. Returns what it did, for people.
 */
export function recoverStale(q: QueueState): string[] {
  const notes: string[] = [];
  const back: QueueEntry[] = [];
  for (const entry of [...q.entries]) {
    if (entry.state !== 'running' || claimStatus(entry) !== 'dead') continue;
    const who = entry.claim ? describeIdentity(entry.claim) : 'no claimer';
    const probe = entry.runDir ? probeRun(entry.runDir) : undefined;
    if (probe?.writing) continue;
    if (probe && (probe.status === 'completed' || probe.status === 'failed')) {
      finish(q, entry, probe.status);
      notes.push(`entry ${entry.id}: its claimer (${who}) is gone; the run had ${probe.status}`);
      continue;
    }
    back.push(takeBack(q, entry, `its claimer (${who}) was gone`));
    notes.push(
      `entry ${entry.id}: its claimer (${who}) is gone; back at the front of the queue${entry.runDir && probe?.started ? ` (resumes ${entry.runDir})` : ''}`,
    );
  }
  // In their order, ahead of everything queued: they were started first.
  q.entries.unshift(...back);
  return notes;
}

export interface ClaimResult {
  /** The entry this process now owns (none left to claim: undefined). */
  entry?: QueueEntry;
  /** The entry's run folder holds a started run: resume it. */
  resume: boolean;
  /** What recovery did on the way (stale claims), for people. */
  notes: string[];
}

/**
 * Claim the next entry for this process (its identity goes into the entry), recovering stale
 * claims first. An interrupted entry whose run is being written by someone else right now (an
 * `akd resume` by hand) is skipped; one whose run has meanwhile ended is finished.
 */
export function claimNext(root: string, opts: { drainer?: string } = {}): ClaimResult {
  return mutateQueue(root, (q) => {
    const notes = recoverStale(q);
    for (const entry of queuedEntries(q)) {
      let started = false;
      if (entry.runDir) {
        const probe = probeRun(entry.runDir);
        if (probe.writing) continue;
        if (probe.status === 'completed' || probe.status === 'failed') {
          finish(q, entry, probe.status);
          notes.push(`entry ${entry.id}: its run had ${probe.status} meanwhile`);
          continue;
        }
        started = probe.started;
      }
      entry.state = 'running';
      entry.claim = {
        ...currentProcessIdentity(),
        claimedAt: new Date().toISOString(),
        ...(opts.drainer ? { drainer: opts.drainer } : {}),
      };
      entry.attempts = (entry.attempts ?? 0) + 1;
      delete entry.returned;
      return { entry: structuredClone(entry), resume: started, notes };
    }
    return { resume: false, notes };
  });
}

/**
 * Give a claimed entry back (to the front, unclaimed): its run folder turned out to be written by
 * another process between the claim and the claimer taking the run's lock. The next claim skips
 * it while that writer lives, then resumes or finishes it as for any returned entry.
 */
export function returnEntry(root: string, id: string, why: string): void {
  mutateQueue(root, (q) => {
    const entry = find(q, id, root);
    q.entries = [entry, ...q.entries.filter((e) => e !== entry)];
    entry.state = 'queued';
    delete entry.claim;
    entry.returned = why;
  });
}

/** Record the run folder the claimer made for its entry (before the run starts in it). */
export function setEntryRunDir(root: string, id: string, runDir: string): void {
  mutateQueue(root, (q) => {
    const entry = find(q, id, root);
    entry.runDir = runDir;
  });
}

/** The claimer is done with its entry: it leaves the queue as `outcome`. */
export function finishEntry(root: string, id: string, outcome: QueueOutcome, error?: string): FinishedEntry {
  return mutateQueue(root, (q) => finish(q, find(q, id, root), outcome, error));
}

/**
 * Entries a stopped drainer's runs ended cancelled: back to the front of the queue with their
 * run folders, so the next drain resumes them (a run stopped on its own stays off the queue).
 */
export function requeueCancelled(root: string, drainer: string): FinishedEntry[] {
  return mutateQueue(root, (q) => {
    const back = q.finished.filter((f) => f.drainer === drainer && f.outcome === 'cancelled');
    q.finished = q.finished.filter((f) => !back.includes(f));
    q.entries.unshift(
      ...back.map((f): QueueEntry => ({
        id: f.id,
        configPath: f.configPath,
        set: f.set,
        ...(f.runDir ? { runDir: f.runDir } : {}),
        ...(f.out ? { out: f.out } : {}),
        addedAt: f.addedAt ?? f.endedAt,
        state: 'queued',
        returned: 'its drainer was stopped',
      })),
    );
    return back;
  });
}
