/**
 * The shared-teacher cache: `.akd/teachers/<key>/` holds a trained teacher (TF.js model.json +
 * weights) and provenance.json (which run trained it). The key hashes everything that decides
 * the trained weights: the teacher's config (model, epochs, optimizer, seed), the batch size and
 * the data's fingerprint (runner/data/dataset.ts). No TensorFlow import.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  augments,
  type AugmentConfig,
  type EvaluationProtocol,
  type ExperimentConfig,
  type TrainedTeacher,
} from '../protocol/configTypes';
import { readJson, writeJsonAtomic } from '../store/runStore';
import type { TeacherResultsCache } from '../training/teacherResults';

/** Same file name runExperiment reads beside a checkpoint teacher's model.json. */
export const PROVENANCE_FILE = 'provenance.json';
const KEY_VERSION = 'akd-teacher-v1';

export interface CachedTeacherProvenance {
  runId: string;
  runDir?: string;
  key: string;
  testAccuracy?: number;
  dataFingerprint: string;
  teacher: TrainedTeacher;
  batchSize: number;
  createdAt: string;
}

/** JSON with sorted keys, so equal configs hash equally whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The teacher that a config trains, as it is trained: its seed made explicit. */
export function trainedTeacherOf(config: ExperimentConfig): TrainedTeacher | undefined {
  const t = config.teacher;
  if ('checkpoint' in t) return undefined;
  return { model: t.model, epochs: t.epochs, optimizer: t.optimizer, seed: t.seed ?? config.seed };
}

/**
 * `training`: what else changes the teacher's weights: augmentation of its batches, and the
 * reference protocol (its teacher is the best epoch on test). Only non-defaults enter the key,
 * so teachers cached before these settings existed keep their keys.
 */
export function teacherCacheKey(
  teacher: TrainedTeacher,
  batchSize: number,
  dataFingerprint: string,
  training: { augment?: AugmentConfig; protocol?: EvaluationProtocol } = {},
): string {
  const text = canonicalJson({
    v: KEY_VERSION,
    teacher,
    batchSize,
    data: dataFingerprint,
    ...(augments(training.augment) ? { augment: training.augment } : {}),
    ...(training.protocol && training.protocol !== 'held-out' ? { protocol: training.protocol } : {}),
  });
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 20);
}

export function cachedTeacherDir(cacheRoot: string, key: string): string {
  return path.join(cacheRoot, key);
}

/** The cached teacher's model.json, if the cache holds a complete one. */
export function cachedTeacherModel(cacheRoot: string, key: string): string | undefined {
  const dir = cachedTeacherDir(cacheRoot, key);
  const modelJson = path.join(dir, 'model.json');
  return fs.existsSync(modelJson) && fs.existsSync(path.join(dir, PROVENANCE_FILE)) ? modelJson : undefined;
}

export function readProvenance(cacheRoot: string, key: string): CachedTeacherProvenance | undefined {
  return readJson<CachedTeacherProvenance>(path.join(cachedTeacherDir(cacheRoot, key), PROVENANCE_FILE));
}

/**
 * Copy a run's trained teacher (its `teacher/` folder) into the cache, atomically: written to a
 * temporary sibling, then renamed, so a reader never sees half a teacher. Returns the model.json.
 */
export function publishTeacher(
  cacheRoot: string,
  key: string,
  teacherDir: string,
  provenance: CachedTeacherProvenance,
): string {
  const dir = cachedTeacherDir(cacheRoot, key);
  if (cachedTeacherModel(cacheRoot, key)) return path.join(dir, 'model.json');
  fs.mkdirSync(cacheRoot, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp);
  for (const f of fs.readdirSync(teacherDir)) fs.copyFileSync(path.join(teacherDir, f), path.join(tmp, f));
  fs.writeFileSync(path.join(tmp, PROVENANCE_FILE), JSON.stringify(provenance, null, 2) + '\n');
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!cachedTeacherModel(cacheRoot, key)) throw e; // another sweep published it first: fine
  }
  return path.join(dir, 'model.json');
}

/** Record the teacher's test accuracy once the run that trained it knows it. */
export function updateProvenance(
  cacheRoot: string,
  key: string,
  change: Partial<CachedTeacherProvenance>,
): void {
  const file = path.join(cachedTeacherDir(cacheRoot, key), PROVENANCE_FILE);
  const current = readJson<CachedTeacherProvenance>(file);
  if (current) writeJsonAtomic(file, { ...current, ...change });
}

// ---------------------------------------------------------------- per-data results of a cached teacher

/**
 * A cached teacher's forward results on one dataset (by fingerprint), shared by every member:
 * its training-split logits (for KD, TAKD and annealing) and its test accuracy. Whoever computes
 * them first writes them (atomically); the rest read them instead of running the teacher again.
 */
const tag = (fingerprint: string): string => fingerprint.slice(0, 16);

export function readCachedLogits(
  teacherDir: string,
  fingerprint: string,
  n: number,
  classes: number,
): Float32Array | undefined {
  try {
    const buf = fs.readFileSync(path.join(teacherDir, `train-logits-${tag(fingerprint)}.bin`));
    if (buf.byteLength !== n * classes * 4) return undefined;
    const out = new Float32Array(n * classes);
    new Uint8Array(out.buffer).set(buf);
    return out;
  } catch {
    return undefined;
  }
}

function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true }); // a read-only cache only costs the recomputation
  }
}

export function writeCachedLogits(teacherDir: string, fingerprint: string, logits: Float32Array): void {
  const file = path.join(teacherDir, `train-logits-${tag(fingerprint)}.bin`);
  if (!fs.existsSync(file))
    writeAtomic(file, new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
}

export function readCachedTestAccuracy(teacherDir: string, fingerprint: string): number | undefined {
  const v = readJson<{ testAccuracy?: number }>(path.join(teacherDir, `test-${tag(fingerprint)}.json`));
  return typeof v?.testAccuracy === 'number' ? v.testAccuracy : undefined;
}

export function writeCachedTestAccuracy(teacherDir: string, fingerprint: string, testAccuracy: number): void {
  const file = path.join(teacherDir, `test-${tag(fingerprint)}.json`);
  if (!fs.existsSync(file)) writeAtomic(file, JSON.stringify({ testAccuracy }) + '\n');
}

/** The per-data results above, as a run takes them (RunOptions.teacherCache). */
export const teacherResultsCache: TeacherResultsCache = {
  readLogits: readCachedLogits,
  writeLogits: writeCachedLogits,
  readTestAccuracy: readCachedTestAccuracy,
  writeTestAccuracy: writeCachedTestAccuracy,
};
