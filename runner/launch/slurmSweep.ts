/**
 * A sweep on Slurm: the member that trains the shared teacher is one job; every other member is
 * a task of one job array (`--array=<member indices>%K`, K = the sweep's concurrency) that starts
 * after the teacher job (`--dependency=afterany:T`; a cached teacher needs no teacher job). Each
 * task runs `akd _run-job SWEEP_DIR`, which picks its member by SLURM_ARRAY_TASK_ID (the
 * member's index) and writes that member's run folder, as a local sweep would.
 *
 * afterany rather than afterok: as in a local sweep, a member's failure must not cancel the
 * others; the teacher job publishes the teacher to the cache as soon as it is trained, and a
 * member whose teacher never arrived fails on its own with the checkpoint it could not load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExperimentConfig, LauncherConfig, SlurmLauncher } from '../protocol/configTypes';
import type { RunStartedEvent, RunSummary } from '../protocol/events';
import type { MemberStatus, SweepEvent, SweepEventPayload } from '../protocol/sweepEvents';
import { PROTOCOL_VERSION } from '../protocol/events';
import { EXIT, exitCodeForSignal } from '../protocol/exitCodes';
import { humanSweepReporter } from '../protocol/format';
import { readJson, readRun } from '../store/runStore';
import { RUN_FILES } from '../protocol/files';
import { processAlive } from '../protocol/processAlive';
import { SWEEP_FILES } from '../protocol/files';
import { runWriter } from '../protocol/runLock';
import {
  memberRunDir,
  readManifest,
  type SweepManifest,
  type SweepMemberEntry,
} from '../protocol/sweepManifest';
import { cachedTeacherModel } from '../sweep/teacherCache';
import { EventTail } from '../protocol/eventTail';
import { appendEvent } from '../store/eventLog';
import { SlurmClient, SlurmError, jobEnded } from './slurmClient';
import { latestSession, type RunSession } from '../protocol/sessions';
import { readEvents } from '../protocol/eventTail';
import { sbatchScript, slurmPathPattern } from './slurmScript';
import {
  AKD_ENTRY,
  REPO_DIR,
  SlurmRunFollower,
  followSlurmRuns,
  settleEndedJob,
  sharedFilesystemHint,
  submitRun,
} from './slurmRun';
import { resolveLauncher, slurmErrorMessage, stopRun } from './runControl';

export const ARRAY_SCRIPT = 'array.sbatch';

export interface SlurmSweepOptions {
  sweepDir: string;
  manifest: SweepManifest;
  launcher: SlurmLauncher;
  /** Array tasks running at once (the `%K` of --array). */
  concurrency: number;
  json: boolean;
  detach: boolean;
  resumed: boolean;
  /** Run failed members again too (like akd sweep --resume --retry-failed). */
  retryFailed?: boolean;
}

interface Submitted {
  member: SweepMemberEntry;
  runDir: string;
  jobId: string;
  offset: number;
}

/** `--array` for these member indices, at most `k` at once, e.g. "1-2%2" or "0,3,5%2". */
export function arraySpec(indices: number[], k: number): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j;
  }
  return `${parts.join(',')}%${Math.max(1, Math.min(k, sorted.length))}`;
}

/** Submit the sweep's members; returns their jobs. The array is held until every member's job-submitted is written. */
export async function submitSweep(
  o: SlurmSweepOptions,
  client: SlurmClient,
): Promise<{ submitted: Submitted[]; teacherJobs: string[]; arrayJob?: string }> {
  const { sweepDir, manifest } = o;
  const toRun = manifest.members.filter((m) => {
    const status = readRun(memberRunDir(sweepDir, m)).status;
    return status !== 'completed' && (o.retryFailed || status !== 'failed');
  });
  const hasCheckpoint = (runDir: string): boolean =>
    fs.existsSync(path.join(runDir, RUN_FILES.latest, RUN_FILES.state));
  const submitted: Submitted[] = [];
  const teacherJobs: string[] = [];
  const trainers = toRun.filter(
    (m) => m.trainsTeacher && m.teacherKey && !cachedTeacherModel(manifest.cacheRoot, m.teacherKey),
  );
  for (const m of trainers) {
    const runDir = memberRunDir(sweepDir, m);
    const configPath = path.join(runDir, RUN_FILES.config);
    const config = readJson<ExperimentConfig>(configPath)!;
    const offset = EventTail.sizeOf(path.join(runDir, RUN_FILES.events));
    const jobId = await submitRun({
      runDir,
      configPath,
      config,
      launcher: o.launcher,
      resume: hasCheckpoint(runDir),
      client,
    });
    teacherJobs.push(jobId);
    submitted.push({ member: m, runDir, jobId, offset });
  }
  const rest = toRun.filter((m) => !trainers.includes(m));
  let arrayJob: string | undefined;
  if (rest.length > 0) {
    const script = sbatchScript({
      launcher: o.launcher,
      jobName: `akd-${manifest.name}`,
      output: path.join(slurmPathPattern(sweepDir), 'slurm-%A_%a.out'),
      workDir: REPO_DIR,
      nodeBinary: process.execPath,
      args: [AKD_ENTRY, '_run-job', sweepDir],
      array: arraySpec(
        rest.map((m) => m.index),
        o.concurrency,
      ),
      ...(teacherJobs.length > 0 ? { dependency: `afterany:${teacherJobs.join(':')}` } : {}),
      comment: `the members of the sweep in ${sweepDir}, one array task per member (task id = member index)`,
    });
    const scriptPath = path.join(sweepDir, ARRAY_SCRIPT);
    fs.writeFileSync(scriptPath, script, { mode: 0o755 });
    // Held: no task may start (and write its folder) before its job-submitted is recorded.
    arrayJob = (await client.sbatch(scriptPath, REPO_DIR, ['--hold'])).jobId;
    try {
      for (const m of rest) {
        const runDir = memberRunDir(sweepDir, m);
        const eventsFile = path.join(runDir, RUN_FILES.events);
        const offset = EventTail.sizeOf(eventsFile);
        const jobId = `${arrayJob}_${m.index}`;
        appendEvent(eventsFile, {
          type: 'job-submitted',
          launcher: 'slurm',
          jobId,
          runDir,
          configPath: path.join(runDir, RUN_FILES.config),
          script: path.relative(runDir, scriptPath),
          output: path.join(sweepDir, `slurm-${jobId}.out`),
          resume: hasCheckpoint(runDir),
          ...(teacherJobs.length > 0 ? { dependsOn: teacherJobs } : {}),
        });
        submitted.push({ member: m, runDir, jobId, offset });
      }
    } finally {
      await client.release(arrayJob);
    }
  }
  return { submitted, teacherJobs, ...(arrayJob ? { arrayJob } : {}) };
}

const statusOf = (type: string): MemberStatus =>
  type === 'run-completed' ? 'completed' : type === 'run-cancelled' ? 'cancelled' : 'failed';

export async function launchSweepOnSlurm(o: SlurmSweepOptions): Promise<number> {
  const { sweepDir, manifest } = o;
  const client = new SlurmClient();
  const t0 = Date.now();
  const eventsFile = path.join(sweepDir, SWEEP_FILES.events);
  const human = humanSweepReporter(process.stderr);
  const print = (e: SweepEvent): void => {
    if (o.json) process.stdout.write(JSON.stringify(e) + '\n');
    else human(e);
  };
  const emit = (payload: SweepEventPayload): void => {
    const event = { v: PROTOCOL_VERSION, time: new Date().toISOString(), ...payload } as SweepEvent;
    fs.appendFileSync(eventsFile, JSON.stringify(event) + '\n');
    print(event);
  };
  const hint = sharedFilesystemHint(sweepDir);
  if (hint && process.env.AKD_QUIET_SHARED_FS_HINT !== '1') process.stderr.write(`akd: note: ${hint}\n`);

  let jobs: Awaited<ReturnType<typeof submitSweep>>;
  try {
    const blocker = o.resumed ? await slurmSweepBlocker(sweepDir, manifest) : undefined;
    if (blocker) {
      process.stderr.write(`akd: ${blocker}\n`);
      return EXIT.invalid;
    }
    jobs = await submitSweep(o, client);
  } catch (e) {
    const msg = slurmErrorMessage(e);
    if (!msg) throw e;
    process.stderr.write(`akd: could not submit the sweep to Slurm: ${msg}\n`);
    return EXIT.failed;
  }
  emit({
    type: 'sweep-started',
    sweepDir,
    name: manifest.name,
    members: manifest.members.length,
    toRun: jobs.submitted.length,
    concurrency: o.concurrency,
    resumed: o.resumed,
    pid: process.pid,
  });
  const parts = [
    ...(jobs.teacherJobs.length > 0 ? [`teacher job ${jobs.teacherJobs.join(', ')}`] : []),
    ...(jobs.arrayJob
      ? [
          `array job ${jobs.arrayJob} (${jobs.submitted.length - jobs.teacherJobs.length} tasks, ${o.concurrency} at a time${jobs.teacherJobs.length > 0 ? `, after job ${jobs.teacherJobs.join(', ')}` : ''})`,
        ]
      : []),
  ];
  emit({
    type: 'sweep-log',
    level: 'info',
    message: `submitted to Slurm: ${parts.join('; ') || 'nothing (every member is done)'}`,
  });
  if (o.detach) {
    for (const s of jobs.submitted) process.stdout.write(`${s.runDir}\t${s.jobId}\n`);
    if (!o.json) process.stderr.write(`follow a member with akd follow RUN; stop one with akd stop RUN\n`);
    return EXIT.ok;
  }

  // Follow every member; report starts, ends and the teacher the way a local sweep does.
  const runStarted = new Map<string, RunStartedEvent>();
  const followers = jobs.submitted.map(
    (s) =>
      new SlurmRunFollower(s.runDir, s.jobId, s.offset, (e) => {
        if (e.type === 'run-started') runStarted.set(s.member.id, e);
      }),
  );
  const startedAt = new Map<string, number>();
  const ended = new Map<string, MemberStatus>();
  const teachersReady = new Set<string>(
    manifest.teachers.filter((t) => cachedTeacherModel(manifest.cacheRoot, t.key)).map((t) => t.key),
  );
  for (const key of teachersReady)
    emit({
      type: 'teacher-ready',
      key,
      cacheDir: manifest.teachers.find((t) => t.key === key)!.cacheDir,
      source: 'cache',
    });
  const afterRound = (): void => {
    for (const t of manifest.teachers) {
      if (!teachersReady.has(t.key) && cachedTeacherModel(manifest.cacheRoot, t.key)) {
        teachersReady.add(t.key);
        emit({
          type: 'teacher-ready',
          key: t.key,
          cacheDir: t.cacheDir,
          source: 'trained',
          ...(t.trainedBy ? { fromRun: t.trainedBy } : {}),
        });
      }
    }
    jobs.submitted.forEach((s, i) => {
      const f = followers[i];
      const started = runStarted.get(s.member.id);
      if ((started || f.done) && !startedAt.has(s.member.id)) {
        startedAt.set(s.member.id, Date.now());
        emit({
          type: 'member-started',
          id: s.member.id,
          index: s.member.index,
          method: s.member.method,
          seed: s.member.seed,
          runDir: s.runDir,
          pid: started?.pid ?? -1,
          resumed: started?.resumedFrom !== undefined,
          trainsTeacher: s.member.trainsTeacher,
        });
      }
      if (f.done && !ended.has(s.member.id)) {
        const status = f.terminal ? statusOf(f.terminal.type) : 'failed';
        ended.set(s.member.id, status);
        const summary = readJson<RunSummary>(path.join(s.runDir, RUN_FILES.summary));
        const error =
          f.terminal?.type === 'run-failed'
            ? f.terminal.error.message
            : !f.terminal
              ? 'the job ended without a terminal event'
              : undefined;
        emit({
          type: 'member-ended',
          id: s.member.id,
          index: s.member.index,
          status,
          exitCode: null,
          studentTestAccuracy: status === 'completed' ? (summary?.student.testAccuracy ?? null) : null,
          seconds: (Date.now() - (startedAt.get(s.member.id) ?? Date.now())) / 1000,
          ...(error ? { error } : {}),
        });
      }
    });
  };

  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals): void => {
    if (signal) process.exit(exitCodeForSignal(s));
    signal = s;
    const ids = [...jobs.teacherJobs, ...(jobs.arrayJob ? [jobs.arrayJob] : [])];
    emit({
      type: 'sweep-log',
      level: 'info',
      message: `${s}: cancelling Slurm jobs ${ids.join(', ')} (running members checkpoint)`,
    });
    for (const id of ids)
      client
        .cancel(id)
        .catch((e: Error) => process.stderr.write(`akd: could not cancel ${id}: ${e.message}\n`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await followSlurmRuns(client, followers, {
      warn: (m) => process.stderr.write(`akd: ${m}\n`),
      afterRound,
    });
  } catch (e) {
    if (e instanceof SlurmError) {
      process.stderr.write(`akd: ${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const counts: Record<MemberStatus | 'pending', number> = {
    completed: 0,
    failed: 0,
    cancelled: 0,
    skipped: 0,
    pending: 0,
  };
  for (const m of manifest.members) {
    const s =
      ended.get(m.id) ??
      (readRun(memberRunDir(sweepDir, m)).status === 'completed'
        ? 'completed'
        : readRun(memberRunDir(sweepDir, m)).status === 'failed'
          ? 'failed'
          : 'pending');
    counts[s] += 1;
  }
  const status =
    signal || counts.cancelled > 0 || counts.pending > 0
      ? 'cancelled'
      : counts.failed > 0
        ? 'failed'
        : 'completed';
  emit({ type: 'sweep-ended', status, counts, seconds: (Date.now() - t0) / 1000 });
  if (!o.json) process.stderr.write(`compare: akd compare ${sweepDir}\n`);
  if (status === 'completed') return EXIT.ok;
  if (status === 'cancelled' && signal) return exitCodeForSignal(signal);
  return EXIT.failed;
}

/** The launcher of `akd sweep [--resume]`: --launcher, else the config's (a resumed sweep: its members' config.json). */
export function sweepLauncher(
  flag: string | undefined,
  config: Pick<ExperimentConfig, 'launcher'> | undefined,
): LauncherConfig {
  return resolveLauncher(config ?? {}, flag);
}

/** The config a resumed sweep's members were written with (for their launcher block). */
export function sweepMemberConfig(sweepDir: string, manifest: SweepManifest): ExperimentConfig | undefined {
  const m = manifest.members[0];
  return m ? readJson<ExperimentConfig>(path.join(memberRunDir(sweepDir, m), RUN_FILES.config)) : undefined;
}

/**
 * Members of a sweep whose latest session is a Slurm job that has not ended. Asks Slurm once for
 * all of them and settles the jobs it says ended (so they read as failed/cancelled, not running).
 */
export async function activeSlurmMembers(
  sweepDir: string,
  manifest: SweepManifest,
  client = new SlurmClient(),
): Promise<{ runDir: string; jobId: string; state: string }[]> {
  const open: { runDir: string; session: RunSession }[] = [];
  for (const m of manifest.members) {
    const runDir = memberRunDir(sweepDir, m);
    const session = latestSession(readEvents(path.join(runDir, RUN_FILES.events)));
    if (session?.submitted && !session.final) open.push({ runDir, session });
  }
  if (open.length === 0) return [];
  const statuses = await client.statuses(open.map((o) => o.session.submitted!.jobId));
  const active: { runDir: string; jobId: string; state: string }[] = [];
  for (const o of open) {
    const jobId = o.session.submitted!.jobId;
    const st = statuses.get(jobId) ?? { jobId, state: 'GONE' };
    if (jobEnded(st.state)) settleEndedJob(o.runDir, o.session, st);
    else active.push({ runDir: o.runDir, jobId, state: st.state });
  }
  return active;
}

/** Refuse to start a sweep's members again while some still run (or wait) as Slurm jobs. */
export async function slurmSweepBlocker(
  sweepDir: string,
  manifest: SweepManifest,
): Promise<string | undefined> {
  const active = await activeSlurmMembers(sweepDir, manifest);
  if (active.length === 0) return undefined;
  return `${sweepDir}: ${active.length} member(s) still queued or running as Slurm jobs (${active.map((a) => `${path.basename(a.runDir)}: ${a.jobId} ${a.state}`).join(', ')}); akd stop ${sweepDir} first, or akd follow a member`;
}

/** `akd stop SWEEP_DIR`: cancel every member still queued or running (Slurm: one scancel; local: SIGTERM each), wait for their ends. */
export async function stopSweep(sweepDir: string, opts: { waitMs: number; json: boolean }): Promise<number> {
  const manifest = readManifest(sweepDir);
  // A local `akd sweep` still running would start the pending members as soon as the running ones
  // stop: signal it instead, once. It forwards the signal to its members, each checkpoints (a member
  // signalled twice would exit without its checkpoint), and it starts no new member.
  const orchestrator = liveOrchestratorPid(sweepDir);
  if (orchestrator !== undefined) {
    process.kill(orchestrator, 'SIGTERM');
    process.stderr.write(`stopping the sweep's akd sweep process (pid ${orchestrator})\n`);
    const deadline = Date.now() + opts.waitMs;
    while (processAlive(orchestrator) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    return processAlive(orchestrator) ? EXIT.failed : EXIT.ok;
  }
  const client = new SlurmClient();
  const active = await activeSlurmMembers(sweepDir, manifest, client);
  if (active.length > 0) {
    await client.cancel(active.map((a) => a.jobId));
    process.stderr.write(`cancelled Slurm job(s) ${active.map((a) => a.jobId).join(', ')}\n`);
  }
  let code: number = EXIT.ok;
  for (const m of manifest.members) {
    const runDir = memberRunDir(sweepDir, m);
    const session = latestSession(readEvents(path.join(runDir, RUN_FILES.events)));
    if (!session || (session.ended && (!session.submitted || session.final))) continue;
    const c = await stopRun(runDir, opts);
    if (c !== EXIT.ok) code = c;
  }
  return code;
}

/** The pid of this sweep's `akd sweep` process, if its latest session has not ended and it lives. */
function liveOrchestratorPid(sweepDir: string): number | undefined {
  // A local orchestrator holds the sweep folder's lock: its pid counts only with its start time.
  const writer = runWriter(sweepDir);
  if (writer.state === 'writing')
    return writer.certain && writer.holder.pid !== process.pid ? writer.holder.pid : undefined;
  if (writer.state === 'gone') return undefined;
  let text: string;
  try {
    text = fs.readFileSync(path.join(sweepDir, SWEEP_FILES.events), 'utf8');
  } catch {
    return undefined;
  }
  let pid: number | undefined;
  for (const line of text.split('\n')) {
    let e: SweepEvent;
    try {
      e = JSON.parse(line) as SweepEvent;
    } catch {
      continue;
    }
    if (e.type === 'sweep-started') pid = e.pid;
    else if (e.type === 'sweep-ended') pid = undefined;
  }
  return pid !== undefined && pid !== process.pid && processAlive(pid) ? pid : undefined;
}
