/**
 * The run-event protocol: one JSON object per line of a run's `events.jsonl`, and the
 * stream `akd run --json` writes to stdout. This is the only definition; the runner
 * writes these, the extension and the webview read them. No TensorFlow import here.
 */
import type { EvaluationProtocol, ExperimentConfig, MethodType } from './configTypes';
import type { ExportRecord } from './exportRecord';
export type { ExportRecord } from './exportRecord';

export const PROTOCOL_VERSION = 1 as const;

/**
 * How every view (CLI, Runs view, dashboard, compare) labels a run of the reference evaluation
 * protocol: its checkpoints were selected, and its accuracy picked, on the test set.
 */
export const REFERENCE_PROTOCOL_LABEL = 'reference protocol: selected on test';

/** Phases of a run, in the order they can happen ('assistant': TAKD's assistant, trained with KD from the teacher). */
export type PhaseName = 'teacher' | 'train' | 'kd' | 'anneal' | 'finetune' | 'assistant';
export const PHASES: readonly PhaseName[] = ['teacher', 'assistant', 'train', 'kd', 'anneal', 'finetune'];

export type ActualBackend = 'tensorflow' | 'wasm' | 'cpu';
export type RunStatus = 'running' | 'completed' | 'failed' | 'cancelled';

interface EventBase {
  v: typeof PROTOCOL_VERSION;
  /** ISO 8601 time the event was written. */
  time: string;
}

export interface ModelInfo {
  type: string;
  params: number;
  /** Where the weights come from: trained in this run, or a checkpoint path. */
  source: 'trained' | 'checkpoint';
  checkpoint?: string;
  /** A checkpoint teacher trained by another run (e.g. a sweep's shared teacher): that run's id. */
  teacherFromRun?: string;
  /** That run's folder, when known. */
  teacherFromRunDir?: string;
  /** A sweep's teacher-cache key (hash of the teacher config and the data), when the checkpoint came from the cache. */
  teacherCacheKey?: string;
}

/** Who a process is beyond its pid (pids are reused): see processIdentity.ts, which reads and checks it. */
export interface ProcessIdentity {
  pid: number;
  /** os.hostname() of the machine the process runs on. */
  host: string;
  /** An opaque start-time stamp ("<boot id>:<ticks>" on Linux); absent where it cannot be read. */
  startTime?: string;
  /** Slurm job ("123" or "123_4") the process runs in: on a shared filesystem Slurm decides liveness. */
  jobId?: string;
}

export interface RunStartedEvent extends EventBase {
  type: 'run-started';
  runId: string;
  runDir: string;
  configPath: string;
  config: ExperimentConfig;
  backend: ActualBackend;
  /** Why this backend (e.g. "tfjs-node not installed; using wasm"). */
  backendNote?: string;
  /**
   * The most threads a phase of this run trains on (wasm/cpu: the main thread plus data-parallel
   * workers; 1 for the native backend, which manages its own threads). Each phase-started says
   * how many that phase uses.
   */
  threads?: number;
  teacher: ModelInfo;
  student: ModelInfo;
  /** TAKD only: the assistant. */
  assistant?: ModelInfo;
  data: { train: number; validation: number; test: number; inputShape: number[]; classes: number };
  /** Set when this start continues an earlier run (`akd resume`). */
  resumedFrom?: CheckpointPosition;
  /**
   * Distillation targets: the teacher's logits computed once per run ("cached"), or the teacher
   * run on every augmented batch ("per-batch"). Absent when no phase uses a teacher.
   */
  teacherTargets?: 'cached' | 'per-batch';
  /** Evaluation protocol (absent: "held-out"). */
  protocol?: EvaluationProtocol;
  /** `akd run CONFIG --set KEY=VALUE...`: the values set on top of the config file (key -> value). */
  overrides?: Record<string, unknown>;
  pid: number;
  /**
   * The writing process (pid, start time, host, Slurm job): it holds the run's lock (run.lock) for
   * the session, so a reader that finds neither an end event nor that process knows the run crashed.
   * Absent in runs written before the lock existed.
   */
  process?: ProcessIdentity;
}

export interface PhaseStartedEvent extends EventBase {
  type: 'phase-started';
  phase: PhaseName;
  /** Epochs this phase (or this temperature step) will run. */
  epochs: number;
  /** anneal only. */
  temperature?: number;
  /** anneal only: Phi(T) = 1 - (T-1)/tauMax. */
  phi?: number;
  /** anneal only: index of this temperature step, 0-based, and how many there are. */
  step?: number;
  steps?: number;
  /** Threads (data-parallel replicas) training this phase; 1 = the main thread alone. */
  threads?: number;
}

export interface EpochEndedEvent extends EventBase {
  type: 'epoch-ended';
  phase: PhaseName;
  /** 1-based epoch within the phase (anneal: counted over the whole phase 1). */
  epoch: number;
  epochs: number;
  temperature?: number;
  phi?: number;
  loss: number;
  trainAccuracy: number;
  /** null when the config has no validation split (validationFraction 0, or the reference protocol). */
  valAccuracy: number | null;
  /** Reference protocol only: test accuracy after this epoch (what that protocol selects on). */
  testAccuracy?: number;
  /** Per-batch teacher targets (augmented runs): seconds the main thread spent on them this epoch. */
  targetSeconds?: number;
  samplesPerSecond: number;
  lr: number;
  seconds: number;
}

export interface ProgressEvent extends EventBase {
  type: 'progress';
  phase: PhaseName;
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  samplesPerSecond: number;
  temperature?: number;
}

export interface CheckpointPosition {
  phase: PhaseName;
  /** Epochs of this phase fully done. */
  epoch: number;
  /** Batches done inside the next epoch (non-zero only for a checkpoint written on cancel). */
  batch: number;
}

export interface CheckpointSavedEvent extends EventBase {
  type: 'checkpoint-saved';
  /** Folder relative to the run folder. */
  path: string;
  model: 'teacher' | 'student' | 'assistant';
  reason: 'epoch' | 'best' | 'final' | 'cancel';
  position: CheckpointPosition;
  valAccuracy?: number;
}

export interface RunCompletedEvent extends EventBase {
  type: 'run-completed';
  summary: RunSummary;
}

export interface RunFailedEvent extends EventBase {
  type: 'run-failed';
  error: { message: string; stack?: string };
}

export interface RunCancelledEvent extends EventBase {
  type: 'run-cancelled';
  signal: string;
  position?: CheckpointPosition;
}

export interface LogEvent extends EventBase {
  type: 'log';
  level: 'info' | 'warning' | 'error';
  message: string;
}

/**
 * A Slurm job was submitted for this run (`akd run|resume --launcher slurm`, or a sweep member's
 * array task), written on the submitting host before the job can start. Starts a session: the
 * job's own `job-state` (RUNNING, from the compute node) and `run-started` follow.
 */
export interface JobSubmittedEvent extends EventBase {
  type: 'job-submitted';
  launcher: 'slurm';
  /** Slurm's job id: "123", or "123_4" for task 4 of array job 123. */
  jobId: string;
  runDir: string;
  configPath: string;
  /** The batch script, relative to the run folder. */
  script: string;
  /** The job's stdout+stderr file (a Slurm pattern until the job starts: %j, %A_%a). */
  output: string;
  /** The job continues from the run's checkpoint (`akd resume`). */
  resume: boolean;
  /** Jobs this one waits for (a sweep's shared-teacher job). */
  dependsOn?: string[];
  /** `--set` values on top of the config file (the job's run records them in its summary). */
  overrides?: Record<string, unknown>;
}

/**
 * Slurm's view of the run's job. Written by the job itself when it starts (source "job": state
 * RUNNING, node), and by whoever follows it (source "follower": `akd run|resume|sweep` without
 * --detach, `akd follow`, `akd stop`): PENDING with its reason while queued, and once, with
 * `final: true`, when Slurm says the job has ended (that one may come after the run's terminal event).
 */
export interface JobStateEvent extends EventBase {
  type: 'job-state';
  launcher: 'slurm';
  jobId: string;
  /** Slurm's JobState: PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, ...; GONE when Slurm has forgotten the job. */
  state: string;
  /** Slurm's Reason: while pending Priority, Resources, Dependency, BeginTime...; at the end NonZeroExitCode, TimeLimit, NodeDown... */
  reason?: string;
  node?: string;
  /** "exit:signal" as Slurm prints it ("0:0", "3:0", "0:9"). */
  exitCode?: string;
  final?: boolean;
  source: 'job' | 'follower';
}

/**
 * `akd export` wrote a verified file from this completed run (appended after its terminal event,
 * so an open dashboard shows it; summary.json `exports` keeps the same records).
 */
export interface ExportedEvent extends EventBase {
  type: 'exported';
  record: ExportRecord;
}

export type RunEvent =
  | RunStartedEvent
  | PhaseStartedEvent
  | EpochEndedEvent
  | ProgressEvent
  | CheckpointSavedEvent
  | RunCompletedEvent
  | RunFailedEvent
  | RunCancelledEvent
  | LogEvent
  | JobSubmittedEvent
  | JobStateEvent
  | ExportedEvent;

export type RunEventType = RunEvent['type'];
/** Distributive Omit, so `Omit<RunEvent, 'v'|'time'>` keeps the union. */
export type EventPayload<E = RunEvent> = E extends RunEvent ? Omit<E, 'v' | 'time'> : never;

export const TERMINAL_EVENTS: readonly RunEventType[] = ['run-completed', 'run-failed', 'run-cancelled'];

export interface PhaseResult {
  phase: PhaseName;
  epochs: number;
  /** Best and last validation accuracy (training accuracy when there is no validation split). */
  bestValAccuracy: number;
  bestEpoch: number;
  finalValAccuracy: number;
  /** anneal: temperature at the best epoch. */
  bestTemperature?: number;
  /** What bestValAccuracy/finalValAccuracy were measured on when not a held-out validation split. */
  selectedOn?: 'train' | 'test';
}

/** A Slurm run's job, in its summary.json. */
export interface JobInfo {
  launcher: 'slurm';
  jobId: string;
  /** Slurm's last known JobState (see JobStateEvent). */
  state?: string;
  reason?: string;
  node?: string;
  exitCode?: string;
}

export interface RunSummary {
  runId: string;
  name: string;
  status: RunStatus;
  backend: ActualBackend;
  method: MethodType;
  teacher: ModelInfo & { testAccuracy: number | null };
  /**
   * testAccuracy: the final student's (held-out protocol), or the best test epoch's of the last
   * phase (reference protocol, which also records the last epoch's as finalTestAccuracy).
   */
  student: ModelInfo & { testAccuracy: number | null; finalTestAccuracy?: number };
  /** TAKD only: the assistant. */
  assistant?: ModelInfo & { testAccuracy: number | null };
  /** Evaluation protocol (absent in runs before it existed: "held-out"). */
  protocol?: EvaluationProtocol;
  /** teacher params / student params. */
  compression: number;
  phases: PhaseResult[];
  startedAt: string;
  endedAt?: string;
  /** Wall time actually spent training, summed over resumes. */
  seconds: number;
  error?: string;
  /** Runs launched on Slurm: the job of the latest session. */
  job?: JobInfo;
  /** `akd run CONFIG --set KEY=VALUE...`: the values set on top of the config file (config.json has the result). */
  overrides?: Record<string, unknown>;
  /** Files `akd export` wrote from this run, each verified in ONNX Runtime. */
  exports?: ExportRecord[];
}

/** The `--set` overrides a run was started with: the first session that recorded them. */
export function recordedOverrides(events: readonly RunEvent[]): Record<string, unknown> | undefined {
  for (const e of events)
    if ((e.type === 'run-started' || e.type === 'job-submitted') && e.overrides) return e.overrides;
  return undefined;
}

/** Parse one line of events.jsonl; returns undefined for blank or torn (partial) lines. */
export function parseEventLine(line: string): RunEvent | undefined {
  const text = line.trim();
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (
      typeof value === 'object' &&
      value !== null &&
      (value as { v?: unknown }).v === PROTOCOL_VERSION &&
      typeof (value as { type?: unknown }).type === 'string'
    ) {
      return value as RunEvent;
    }
  } catch {
    // A process killed mid-write leaves a torn last line: skip it.
  }
  return undefined;
}
