/**
 * The run-event protocol: one JSON object per line of a run's `events.jsonl`, and the
 * stream `akd run --json` writes to stdout. This is the only definition; the runner
 * writes these, the extension and the webview read them. No TensorFlow import here.
 */
import type { ExperimentConfig, MethodType } from '../config/types';

export const PROTOCOL_VERSION = 1 as const;

/** Phases of a run, in the order they can happen. */
export type PhaseName = 'teacher' | 'train' | 'kd' | 'anneal' | 'finetune';
export const PHASES: readonly PhaseName[] = ['teacher', 'train', 'kd', 'anneal', 'finetune'];

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
  teacher: ModelInfo;
  student: ModelInfo;
  data: { train: number; validation: number; test: number; inputShape: number[]; classes: number };
  /** Set when this start continues an earlier run (`akd resume`). */
  resumedFrom?: CheckpointPosition;
  pid: number;
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
  /** null when the config has no validation split (validationFraction 0). */
  valAccuracy: number | null;
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
  model: 'teacher' | 'student';
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

export type RunEvent =
  | RunStartedEvent
  | PhaseStartedEvent
  | EpochEndedEvent
  | ProgressEvent
  | CheckpointSavedEvent
  | RunCompletedEvent
  | RunFailedEvent
  | RunCancelledEvent
  | LogEvent;

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
}

export interface RunSummary {
  runId: string;
  name: string;
  status: RunStatus;
  backend: ActualBackend;
  method: MethodType;
  teacher: ModelInfo & { testAccuracy: number | null };
  student: ModelInfo & { testAccuracy: number | null };
  /** teacher params / student params. */
  compression: number;
  phases: PhaseResult[];
  startedAt: string;
  endedAt?: string;
  /** Wall time actually spent training, summed over resumes. */
  seconds: number;
  error?: string;
}

/** Parse one line of events.jsonl; returns undefined for blank or torn (partial) lines. */
export function parseEventLine(line: string): RunEvent | undefined {
  const text = line.trim();
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && (value as { v?: unknown }).v === PROTOCOL_VERSION
      && typeof (value as { type?: unknown }).type === 'string') {
      return value as RunEvent;
    }
  } catch {
    // A process killed mid-write leaves a torn last line: skip it.
  }
  return undefined;
}
