/**
 * What a Slurm job runs on its compute node: `akd _run-job RUNDIR` (hidden), one session of a run
 * whose folder the submitting host already made. It checks the folder is writable from here (on a
 * cluster it must be on a shared filesystem), records the job as RUNNING on this node, then trains
 * exactly as `akd run`/`akd resume` would (a fresh start, or from the checkpoint if there is one).
 *
 * A SIGTERM from Slurm is handled like any SIGTERM (checkpoint at the next batch boundary), but
 * the run's end says who sent it: `scancel` leaves a cancelled run; a time limit, node failure
 * or preemption (Slurm's JobState is then TIMEOUT, NODE_FAIL, ...) makes it a failed run with
 * Slurm's reason, still resumable from its checkpoint.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExperimentConfig } from '../protocol/configTypes';
import type {
  CheckpointPosition,
  EventPayload,
  JobSubmittedEvent,
  RunEvent,
  RunSummary,
} from '../protocol/events';
import { EventLog } from '../store/eventLog';
import { readEvents } from '../protocol/eventTail';
import { readJson, writeJsonAtomic } from '../store/runStore';
import { RUN_FILES } from '../protocol/files';
import { EXIT, exitCodeForSignal } from '../protocol/exitCodes';
import { RunLockedError, acquireRunLock, type RunLock } from '../store/runLock';
import type { CancelToken } from '../training/phaseTrainer';
import { humanReporter } from '../protocol/format';
import { installSignalHandlers } from './signals';
import { isSweepDir, memberRunDir, readManifest } from '../protocol/sweepManifest';
import {
  cachedTeacherModel,
  publishTeacher,
  teacherResultsCache,
  trainedTeacherOf,
  updateProvenance,
} from '../sweep/teacherCache';
import { SLURM_KILLED, parseScontrolJob, type JobStatus } from './slurmClient';
import { describeJobEnd } from './slurmRun';

/** This job's id as akd writes it: "123", or "123_4" for an array task. */
export function currentJobId(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID)
    return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID;
}

/** Slurm's view of this job right now (compute nodes can always reach the controller); quick. */
function slurmStateNow(jobId: string): JobStatus | undefined {
  const r = spawnSync('scontrol', ['show', 'job', jobId], { encoding: 'utf8', timeout: 2000 });
  return r.status === 0 ? parseScontrolJob(r.stdout, jobId) : undefined;
}

/** An EventLog that turns a Slurm-initiated stop (time limit, node failure...) into a failed end with the reason. */
class SlurmJobLog extends EventLog {
  slurmEnd: { status: JobStatus; message: string } | undefined;
  constructor(
    file: string,
    private readonly jobId: string,
  ) {
    super(file);
  }

  override emit(payload: EventPayload): RunEvent {
    if (payload.type === 'run-cancelled') {
      const status = slurmStateNow(this.jobId);
      if (status && SLURM_KILLED.has(status.state)) {
        const at = payload.position ? describePosition(payload.position) : '';
        const message = `${describeJobEnd(status)}; the run saved a checkpoint${at}: akd resume continues from it`;
        this.slurmEnd = { status, message };
        return super.emit({ type: 'run-failed', error: { message } });
      }
    }
    return super.emit(payload);
  }
}

const describePosition = (p: CheckpointPosition): string =>
  ` at ${p.phase} epoch ${p.epoch + 1}, batch ${p.batch}`;

function writableProblem(runDir: string): string | undefined {
  const probe = path.join(runDir, `.write-test-${os.hostname()}-${process.pid}`);
  try {
    fs.writeFileSync(probe, 'ok');
    fs.unlinkSync(probe);
    return undefined;
  } catch (e) {
    return (
      `akd: the run folder ${runDir} is not writable from ${os.hostname()} (${(e as Error).message}). ` +
      'On a cluster the run folder must be on a filesystem the submitting host and the compute nodes share ' +
      '(akd run --out DIR on a shared path).'
    );
  }
}

/** An array task of a sweep: its member's run folder (task id = member index). */
function sweepMemberFolder(sweepDir: string): string | undefined {
  const task = Number(process.env.SLURM_ARRAY_TASK_ID);
  const m = readManifest(sweepDir).members.find((x) => x.index === task);
  return m ? memberRunDir(sweepDir, m) : undefined;
}

/**
 * A sweep member that trains the shared teacher puts it into the teacher cache as soon as it is
 * trained (what a local sweep's orchestrator does), so the members' array can load it.
 */
function teacherPublisher(runDir: string): ((final: boolean) => void) | undefined {
  const sweepDir = path.dirname(runDir);
  if (!isSweepDir(sweepDir)) return undefined;
  const manifest = readManifest(sweepDir);
  const m = manifest.members.find((x) => memberRunDir(sweepDir, x) === path.resolve(runDir));
  const teacher = m?.trainsTeacher ? manifest.teachers.find((t) => t.key === m.teacherKey) : undefined;
  if (!m || !teacher) return undefined;
  return (final) => {
    const summary = readJson<RunSummary>(path.join(runDir, RUN_FILES.summary));
    if (!cachedTeacherModel(manifest.cacheRoot, teacher.key)) {
      const teacherDir = path.join(runDir, RUN_FILES.teacher);
      const config = readJson<ExperimentConfig>(path.join(runDir, RUN_FILES.config));
      const trained = config && trainedTeacherOf(config);
      if (!config || !trained || !fs.existsSync(path.join(teacherDir, 'model.json'))) return;
      publishTeacher(manifest.cacheRoot, teacher.key, teacherDir, {
        runId: m.id,
        runDir,
        key: teacher.key,
        dataFingerprint: teacher.dataFingerprint,
        teacher: trained,
        batchSize: config.batchSize,
        createdAt: new Date().toISOString(),
      });
    }
    if (final && summary?.teacher.testAccuracy != null)
      updateProvenance(manifest.cacheRoot, teacher.key, { testAccuracy: summary.teacher.testAccuracy });
  };
}

export async function runJob(folder: string): Promise<number> {
  const host = process.env.SLURMD_NODENAME || os.hostname();
  let runDir = folder;
  if (isSweepDir(folder)) {
    const member = sweepMemberFolder(folder);
    if (!member) {
      process.stderr.write(
        `akd: no member of the sweep in ${folder} has index ${process.env.SLURM_ARRAY_TASK_ID ?? '(SLURM_ARRAY_TASK_ID unset)'}\n`,
      );
      return EXIT.noInput;
    }
    runDir = member;
  }
  if (!fs.existsSync(runDir)) {
    process.stderr.write(
      `akd: the run folder ${runDir} does not exist on ${host}: on a cluster it must be on a filesystem the submitting host and the compute nodes share\n`,
    );
    return EXIT.noInput;
  }
  const problem = writableProblem(runDir);
  if (problem) {
    process.stderr.write(problem + '\n');
    return EXIT.cantCreate;
  }
  const config = readJson<ExperimentConfig>(path.join(runDir, RUN_FILES.config));
  if (!config) {
    process.stderr.write(`akd: ${path.join(runDir, RUN_FILES.config)} is missing or unreadable\n`);
    return EXIT.noInput;
  }
  const eventsFile = path.join(runDir, RUN_FILES.events);
  const submitted = [...readEvents(eventsFile)]
    .reverse()
    .find((e): e is JobSubmittedEvent => e.type === 'job-submitted');
  const jobId = currentJobId() ?? submitted?.jobId ?? 'unknown';
  const configPath = submitted?.configPath ?? path.join(runDir, RUN_FILES.config);
  // Always "resume": the run continues from its checkpoint, or starts if it never saved one (a damaged
  // or missing checkpoint of a run that did is an error, never a silent restart).
  const resume = true;

  // The run folder's one writer while the job runs (its submitter may still be recording it: wait for that).
  let lock: RunLock;
  try {
    lock = acquireRunLock(runDir, { command: 'job', waitMs: 60_000 });
  } catch (e) {
    if (!(e instanceof RunLockedError)) throw e;
    process.stderr.write(`akd: ${e.message}\n`);
    return EXIT.locked;
  }
  const log = new SlurmJobLog(eventsFile, jobId);
  log.onEvent(humanReporter(process.stderr));
  const publish = teacherPublisher(runDir);
  if (publish)
    log.onEvent((e) => {
      if (e.type === 'checkpoint-saved' && e.model === 'teacher' && e.reason === 'final') publish(false);
    });
  log.emit({ type: 'job-state', launcher: 'slurm', jobId, state: 'RUNNING', node: host, source: 'job' });
  const cancel: CancelToken = { cancelled: false };
  const removeHandlers = installSignalHandlers(cancel);
  try {
    const { runExperiment } = await import('../training/runExperiment');
    const runId = path.basename(runDir);
    const outcome = await runExperiment({
      config,
      configPath,
      runId,
      runDir,
      log,
      cancel,
      resume,
      teacherCache: teacherResultsCache,
    });
    const summaryFile = path.join(runDir, RUN_FILES.summary);
    const summary = readJson<RunSummary>(summaryFile) ?? outcome.summary;
    const slurmEnd = log.slurmEnd;
    publish?.(true);
    writeJsonAtomic(summaryFile, {
      ...summary,
      ...(slurmEnd ? { status: 'failed', error: slurmEnd.message } : {}),
      // The final state comes from whoever follows the job (it is still running while this is written).
      job: {
        launcher: 'slurm',
        jobId,
        node: host,
        ...(slurmEnd ? { state: slurmEnd.status.state } : {}),
        ...(slurmEnd?.status.reason ? { reason: slurmEnd.status.reason } : {}),
      },
    } satisfies RunSummary);
    process.stderr.write(`run folder: ${runDir}\n`);
    if (slurmEnd || outcome.status === 'failed') return EXIT.failed;
    if (outcome.status === 'cancelled') return exitCodeForSignal(cancel.signal);
    return EXIT.ok;
  } finally {
    log.close();
    removeHandlers();
    lock.release();
  }
}
