/**
 * The run queue, read side: `ROOT/.akd/queue.json`, one queue shared by the editor (ROOT: each
 * workspace folder) and terminals (ROOT: the current folder or --root). `akd queue ...` changes
 * it under a lock (runner/store/queueStore.ts); the editor reads it here and changes it only
 * through `akd queue`. Entries are claimed by the process that trains them (`akd queue next`),
 * which records its process identity, so a claim whose process is gone is visibly stale.
 *
 * Not exported from runner/protocol/index.ts (it reads /proc through processIdentity.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { identityStatus, type IdentityStatus, type ProcessIdentity } from './processIdentity';

export const QUEUE_FILE = 'queue.json';

/** The exit code of `akd queue next` when it found nothing to claim (the queue is empty, or the rest is claimed). */
export const QUEUE_NOTHING_TO_RUN = 3;

/** ROOT/.akd/queue.json. */
export function queueFile(root: string): string {
  return path.join(path.resolve(root), '.akd', QUEUE_FILE);
}

export interface QueueClaim extends ProcessIdentity {
  claimedAt: string;
  /** The `akd queue start` that started the claimer (its token), if any. */
  drainer?: string;
}

export interface QueueEntry {
  /** Short and stable: what `akd queue remove|move` take. */
  id: string;
  /** The config, absolute. */
  configPath: string;
  /** `--set` values as given (KEY=VALUE, in order). */
  set: string[];
  /** Where the run folder goes (akd run --out); absent: .akd/runs beside the config. */
  out?: string;
  addedAt: string;
  /** queued: waits; running: claimed by `claim` (which trains it). */
  state: 'queued' | 'running';
  /**
   * The run folder, once a claimer made it. A queued entry with a run folder was interrupted (its
   * drainer stopped or was killed): the next claim resumes that run from its checkpoint.
   */
  runDir?: string;
  claim?: QueueClaim;
  /** How many times a claimer started or resumed it. */
  attempts?: number;
  /** Why it went back to the queue, for people ("drainer pid 123 on h was killed"). */
  returned?: string;
}

export type QueueOutcome = 'completed' | 'failed' | 'cancelled' | 'invalid';

/** A finished entry, kept for a while for `akd queue list` and the drainers (newest last). */
export interface FinishedEntry {
  id: string;
  configPath: string;
  set: string[];
  runDir?: string;
  out?: string;
  addedAt?: string;
  outcome: QueueOutcome;
  endedAt: string;
  error?: string;
  drainer?: string;
}

export interface QueueState {
  v: 1;
  entries: QueueEntry[];
  finished: FinishedEntry[];
}

export function emptyQueue(): QueueState {
  return { v: 1, entries: [], finished: [] };
}

/** A damaged queue file: never silently treated as empty (that would lose every entry). */
export class QueueFileError extends Error {}

function isEntry(e: unknown): e is QueueEntry {
  const x = e as Partial<QueueEntry> | null;
  return (
    !!x &&
    typeof x === 'object' &&
    typeof x.id === 'string' &&
    typeof x.configPath === 'string' &&
    Array.isArray(x.set) &&
    (x.state === 'queued' || x.state === 'running')
  );
}

/** Parse queue.json's text; throws QueueFileError naming what is wrong. */
export function parseQueue(text: string, file: string): QueueState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new QueueFileError(`${file}: not JSON (${(e as Error).message})`);
  }
  const q = value as Partial<QueueState> | null;
  if (!q || typeof q !== 'object' || q.v !== 1 || !Array.isArray(q.entries))
    throw new QueueFileError(`${file}: not a queue (expected {"v": 1, "entries": [...]})`);
  const bad = q.entries.findIndex((e) => !isEntry(e));
  if (bad >= 0) throw new QueueFileError(`${file}: entries[${bad}] is not a queue entry`);
  return { v: 1, entries: q.entries, finished: Array.isArray(q.finished) ? q.finished : [] };
}

/** The queue under ROOT (empty when there is no queue.json yet). */
export function readQueue(root: string): QueueState {
  const file = queueFile(root);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyQueue();
    throw new QueueFileError(`${file}: ${(e as Error).message}`);
  }
  return parseQueue(text, file);
}

/** Queued entries in the order they will run (position 1 runs next). */
export function queuedEntries(q: QueueState): QueueEntry[] {
  return q.entries.filter((e) => e.state === 'queued');
}

/** 1-based position of a queued entry, undefined for a running one. */
export function queuePosition(q: QueueState, id: string): number | undefined {
  const i = queuedEntries(q).findIndex((e) => e.id === id);
  return i >= 0 ? i + 1 : undefined;
}

/** Whether the process that claimed an entry still runs (on this host; another host's: unknown). */
export function claimStatus(entry: QueueEntry): IdentityStatus {
  return entry.claim ? identityStatus(entry.claim) : 'dead';
}

/** What a claim would take now: queued entries, and running ones whose claimer is gone (recovery). */
export function claimableCount(q: QueueState): number {
  return q.entries.filter((e) => e.state === 'queued' || claimStatus(e) === 'dead').length;
}

/** "--set a=1 b=2" (or "") for labels. */
export function setText(entry: Pick<QueueEntry, 'set'>): string {
  return entry.set.length > 0 ? `--set ${entry.set.join(' --set ')}` : '';
}
