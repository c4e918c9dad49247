/**
 * `akd gc`: what can go to free space, and removing it. The rules, most protective first:
 * nothing of a starred run; never the checkpoints of a run that is going (its writer lives),
 * queued (a queue entry names its folder), cancelled, interrupted, not started or, without
 * --failed, failed (all of those are resumable); of completed runs (and failed ones with
 * --failed) only `checkpoints/` goes: summary.json, events.jsonl, config.json and the final
 * models stay. A shared-teacher cache (`.akd/teachers/<key>/`) goes when no run, sweep, queued
 * entry or config under the folder refers to it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getNodeValue, parseTree } from 'jsonc-parser';
import type { RunEvent, RunStartedEvent, RunSummary } from '../protocol/events';
import { readEvents } from '../protocol/eventTail';
import { RUN_FILES, SWEEP_FILES } from '../protocol/files';
import { identityStatus } from '../protocol/processIdentity';
import { readQueue, type QueueState } from '../protocol/queue';
import { readRunMeta } from '../protocol/runMeta';
import { runWriterAlive } from '../protocol/runLock';
import { latestSession } from '../protocol/sessions';
import * as os from 'node:os';
import { readJson, runStatusFromEvents } from './runStore';

export type GcKind = 'completed' | 'failed' | 'teacher';

export interface GcItem {
  kind: GcKind;
  /** The folder that goes: a run's checkpoints/, or a teacher cache. */
  path: string;
  bytes: number;
}

export interface GcKept {
  /** The run folder or teacher cache that keeps what it has. */
  path: string;
  reason: string;
  bytes: number;
}

export interface GcPlan {
  /** The .akd folders looked at. */
  akdDirs: string[];
  items: GcItem[];
  /** Runs with checkpoints and caches that stay, and why. */
  kept: GcKept[];
}

export interface GcOptions {
  /** Also the checkpoints of failed runs. */
  failed?: boolean;
  /** Only runs that ended more than this many days ago. */
  olderThanDays?: number;
  now?: Date;
}

const SKIP = new Set(['node_modules', '.git', '.vscode-test', '.test-results']);

/** Bytes under a path (0 when it is gone). */
export function diskUsage(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const n of fs.readdirSync(p)) total += diskUsage(path.join(p, n));
  return total;
}

function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}

/** The .akd folders at or under `dir`, and the configs (`*.akd.json`) under it. */
function scan(dir: string): { akdDirs: string[]; configs: string[]; runRoots: string[] } {
  const abs = path.resolve(dir);
  const akdDirs: string[] = [];
  const configs: string[] = [];
  const runRoots: string[] = [];
  if (path.basename(abs) === '.akd') akdDirs.push(abs);
  else if (path.basename(abs) === 'runs' && path.basename(path.dirname(abs)) === '.akd')
    akdDirs.push(path.dirname(abs));
  else {
    // A folder of run folders (akd run --out DIR) counts too.
    if (subdirs(abs).some((d) => fs.existsSync(path.join(d, RUN_FILES.events)))) runRoots.push(abs);
    const walk = (d: string, depth: number): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) {
          if (e.name === '.akd') akdDirs.push(p);
          else if (!SKIP.has(e.name) && depth < 8 && !fs.existsSync(path.join(p, RUN_FILES.events)))
            walk(p, depth + 1);
        } else if (e.isFile() && e.name.endsWith('.akd.json')) configs.push(p);
      }
    };
    walk(abs, 0);
  }
  return { akdDirs, configs, runRoots };
}

interface RunFolder {
  runDir: string;
  events: RunEvent[];
}

/** Every run folder of an .akd folder: its runs and its sweeps' members. */
function runFolders(akdDir: string): string[] {
  const runs = subdirs(path.join(akdDir, 'runs'));
  const members = subdirs(path.join(akdDir, 'sweeps')).flatMap((s) => subdirs(s));
  return [...runs, ...members];
}

/** The teacher checkpoint a config names (its model.json, absolute), if any. */
function teacherCheckpoint(config: unknown, configPath: string): string | undefined {
  const t = (config as { teacher?: { checkpoint?: unknown } } | undefined)?.teacher;
  return typeof t?.checkpoint === 'string' ? path.resolve(path.dirname(configPath), t.checkpoint) : undefined;
}

function readJsonc(file: string): unknown {
  try {
    const root = parseTree(fs.readFileSync(file, 'utf8'), [], { allowTrailingComma: true });
    return root ? getNodeValue(root) : undefined;
  } catch {
    return undefined;
  }
}

/** When a run ended: its summary's end, else its last event. */
function endedAt(runDir: string, events: RunEvent[]): Date | undefined {
  const summary = readJson<RunSummary>(path.join(runDir, RUN_FILES.summary));
  const t = summary?.endedAt ?? events[events.length - 1]?.time;
  const d = t ? new Date(t) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/** Why a run's checkpoints must stay, or undefined when they may go (then: as which kind). */
function runVerdict(
  run: RunFolder,
  queued: Set<string>,
  opts: GcOptions,
): { keep: string } | { kind: GcKind } {
  const { runDir, events } = run;
  if (readRunMeta(runDir).starred) return { keep: 'starred' };
  if (queued.has(path.resolve(runDir))) return { keep: 'queued (a queue entry resumes it)' };
  const status = runStatusFromEvents(events);
  const session = latestSession(events);
  if (session?.submitted && !session.final) return { keep: 'its Slurm job is not over' };
  if (status === 'running') {
    const started = [...events].reverse().find((e): e is RunStartedEvent => e.type === 'run-started');
    return runWriterAlive(runDir, started?.pid)
      ? { keep: 'running' }
      : { keep: 'interrupted (resumable: akd resume)' };
  }
  if (status === 'cancelled') return { keep: 'cancelled (resumable: akd resume)' };
  if (status === 'unknown') return { keep: 'not started' };
  if (status === 'failed' && !opts.failed) return { keep: 'failed (resumable; --failed removes it)' };
  if (opts.olderThanDays !== undefined) {
    const ended = endedAt(runDir, events);
    const ageDays = ended ? ((opts.now ?? new Date()).getTime() - ended.getTime()) / 86_400_000 : Infinity;
    if (ageDays < opts.olderThanDays) return { keep: `ended less than ${opts.olderThanDays} days ago` };
  }
  return { kind: status === 'failed' ? 'failed' : 'completed' };
}

/** A teacher cache being written: `<key>.tmp-<pid>-<time>`; abandoned when that process is gone. */
function tempOwner(name: string): number | undefined {
  const m = /\.tmp-(\d+)-\d+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** What `akd gc DIR` would remove, and what it keeps. Reads only. */
export function planGc(dir: string, opts: GcOptions = {}): GcPlan {
  const { akdDirs, configs, runRoots } = scan(dir);
  const items: GcItem[] = [];
  const kept: GcKept[] = [];
  // Queued and interrupted entries name run folders the queue will resume.
  const queues: QueueState[] = [];
  for (const akd of akdDirs) {
    try {
      queues.push(readQueue(path.dirname(akd)));
    } catch (e) {
      throw new Error(`${(e as Error).message}: fix or remove it first (akd gc keeps queued runs)`, {
        cause: e,
      });
    }
  }
  const queued = new Set(
    queues.flatMap((q) => q.entries.flatMap((e) => (e.runDir ? [path.resolve(e.runDir)] : []))),
  );
  const references = new Set<string>();
  const refer = (checkpoint: string | undefined): void => {
    if (checkpoint) references.add(path.dirname(checkpoint));
  };

  const folders = [...akdDirs.flatMap(runFolders), ...runRoots.flatMap(subdirs)];
  for (const runDir of folders) {
    const configPath = path.join(runDir, RUN_FILES.config);
    refer(teacherCheckpoint(readJson<unknown>(configPath), configPath));
    if (!fs.existsSync(path.join(runDir, RUN_FILES.events))) continue;
    const checkpoints = path.join(runDir, 'checkpoints');
    const bytes = diskUsage(checkpoints);
    if (bytes === 0 && !fs.existsSync(checkpoints)) continue;
    const verdict = runVerdict(
      { runDir, events: readEvents(path.join(runDir, RUN_FILES.events)) },
      queued,
      opts,
    );
    if ('keep' in verdict) kept.push({ path: runDir, reason: verdict.keep, bytes });
    else items.push({ kind: verdict.kind, path: checkpoints, bytes });
  }
  // Sweeps that have not run every member yet still need their teachers.
  for (const akd of akdDirs)
    for (const sweepDir of subdirs(path.join(akd, 'sweeps'))) {
      const manifest = readJson<{ teachers?: { cacheDir?: string }[] }>(
        path.join(sweepDir, SWEEP_FILES.manifest),
      );
      for (const t of manifest?.teachers ?? []) if (t.cacheDir) references.add(path.resolve(t.cacheDir));
    }
  for (const c of configs) refer(teacherCheckpoint(readJsonc(c), c));
  for (const q of queues)
    for (const e of q.entries) refer(teacherCheckpoint(readJsonc(e.configPath), e.configPath));

  for (const akd of akdDirs) {
    for (const cache of subdirs(path.join(akd, 'teachers'))) {
      const owner = tempOwner(path.basename(cache));
      if (owner !== undefined && identityStatus({ pid: owner, host: os.hostname() }) !== 'dead') continue;
      const bytes = diskUsage(cache);
      if (owner === undefined && references.has(path.resolve(cache)))
        kept.push({ path: cache, reason: 'a run or sweep uses this teacher', bytes });
      else items.push({ kind: 'teacher', path: cache, bytes });
    }
  }
  return { akdDirs, items, kept };
}

/** Remove what the plan lists; returns what went (a folder that cannot go is an error line). */
export function executeGc(plan: GcPlan): { removed: GcItem[]; errors: string[] } {
  const removed: GcItem[] = [];
  const errors: string[] = [];
  for (const item of plan.items) {
    if (item.kind !== 'teacher') {
      // Read again right before: a failed run may have been resumed since the plan was made.
      const runDir = path.dirname(item.path);
      const status = runStatusFromEvents(readEvents(path.join(runDir, RUN_FILES.events)));
      if (status !== item.kind) {
        errors.push(`${runDir}: now ${status}; its checkpoints stay`);
        continue;
      }
    }
    try {
      fs.rmSync(item.path, { recursive: true, force: true });
      removed.push(item);
    } catch (e) {
      errors.push(`${item.path}: ${(e as Error).message}`);
    }
  }
  return { removed, errors };
}

/** Bytes per kind. */
export function totals(items: readonly GcItem[]): Record<GcKind, { count: number; bytes: number }> {
  const t: Record<GcKind, { count: number; bytes: number }> = {
    completed: { count: 0, bytes: 0 },
    failed: { count: 0, bytes: 0 },
    teacher: { count: 0, bytes: 0 },
  };
  for (const i of items) {
    t[i.kind].count++;
    t[i.kind].bytes += i.bytes;
  }
  return t;
}
