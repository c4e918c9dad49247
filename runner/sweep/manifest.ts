/**
 * A sweep folder: `sweep.json` (the manifest: members, their grid values, their run folders, the
 * teacher-cache keys), `sweep-events.jsonl`, and one run folder per member (`<member id>/`, with
 * its complete `config.json` written before it starts, so any `akd run-member` process, local or
 * on a cluster node, can run it from the folder alone). No TensorFlow import.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { protocolOf, trainingData, type ExperimentConfig } from '../protocol/configTypes';
import { loadDataset } from '../data/dataset';
import { RUN_FILES, SWEEP_FILES } from '../protocol/files';
import { runWriterAlive } from '../protocol/runLock';
import {
  memberRunDir,
  type SweepManifest,
  type SweepMemberEntry,
  type SweepTeacherEntry,
} from '../protocol/sweepManifest';
import { readRun, writeJsonAtomic } from '../store/runStore';
import { expandSweep, effectiveSweep, type SweepOverrides } from '../config/sweepExpand';
import { cachedTeacherDir, cachedTeacherModel, teacherCacheKey, trainedTeacherOf } from './teacherCache';

export type MemberState = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'crashed';

export function defaultConcurrency(): number {
  return Math.max(
    1,
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
  );
}

/** Where a member stands, from its run folder alone. */
export function memberState(sweepDir: string, m: SweepMemberEntry): MemberState {
  const run = readRun(memberRunDir(sweepDir, m));
  if (run.events.length === 0) return 'pending';
  if (run.status === 'unknown') {
    // The run lock's holder decides (pid and start time: pids are reused).
    const started = [...run.events].reverse().find((e) => e.type === 'run-started');
    const pid = started && started.type === 'run-started' ? started.pid : undefined;
    return runWriterAlive(memberRunDir(sweepDir, m), pid) ? 'running' : 'crashed';
  }
  return run.status;
}

export interface PrepareOptions {
  /** The resolved config (defaults filled in, paths absolute). */
  config: ExperimentConfig;
  configPath: string;
  sweepDir: string;
  cacheRoot: string;
  flags?: SweepOverrides;
  /** For tests: the number of cores the members share. */
  cores?: number;
}

/**
 * Create the sweep folder: expand the grid, work out the shared teachers (one per distinct
 * teacher config and data, trained by the first member that needs it unless cached), write
 * each member's config.json and the manifest.
 */
export function prepareSweep(opts: PrepareOptions): SweepManifest {
  const { config, sweepDir, cacheRoot } = opts;
  const sweep = effectiveSweep(config, opts.flags);
  const members = expandSweep(config, opts.flags);
  const cores = opts.cores ?? defaultConcurrency();
  const concurrency = sweep.concurrency ?? cores;

  // One data load per distinct data block: the fingerprint identifies the exact samples.
  const fingerprints = new Map<string, string>();
  const fingerprintOf = (c: ExperimentConfig): string => {
    const data = trainingData(c);
    const k = JSON.stringify(data);
    let f = fingerprints.get(k);
    if (!f) {
      f = loadDataset(data, path.dirname(opts.configPath)).fingerprint;
      fingerprints.set(k, f);
    }
    return f;
  };

  fs.mkdirSync(sweepDir, { recursive: true });
  const teachers = new Map<string, SweepTeacherEntry>();
  const entries: SweepMemberEntry[] = [];
  for (const m of members) {
    const memberConfig: ExperimentConfig = structuredClone(m.config);
    const trained = trainedTeacherOf(memberConfig);
    let teacherKey: string | undefined;
    let trainsTeacher = false;
    if (trained) {
      const dataFingerprint = fingerprintOf(memberConfig);
      teacherKey = teacherCacheKey(trained, memberConfig.batchSize, dataFingerprint, {
        augment: memberConfig.data.augment,
        protocol: protocolOf(memberConfig),
      });
      let t = teachers.get(teacherKey);
      if (!t) {
        const cached = cachedTeacherModel(cacheRoot, teacherKey) !== undefined;
        t = {
          key: teacherKey,
          cacheDir: cachedTeacherDir(cacheRoot, teacherKey),
          dataFingerprint,
          ...(cached ? {} : { trainedBy: m.id }),
        };
        teachers.set(teacherKey, t);
      }
      trainsTeacher = t.trainedBy === m.id;
      if (!trainsTeacher) memberConfig.teacher = { checkpoint: path.join(t.cacheDir, 'model.json') };
    }
    // Members share the cores: wasm/cpu members with "threads": "auto" get their share. The one
    // training the teacher (alone at first, while the others wait for it) keeps them all.
    if (concurrency > 1 && (memberConfig.threads ?? 'auto') === 'auto' && !trainsTeacher) {
      memberConfig.threads = Math.max(1, Math.floor(cores / concurrency));
    }
    const runDir = m.id;
    fs.mkdirSync(path.join(sweepDir, runDir), { recursive: true });
    writeJsonAtomic(path.join(sweepDir, runDir, RUN_FILES.config), memberConfig);
    entries.push({
      id: m.id,
      index: m.index,
      method: m.method,
      seed: m.seed,
      overrides: m.overrides,
      runDir,
      ...(teacherKey ? { teacherKey } : {}),
      trainsTeacher,
    });
  }

  const manifest: SweepManifest = {
    v: 1,
    kind: 'akd-sweep',
    name: config.name,
    createdAt: new Date().toISOString(),
    configPath: opts.configPath,
    cacheRoot,
    concurrency,
    seeds: sweep.seeds ?? [config.seed],
    methods: sweep.methods ?? [config.method.type],
    grid: Object.keys(sweep.grid ?? {}),
    teachers: [...teachers.values()],
    members: entries,
  };
  writeJsonAtomic(path.join(sweepDir, SWEEP_FILES.manifest), manifest);
  return manifest;
}
