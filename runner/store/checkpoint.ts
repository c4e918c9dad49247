/**
 * Checkpoints you can trust. Every folder the run store writes atomically (checkpoints/latest, the
 * final models) carries `checksums.json` (size and SHA-256 of each file, written last, so a folder
 * with a valid one is complete). checkpoints/latest keeps the checkpoint it replaced as
 * checkpoints/previous. A resume first resolves what a kill during a swap left (`<dir>.tmp-PID`,
 * `<dir>.old-PID`), then checks state.json against its schema and every file against its checksum.
 * A checkpoint that cannot be used is an error naming the file and offering the previous one;
 * a run that saved checkpoints never silently starts again from scratch.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { PHASES, type CheckpointPosition } from '../protocol/events';
import { readEvents } from '../protocol/eventTail';
import { RUN_FILES } from '../protocol/files';
import type { ResumeState } from './runStore';

export const CHECKSUMS_FILE = 'checksums.json';
export const PREVIOUS_CHECKPOINT = path.join('checkpoints', 'previous');

/** A checkpoint that cannot be used; the message names the file and what to do, for people as is. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

interface Checksums {
  v: 1;
  files: Record<string, { bytes: number; sha256: string }>;
}

const sha256 = (data: string | Uint8Array): string => crypto.createHash('sha256').update(data).digest('hex');

export function checksumsOf(files: Record<string, string | Uint8Array>): string {
  const out: Checksums = { v: 1, files: {} };
  for (const [name, data] of Object.entries(files)) {
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    out.files[name] = { bytes, sha256: sha256(data) };
  }
  return JSON.stringify(out, null, 1);
}

/**
 * Check a folder's files against its checksums.json (only `names` when given). Returns what is
 * wrong, naming the file, or undefined. A folder without checksums.json (written by an older akd,
 * or a model from elsewhere) passes: there is nothing to check against.
 */
export function verifyChecksums(dir: string, names?: string[]): string | undefined {
  const file = path.join(dir, CHECKSUMS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : `${file}: ${(e as Error).message}`;
  }
  let sums: Checksums;
  try {
    sums = JSON.parse(text) as Checksums;
    if (!sums || typeof sums.files !== 'object' || sums.files === null) throw new Error('no "files"');
  } catch (e) {
    return `${file}: not a checksum list (${(e as Error).message})`;
  }
  for (const [name, want] of Object.entries(sums.files)) {
    if (names && !names.includes(name)) continue;
    const f = path.join(dir, name);
    let data: Buffer;
    try {
      data = fs.readFileSync(f);
    } catch {
      return `${f} is missing`;
    }
    if (data.byteLength !== want.bytes)
      return `${f} has ${data.byteLength} bytes, ${want.bytes} were written (checksum file ${CHECKSUMS_FILE}): truncated or replaced`;
    if (sha256(data) !== want.sha256)
      return `${f} does not match its checksum (${CHECKSUMS_FILE}): its contents changed after it was written`;
  }
  return undefined;
}

/** checkpoints/latest keeps what it replaced as checkpoints/previous; other folders keep nothing. */
export function previousDirOf(dir: string): string | undefined {
  return path.basename(dir) === 'latest' && path.basename(path.dirname(dir)) === 'checkpoints'
    ? path.join(path.dirname(dir), 'previous')
    : undefined;
}

function leftovers(dir: string): { tmps: string[]; olds: string[] } {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return { tmps: [], olds: [] };
  }
  const newestFirst = (kind: string): string[] =>
    names
      .filter((n) => n.startsWith(`${base}.${kind}-`))
      .map((n) => path.join(parent, n))
      .sort((a, b) => mtime(b) - mtime(a));
  return { tmps: newestFirst('tmp'), olds: newestFirst('old') };
}

function mtime(p: string): number {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

const complete = (dir: string): boolean =>
  fs.existsSync(path.join(dir, CHECKSUMS_FILE)) && verifyChecksums(dir) === undefined;

/**
 * Finish or undo a swap of `dir` that a kill interrupted (call with the run's lock held). The swap
 * is: build `dir.tmp-PID` (checksums.json last), rename `dir` to `dir.old-PID`, rename the temp
 * folder to `dir`, then drop the old one (latest: rotate it to previous). Returns what it did.
 */
export function recoverAtomicDir(dir: string): string[] {
  const done: string[] = [];
  const { tmps, olds } = leftovers(dir);
  if (tmps.length === 0 && olds.length === 0) return done;
  const rel = (p: string): string => path.relative(path.dirname(path.dirname(dir)), p);
  if (!fs.existsSync(dir)) {
    // Killed between the two renames: the temp folder was complete before the first one.
    const ready = tmps.find(complete);
    const back = ready ?? olds[0];
    if (back) {
      fs.renameSync(back, dir);
      done.push(`${rel(back)} -> ${rel(dir)}`);
    }
  }
  const previous = previousDirOf(dir);
  const old = olds.find((o) => fs.existsSync(o));
  if (previous && old && fs.existsSync(dir)) {
    // Killed after the swap, before the rotation: the replaced checkpoint becomes the previous one.
    fs.rmSync(previous, { recursive: true, force: true });
    fs.renameSync(old, previous);
    done.push(`${rel(old)} -> ${rel(previous)}`);
  }
  for (const p of [...tmps, ...olds]) {
    if (!fs.existsSync(p)) continue;
    fs.rmSync(p, { recursive: true, force: true });
    done.push(`removed ${rel(p)}`);
  }
  return done;
}

/** Resolve every interrupted swap and temp file in a run folder (the caller holds the run's lock). */
export function recoverRunFolder(runDir: string): string[] {
  const done: string[] = [];
  for (const d of [
    RUN_FILES.latest,
    RUN_FILES.phase1Best,
    RUN_FILES.teacherBest,
    RUN_FILES.studentBest,
    RUN_FILES.teacher,
    RUN_FILES.student,
    RUN_FILES.assistant,
  ])
    done.push(...recoverAtomicDir(path.join(runDir, d)));
  // writeJsonAtomic's temp files (summary.json.tmp-PID...): the real file is intact beside them.
  let names: string[] = [];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    /* no folder: nothing to recover */
  }
  for (const n of names.filter((x) => /\.json\.tmp-\d+$/.test(x))) {
    fs.rmSync(path.join(runDir, n), { force: true });
    done.push(`removed ${n}`);
  }
  return done;
}

// ---- state.json --------------------------------------------------------------------------

const num = { type: 'number' };
const count = { type: 'integer', minimum: 0 };
/** state.json (ResumeState). Open to new fields: a newer runner may record more. */
export const RESUME_STATE_SCHEMA = {
  type: 'object',
  required: ['v', 'position', 'completed', 'startedAt', 'seconds', 'hasModel'],
  properties: {
    v: { const: 1 },
    position: {
      type: 'object',
      required: ['phase', 'epoch', 'batch'],
      properties: { phase: { enum: [...PHASES] }, epoch: count, batch: count },
    },
    partial: {
      type: 'object',
      required: ['lossSum', 'correct', 'seen', 'seconds'],
      properties: { lossSum: num, correct: count, seen: count, seconds: num },
    },
    best: {
      type: 'object',
      required: ['bestValAccuracy', 'bestEpoch'],
      // finalValAccuracy starts as NaN, which JSON writes as null.
      properties: {
        bestValAccuracy: num,
        bestEpoch: count,
        bestTemperature: num,
        finalValAccuracy: { type: ['number', 'null'] },
      },
    },
    completed: {
      type: 'array',
      items: {
        type: 'object',
        required: ['phase', 'epochs', 'bestValAccuracy', 'bestEpoch'],
        properties: { phase: { enum: [...PHASES] }, epochs: count, bestValAccuracy: num, bestEpoch: count },
      },
    },
    startedAt: { type: 'string' },
    seconds: { type: 'number', minimum: 0 },
    hasModel: { type: 'boolean' },
    teacherTestAccuracy: { type: ['number', 'null'] },
  },
} as const;

let validateState: ValidateFunction | undefined;

/** What is wrong with a parsed state.json, or undefined. */
export function resumeStateProblem(value: unknown): string | undefined {
  validateState ??= new Ajv({ allErrors: false, strict: false }).compile(RESUME_STATE_SCHEMA);
  if (validateState(value)) return undefined;
  const e = validateState.errors?.[0];
  if (!e) return 'not a resume state';
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(root)';
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  return `${at} ${e.message}${allowed ? ` (${allowed.join(', ')})` : ''}`;
}

export const describePosition = (p: CheckpointPosition): string =>
  `${p.phase} epoch ${p.epoch}${p.batch ? `, batch ${p.batch}` : ''}`;

/** A checkpoint folder's state, checked; throws a plain Error saying what is wrong (file named). */
function readCheckpoint(dir: string): ResumeState {
  const file = path.join(dir, RUN_FILES.state);
  if (!fs.existsSync(dir)) throw new Error(`${dir} is missing`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${file} ${err.code === 'ENOENT' ? 'is missing' : `cannot be read (${err.message})`}`, {
      cause: e,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const problem = resumeStateProblem(value);
  if (problem) throw new Error(`${file} is not a checkpoint state: ${problem}`);
  const state = value as ResumeState;
  const sums = verifyChecksums(dir);
  if (sums) throw new Error(sums);
  if (state.hasModel) {
    for (const f of ['model.json', 'weights.bin', 'optimizer.json', 'optimizer.bin']) {
      if (!fs.existsSync(path.join(dir, f))) throw new Error(`${path.join(dir, f)} is missing`);
    }
  }
  return state;
}

/** Whether the run's events say it ever saved a checkpoint (then a missing one is an error, not a fresh start). */
function everCheckpointed(runDir: string): boolean {
  return readEvents(path.join(runDir, RUN_FILES.events)).some((e) => e.type === 'checkpoint-saved');
}

export interface LoadStateOptions {
  /** Continue from checkpoints/previous (the user chose it after latest was refused). */
  from?: 'latest' | 'previous';
  /** How to name the run in the advice (default: its folder). */
  runRef?: string;
}

/**
 * Where a resume continues: the checked state of checkpoints/latest, or undefined when the run
 * never saved a checkpoint (it starts from the beginning, which loses nothing). Resolves
 * interrupted swaps first. Throws CheckpointError (one line: the file, why, and the way on).
 */
export function loadResumeState(runDir: string, opts: LoadStateOptions = {}): ResumeState | undefined {
  recoverRunFolder(runDir);
  const latestDir = path.join(runDir, RUN_FILES.latest);
  const previousDir = path.join(runDir, PREVIOUS_CHECKPOINT);
  const ref = opts.runRef ?? runDir;
  if (opts.from === 'previous') {
    let state: ResumeState;
    try {
      state = readCheckpoint(previousDir);
    } catch (e) {
      throw new CheckpointError(`${(e as Error).message}: the previous checkpoint cannot be used either`, {
        cause: e,
      });
    }
    // Keep the refused one for a post-mortem; the previous one becomes latest.
    if (fs.existsSync(latestDir))
      fs.renameSync(latestDir, path.join(runDir, 'checkpoints', `refused-${Date.now()}`));
    fs.renameSync(previousDir, latestDir);
    return state;
  }
  if (!fs.existsSync(latestDir) && !everCheckpointed(runDir)) return undefined;
  try {
    return readCheckpoint(latestDir);
  } catch (e) {
    let offer: string;
    try {
      const prev = readCheckpoint(previousDir);
      offer = `the previous checkpoint (${describePosition(prev.position)}) is intact: akd resume ${ref} --from previous continues from it`;
    } catch (p) {
      offer = fs.existsSync(previousDir)
        ? `the previous checkpoint cannot be used either (${(p as Error).message})`
        : 'there is no previous checkpoint';
    }
    throw new CheckpointError(`${(e as Error).message}; nothing was resumed; ${offer}`, { cause: e });
  }
}
