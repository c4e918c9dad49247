/**
 * Runs a prepared sweep folder: each member as its own `akd run-member` process, at most
 * `concurrency` at once; the member that trains a shared teacher first, the members that need
 * that teacher as soon as it is published to the cache (while its trainer goes on with its own
 * student). A failed member does not stop the others. stop(signal) forwards the signal once to
 * every running member (each checkpoints and exits) and starts no more; the sweep can then be
 * resumed: completed members are skipped, cancelled and crashed ones resumed.
 * No TensorFlow import: the orchestrator only spawns and reads folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExperimentConfig } from '../protocol/configTypes';
import { PROTOCOL_VERSION, parseEventLine, type RunSummary } from '../protocol/events';
import type { MemberStatus, SweepEvent, SweepEventPayload } from '../protocol/sweepEvents';
import { readJson } from '../store/runStore';
import { RUN_FILES } from '../protocol/files';
import { memberState, type MemberState } from './manifest';
import { SWEEP_FILES } from '../protocol/files';
import { EXIT } from '../protocol/exitCodes';
import { describeHolder, runWriter } from '../protocol/runLock';
import { memberRunDir, type SweepManifest, type SweepMemberEntry } from '../protocol/sweepManifest';
import {
  cachedTeacherModel,
  publishTeacher,
  readProvenance,
  trainedTeacherOf,
  updateProvenance,
} from './teacherCache';

export interface RunSweepOptions {
  sweepDir: string;
  manifest: SweepManifest;
  concurrency: number;
  /** Run failed members again (from their last checkpoint); by default a failed member stays failed. */
  retryFailed?: boolean;
  resumed: boolean;
  /** The `akd` entry script members are started with (bin/akd.js). */
  akdEntry: string;
  onEvent?: (e: SweepEvent) => void;
}

export interface SweepOutcome {
  status: 'completed' | 'failed' | 'cancelled';
  counts: Record<MemberStatus | 'pending', number>;
}

export interface SweepHandle {
  done: Promise<SweepOutcome>;
  /** Forward a signal to every running member and start no more. */
  stop(signal: NodeJS.Signals): void;
}

interface Running {
  member: SweepMemberEntry;
  child: ChildProcess;
  started: number;
  stderrTail: string;
}

export function runSweep(opts: RunSweepOptions): SweepHandle {
  const { sweepDir, manifest } = opts;
  const t0 = Date.now();
  const eventsFd = fs.openSync(path.join(sweepDir, SWEEP_FILES.events), 'a');
  const emit = (payload: SweepEventPayload): void => {
    const event = { v: PROTOCOL_VERSION, time: new Date().toISOString(), ...payload } as SweepEvent;
    fs.writeSync(eventsFd, JSON.stringify(event) + '\n');
    opts.onEvent?.(event);
  };

  const initial = new Map<string, MemberState>(manifest.members.map((m) => [m.id, memberState(sweepDir, m)]));
  // Members another process still writes (a killed orchestrator's members live on in their own
  // process group) are waited for, then read or resumed: never started twice.
  const alreadyRunning = manifest.members.filter((m) => initial.get(m.id) === 'running');
  const final = new Map<string, MemberStatus>();
  for (const m of manifest.members) {
    const s = initial.get(m.id);
    if (s === 'completed') final.set(m.id, 'completed');
    if (s === 'failed' && !opts.retryFailed) final.set(m.id, 'failed');
  }
  const pending: SweepMemberEntry[] = manifest.members
    .filter((m) => !final.has(m.id) && !alreadyRunning.includes(m))
    .sort((a, b) => Number(b.trainsTeacher) - Number(a.trainsTeacher) || a.index - b.index);

  // Teachers: ready when cached; a trainer that already finished its teacher phase publishes now.
  const ready = new Set<string>();
  const publish = (m: SweepMemberEntry, source: 'cache' | 'trained'): void => {
    if (!m.teacherKey || ready.has(m.teacherKey)) return;
    const teacher = manifest.teachers.find((t) => t.key === m.teacherKey);
    if (!teacher) return;
    const runDir = memberRunDir(sweepDir, m);
    if (!cachedTeacherModel(manifest.cacheRoot, teacher.key)) {
      const teacherDir = path.join(runDir, RUN_FILES.teacher);
      if (!fs.existsSync(path.join(teacherDir, 'model.json'))) return;
      const config = readJson<ExperimentConfig>(path.join(runDir, RUN_FILES.config));
      const trained = config && trainedTeacherOf(config);
      if (!config || !trained) return;
      const summary = readJson<RunSummary>(path.join(runDir, RUN_FILES.summary));
      publishTeacher(manifest.cacheRoot, teacher.key, teacherDir, {
        runId: m.id,
        runDir,
        key: teacher.key,
        dataFingerprint: teacher.dataFingerprint,
        teacher: trained,
        batchSize: config.batchSize,
        createdAt: new Date().toISOString(),
        ...(summary?.teacher.testAccuracy != null ? { testAccuracy: summary.teacher.testAccuracy } : {}),
      });
    }
    ready.add(teacher.key);
    const prov = readProvenance(manifest.cacheRoot, teacher.key);
    emit({
      type: 'teacher-ready',
      key: teacher.key,
      cacheDir: teacher.cacheDir,
      source,
      ...(prov?.runId ? { fromRun: prov.runId } : {}),
    });
  };
  for (const t of manifest.teachers) {
    const trainer =
      manifest.members.find((m) => m.id === t.trainedBy) ??
      manifest.members.find((m) => m.teacherKey === t.key);
    if (cachedTeacherModel(manifest.cacheRoot, t.key) && trainer) publish(trainer, 'cache');
    else if (trainer && trainer.trainsTeacher) publish(trainer, 'trained');
  }

  emit({
    type: 'sweep-started',
    sweepDir,
    name: manifest.name,
    members: manifest.members.length,
    toRun: pending.length,
    concurrency: opts.concurrency,
    resumed: opts.resumed,
    pid: process.pid,
  });

  const running = new Map<string, Running>();
  // Members another process still writes: they hold a slot until their writer ends.
  const waiting = new Map<string, NodeJS.Timeout>();
  let stopping: NodeJS.Signals | undefined;
  let resolveDone!: (o: SweepOutcome) => void;
  const done = new Promise<SweepOutcome>((r) => {
    resolveDone = r;
  });
  let finished = false;

  const canStart = (m: SweepMemberEntry): boolean =>
    !m.teacherKey || ready.has(m.teacherKey) || m.trainsTeacher;
  /** A teacher that can no longer arrive this session: its trainer ended without publishing it. */
  const teacherLost = (m: SweepMemberEntry): string | undefined => {
    if (!m.teacherKey || ready.has(m.teacherKey) || m.trainsTeacher) return undefined;
    const trainer = manifest.members.find((x) => x.teacherKey === m.teacherKey && x.trainsTeacher);
    if (!trainer) return 'its teacher is neither cached nor trained by any member';
    const s = final.get(trainer.id);
    return s && s !== 'cancelled'
      ? `member ${trainer.id}, which trains its teacher, ended ${s} before the teacher was saved`
      : undefined;
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    const counts: SweepOutcome['counts'] = { completed: 0, failed: 0, cancelled: 0, skipped: 0, pending: 0 };
    for (const m of manifest.members) {
      const s = final.get(m.id);
      counts[s ?? 'pending'] += 1;
    }
    const status: SweepOutcome['status'] =
      stopping || counts.cancelled > 0 || counts.pending > 0
        ? 'cancelled'
        : counts.failed > 0 || counts.skipped > 0
          ? 'failed'
          : 'completed';
    emit({ type: 'sweep-ended', status, counts, seconds: (Date.now() - t0) / 1000 });
    fs.closeSync(eventsFd);
    resolveDone({ status, counts });
  };

  const launch = (m: SweepMemberEntry): void => {
    const runDir = memberRunDir(sweepDir, m);
    const resumed = initial.get(m.id) !== 'pending';
    const child = spawn(process.execPath, [opts.akdEntry, 'run-member', runDir, '--json'], {
      // Its own process group: a Ctrl-C in the terminal reaches only the sweep, which forwards it
      // once (a member's second signal would exit it at once, without a checkpoint).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r: Running = { member: m, child, started: Date.now(), stderrTail: '' };
    running.set(m.id, r);
    emit({
      type: 'member-started',
      id: m.id,
      index: m.index,
      method: m.method,
      seed: m.seed,
      runDir,
      pid: child.pid ?? -1,
      resumed,
      trainsTeacher: m.trainsTeacher,
    });
    let buffered = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const e = parseEventLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (
          e &&
          e.type === 'checkpoint-saved' &&
          e.model === 'teacher' &&
          e.reason === 'final' &&
          m.trainsTeacher
        ) {
          publish(m, 'trained');
          pump();
        }
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      r.stderrTail = (r.stderrTail + chunk).slice(-4000);
    });
    child.on('error', (err) => {
      r.stderrTail += `\n${err.message}`;
    });
    child.on('close', (code) => {
      running.delete(m.id);
      if (code === EXIT.locked && !stopping) {
        waitForWriter(m, runDir);
        return;
      }
      const summary = readJson<RunSummary>(path.join(runDir, RUN_FILES.summary));
      let status: MemberStatus;
      const state = memberState(sweepDir, m);
      if (state === 'completed') status = 'completed';
      else if (state === 'cancelled') status = 'cancelled';
      else status = 'failed';
      final.set(m.id, status);
      if (m.trainsTeacher) {
        publish(m, 'trained');
        if (m.teacherKey && summary?.teacher.testAccuracy != null) {
          updateProvenance(manifest.cacheRoot, m.teacherKey, { testAccuracy: summary.teacher.testAccuracy });
        }
      }
      const lastLine = r.stderrTail.trim().split('\n').filter(Boolean).pop();
      const error = status === 'failed' ? (summary?.error ?? lastLine ?? `exit code ${code}`) : undefined;
      emit({
        type: 'member-ended',
        id: m.id,
        index: m.index,
        status,
        exitCode: code,
        studentTestAccuracy: summary?.student.testAccuracy ?? null,
        seconds: (Date.now() - r.started) / 1000,
        ...(error ? { error } : {}),
      });
      pump();
    });
  };

  const waitForWriter = (m: SweepMemberEntry, runDir: string): void => {
    const writer = runWriter(runDir);
    emit({
      type: 'sweep-log',
      level: 'info',
      message: `member ${m.id} is still being run${writer.state === 'writing' ? ` by ${describeHolder(writer.holder)}` : ''}: waiting for it to end`,
    });
    const timer = setInterval(() => {
      if (runWriter(runDir).state === 'writing') return;
      clearInterval(timer);
      waiting.delete(m.id);
      if (memberState(sweepDir, m) !== 'completed') {
        launch(m); // resumes it, or ends as its own run would
        return;
      }
      const summary = readJson<RunSummary>(path.join(runDir, RUN_FILES.summary));
      final.set(m.id, 'completed');
      if (m.trainsTeacher) publish(m, 'trained'); // the other process trained it for this sweep
      emit({
        type: 'member-ended',
        id: m.id,
        index: m.index,
        status: 'completed',
        exitCode: null,
        studentTestAccuracy: summary?.student.testAccuracy ?? null,
        seconds: 0,
      });
      pump();
    }, 500);
    waiting.set(m.id, timer);
  };

  const pump = (): void => {
    if (finished) return;
    if (!stopping) {
      for (let i = 0; i < pending.length; i++) {
        const reason = teacherLost(pending[i]);
        if (reason) {
          const m = pending.splice(i--, 1)[0];
          final.set(m.id, 'skipped');
          emit({
            type: 'member-ended',
            id: m.id,
            index: m.index,
            status: 'skipped',
            exitCode: null,
            studentTestAccuracy: null,
            seconds: 0,
            error: reason,
          });
        }
      }
      while (running.size + waiting.size < opts.concurrency) {
        const i = pending.findIndex(canStart);
        if (i < 0) break;
        launch(pending.splice(i, 1)[0]);
      }
    }
    if (
      running.size === 0 &&
      waiting.size === 0 &&
      (stopping || pending.length === 0 || !pending.some(canStart))
    )
      finish();
  };

  const stop = (signal: NodeJS.Signals): void => {
    const again = stopping !== undefined;
    stopping = signal;
    if (!again)
      emit({
        type: 'sweep-log',
        level: 'info',
        message: `${signal}: stopping ${running.size} running member(s); they checkpoint and exit`,
      });
    // A member another process writes is not ours to stop: stop waiting for it.
    for (const [id, timer] of waiting) {
      clearInterval(timer);
      waiting.delete(id);
      final.set(id, 'cancelled');
    }
    for (const r of running.values()) {
      try {
        if (r.child.pid) process.kill(r.child.pid, signal);
      } catch {
        /* already gone */
      }
    }
    pump();
  };

  for (const m of alreadyRunning) waitForWriter(m, memberRunDir(sweepDir, m));
  setImmediate(pump);
  return { done, stop };
}
