/**
 * A sweep folder's manifest, `sweep.json`: its members (method, seed, grid values, run folder)
 * and shared teachers. runner/sweep/manifest.ts writes it; `akd`, the Slurm launcher and the
 * extension read it with these.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MethodType } from './configTypes';
import { SWEEP_FILES } from './files';

/** A member as sweep.json records it. */
export interface SweepMemberEntry {
  /** Unique, file-name safe, stable for the same sweep: e.g. "kd-temperature2-s3". */
  id: string;
  /** 0-based position in the sweep (the Slurm array index). */
  index: number;
  method: MethodType;
  seed: number;
  /** The grid values this member got (dotted key -> value). */
  overrides: Record<string, unknown>;
  /** Its run folder, relative to the sweep folder. */
  runDir: string;
  /** The shared teacher it uses (absent when the config's teacher is a checkpoint already). */
  teacherKey?: string;
  /** This member trains the shared teacher; the others with the same key wait for it and load it. */
  trainsTeacher: boolean;
}

export interface SweepTeacherEntry {
  key: string;
  cacheDir: string;
  /** The member that trains it, or absent when the cache already held it at creation. */
  trainedBy?: string;
  /** Fingerprint of the data it is trained on (runner/data/dataset.ts). */
  dataFingerprint: string;
}

export interface SweepManifest {
  v: 1;
  kind: 'akd-sweep';
  name: string;
  createdAt: string;
  configPath: string;
  cacheRoot: string;
  concurrency: number;
  seeds: number[];
  methods: MethodType[];
  /** Grid keys, in order. */
  grid: string[];
  teachers: SweepTeacherEntry[];
  members: SweepMemberEntry[];
}

export function isSweepDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, SWEEP_FILES.manifest));
}

/** The manifest of a sweep folder; throws when there is none or it is not one. */
export function readManifest(sweepDir: string): SweepManifest {
  let m: Partial<SweepManifest> | undefined;
  try {
    m = JSON.parse(
      fs.readFileSync(path.join(sweepDir, SWEEP_FILES.manifest), 'utf8'),
    ) as Partial<SweepManifest>;
  } catch {
    m = undefined;
  }
  if (!m || m.kind !== 'akd-sweep' || !Array.isArray(m.members))
    throw new Error(`${sweepDir}: no readable ${SWEEP_FILES.manifest}`);
  return m as SweepManifest;
}

export function memberRunDir(sweepDir: string, m: Pick<SweepMemberEntry, 'runDir'>): string {
  return path.resolve(sweepDir, m.runDir);
}
