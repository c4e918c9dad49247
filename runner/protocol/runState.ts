/**
 * One run's state as the extension shows it, folded from run events. Pure (no vscode, no fs),
 * so the same reducer serves events read from stdout and from a tailed events.jsonl.
 */
import { protocolOf, type EvaluationProtocol, type MethodType } from './configTypes';
import type { PhaseName, RunEvent, RunStatus, RunSummary } from './events';

/** `interrupted`: no terminal event and the process is gone (killed, crashed, machine restarted). */
export type RunDisplayStatus = RunStatus | 'starting' | 'interrupted' | 'unknown';

export interface RunState {
  runId: string;
  runDir: string;
  configPath?: string;
  name?: string;
  method?: MethodType;
  tauMax?: number;
  status: RunDisplayStatus;
  pid?: number;
  phase?: PhaseName;
  temperature?: number;
  epoch?: number;
  epochs?: number;
  startedAt?: string;
  endedAt?: string;
  summary?: RunSummary;
  error?: string;
  /** The evaluation protocol (reference: selected on test; views label it with REFERENCE_PROTOCOL_LABEL). */
  protocol?: EvaluationProtocol;
  /** How the distillation targets are made: cached once, or per augmented batch. */
  teacherTargets?: 'cached' | 'per-batch';
  /** Latest validation accuracy seen (0..1), for the tree while running. */
  lastValAccuracy?: number;
  /** Runs launched on Slurm: their process is on another machine, so no pid check applies. */
  job?: { id: string; state?: string; reason?: string; node?: string; exitCode?: string; final?: boolean };
  /** A sweep member: its sweep folder (`.akd/sweeps/<id>/`); the manager sets it, not the events. */
  sweepDir?: string;
  /** `akd run --set` values it was started with (from run-started). */
  overrides?: Record<string, unknown>;
  /** From the run's meta.json (protocol/runMeta.ts); the reader sets them, not the events. */
  starred?: boolean;
  note?: string;
}

export function initialRunState(runId: string, runDir: string): RunState {
  return { runId, runDir, status: 'unknown' };
}

export function isTerminal(status: RunDisplayStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

export function isActive(status: RunDisplayStatus): boolean {
  return status === 'running' || status === 'starting';
}

/** Fold one event into the state (returns a new object; the input is not changed). */
export function applyEvent(state: RunState, event: RunEvent): RunState {
  const s: RunState = { ...state };
  switch (event.type) {
    case 'run-started':
      s.runId = event.runId;
      s.runDir = event.runDir;
      s.configPath = event.configPath;
      s.name = event.config.name;
      s.method = event.config.method.type;
      s.tauMax = event.config.method.type === 'annealing' ? event.config.method.tauMax : undefined;
      s.pid = event.pid;
      if (event.overrides) s.overrides = event.overrides;
      s.protocol = event.protocol ?? protocolOf(event.config);
      s.teacherTargets = event.teacherTargets;
      s.status = 'running';
      s.startedAt ??= event.time;
      s.endedAt = undefined;
      s.error = undefined;
      break;
    case 'phase-started':
      s.phase = event.phase;
      s.temperature = event.temperature;
      s.epoch = 0;
      s.epochs = event.epochs;
      break;
    case 'epoch-ended':
      s.phase = event.phase;
      s.epoch = event.epoch;
      s.epochs = event.epochs;
      if (event.temperature !== undefined) s.temperature = event.temperature;
      if (typeof event.valAccuracy === 'number') s.lastValAccuracy = event.valAccuracy;
      // The reference protocol has no validation split: its epochs report test accuracy.
      else if (typeof event.testAccuracy === 'number') s.lastValAccuracy = event.testAccuracy;
      break;
    case 'progress':
      s.phase = event.phase;
      if (event.temperature !== undefined) s.temperature = event.temperature;
      break;
    case 'run-completed':
      s.status = 'completed';
      s.summary = event.summary;
      if (event.summary.protocol) s.protocol = event.summary.protocol;
      s.endedAt = event.time;
      break;
    case 'run-failed':
      s.status = 'failed';
      s.error = event.error.message;
      s.endedAt = event.time;
      break;
    case 'run-cancelled':
      s.status = 'cancelled';
      s.endedAt = event.time;
      break;
    case 'job-submitted':
      s.job = { id: event.jobId };
      s.configPath ??= event.configPath;
      if (!isTerminal(s.status) || event.resume) {
        // A new session, queued: the last session's phase is not what it does now.
        s.status = 'starting';
        s.phase = undefined;
        s.temperature = undefined;
        s.epoch = undefined;
        s.epochs = undefined;
      }
      break;
    case 'job-state':
      s.job = {
        ...s.job,
        id: event.jobId,
        state: event.state,
        reason: event.reason,
        node: event.node ?? s.job?.node,
        exitCode: event.exitCode,
        final: event.final,
      };
      // Slurm ended the job before the run wrote its end: the runner's follower settles it the
      // same way right after (runner/launch/slurmRun.ts settleEndedJob: run-cancelled for
      // CANCELLED, else run-failed with Slurm's reason), so never wait for it as "running".
      if (event.final && !isTerminal(s.status)) {
        s.status = event.state === 'CANCELLED' ? 'cancelled' : 'failed';
        if (s.status === 'failed')
          s.error = `Slurm job ${event.jobId} ended ${event.state}${event.reason && event.reason !== 'None' ? ` (${event.reason})` : ''}${event.exitCode && event.exitCode !== '0:0' ? `, exit code ${event.exitCode}` : ''} before the run reported an end`;
        s.endedAt = event.time;
      }
      break;
    case 'checkpoint-saved':
    case 'log':
      break;
  }
  return s;
}

export function applyEvents(state: RunState, events: readonly RunEvent[]): RunState {
  return events.reduce(applyEvent, state);
}
