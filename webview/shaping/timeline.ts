/**
 * The phase timeline of a run: the steps its config plans (teacher -> assistant (takd) -> train |
 * kd | anneal T = tauMax ... 1 -> finetune), each done / running (epoch x of y) / pending, folded
 * from the run's events. Pure (no DOM); the temperature schedule is the runner's own.
 */
import type { ExperimentConfig } from '../../runner/protocol/configTypes';
import { takdAssistantSettings } from '../../runner/protocol/configTypes';
import type { PhaseName, RunEvent } from '../../runner/protocol/events';
import { annealingSchedule, phi as phiOf } from '../../runner/protocol/annealingSchedule';

export type StepState = 'done' | 'running' | 'pending' | 'stopped' | 'failed';

export interface TimelineStep {
  /** "teacher", "assistant", "train", "kd", "anneal-0" ... "anneal-<tauMax-1>", "finetune". */
  id: string;
  phase: PhaseName;
  label: string;
  temperature?: number;
  phi?: number;
  /** Epochs of this step, and how many of them are done. */
  epochs: number;
  epoch: number;
  /** Epochs of the phase before this step (anneal steps: their offset in phase 1). */
  offset: number;
  state: StepState;
  /** e.g. "checkpoint" for a teacher that was loaded, not trained. */
  note?: string;
}

export interface Timeline {
  steps: TimelineStep[];
  /** The step running now, or the one stopped/failed. */
  current?: TimelineStep;
  temperature?: number;
  phi?: number;
  tauMax?: number;
  /** Batch progress inside the running epoch, from the last progress event. */
  batch?: { batch: number; batches: number };
}

/** The steps a config plans, all pending. */
export function planSteps(config: ExperimentConfig): TimelineStep[] {
  const step = (
    id: string,
    phase: PhaseName,
    label: string,
    epochs: number,
    extra: Partial<TimelineStep> = {},
  ): TimelineStep => ({ id, phase, label, epochs, epoch: 0, offset: 0, state: 'pending', ...extra });
  const steps: TimelineStep[] = [];
  const teacherEpochs = 'epochs' in config.teacher ? config.teacher.epochs : 0;
  steps.push(
    step(
      'teacher',
      'teacher',
      'teacher',
      teacherEpochs,
      'checkpoint' in config.teacher ? { note: 'checkpoint' } : {},
    ),
  );
  const m = config.method;
  switch (m.type) {
    case 'scratch':
      steps.push(step('train', 'train', 'train (scratch)', m.epochs));
      break;
    case 'kd':
      steps.push(step('kd', 'kd', `kd T=${m.temperature}`, m.epochs));
      break;
    case 'takd':
      steps.push(step('assistant', 'assistant', 'assistant', takdAssistantSettings(m).epochs));
      steps.push(step('kd', 'kd', `kd T=${m.temperature}`, m.epochs));
      break;
    case 'annealing': {
      let schedule: ReturnType<typeof annealingSchedule> = [];
      try {
        schedule = annealingSchedule(m.tauMax, m.phase1.epochs);
      } catch {
        /* an invalid config never starts */
      }
      for (const s of schedule) {
        steps.push(
          step(`anneal-${s.step}`, 'anneal', `anneal T=${s.temperature}`, s.epochs, {
            temperature: s.temperature,
            phi: s.phi,
            offset: s.firstEpoch,
          }),
        );
      }
      steps.push(step('finetune', 'finetune', 'finetune', m.phase2.epochs));
      break;
    }
  }
  return steps;
}

function stepOf(
  steps: TimelineStep[],
  phase: PhaseName,
  epochInPhase?: number,
  temperature?: number,
): number {
  if (phase !== 'anneal') return steps.findIndex((s) => s.phase === phase);
  if (temperature !== undefined) {
    const i = steps.findIndex((s) => s.phase === 'anneal' && s.temperature === temperature);
    if (i >= 0) return i;
  }
  if (epochInPhase !== undefined) {
    return steps.findIndex(
      (s) => s.phase === 'anneal' && epochInPhase > s.offset && epochInPhase <= s.offset + s.epochs,
    );
  }
  return steps.findIndex((s) => s.phase === 'anneal');
}

/** Mark steps before `i` done and `i` running. */
function reach(steps: TimelineStep[], i: number): void {
  if (i < 0) return;
  for (let j = 0; j < i; j++) {
    if (steps[j].state !== 'done') {
      steps[j].state = 'done';
      steps[j].epoch = steps[j].epochs;
    }
  }
  if (steps[i].state !== 'done' || steps[i].epoch < steps[i].epochs) steps[i].state = 'running';
}

/**
 * Fold a run's events into its timeline. `gone`: the run has no process any more but never wrote
 * an end event (interrupted: killed, crashed, machine restarted); its running step shows stopped.
 */
export function phaseTimeline(events: readonly RunEvent[], gone = false): Timeline {
  let steps: TimelineStep[] = [];
  let tauMax: number | undefined;
  const t: Timeline = { steps };
  for (const e of events) {
    switch (e.type) {
      case 'run-started': {
        if (steps.length === 0) {
          steps = planSteps(e.config);
          t.steps = steps;
          tauMax = e.config.method.type === 'annealing' ? e.config.method.tauMax : undefined;
          t.tauMax = tauMax;
        }
        // A resume: whatever was stopped is going again.
        for (const s of steps) if (s.state === 'stopped' || s.state === 'failed') s.state = 'running';
        if (
          e.teacher.source === 'checkpoint' &&
          steps[0]?.phase === 'teacher' &&
          steps[0].state === 'pending'
        ) {
          steps[0].state = 'done';
          steps[0].note = 'checkpoint';
        }
        break;
      }
      case 'phase-started': {
        const i = stepOf(steps, e.phase, undefined, e.temperature);
        reach(steps, i);
        t.batch = undefined;
        if (e.temperature !== undefined) {
          t.temperature = e.temperature;
          t.phi = e.phi ?? (tauMax ? phiOf(e.temperature, tauMax) : undefined);
        } else if (e.phase === 'finetune') {
          t.temperature = undefined;
          t.phi = undefined;
        }
        break;
      }
      case 'epoch-ended': {
        const i = stepOf(steps, e.phase, e.epoch, e.temperature);
        if (i < 0) break;
        reach(steps, i);
        const s = steps[i];
        s.epoch = Math.min(s.epochs, Math.max(0, e.epoch - s.offset));
        if (s.epoch >= s.epochs) s.state = 'done';
        t.batch = undefined;
        if (e.temperature !== undefined) {
          t.temperature = e.temperature;
          t.phi = e.phi ?? (tauMax ? phiOf(e.temperature, tauMax) : undefined);
        }
        break;
      }
      case 'progress':
        t.batch = { batch: e.batch, batches: e.batches };
        if (e.temperature !== undefined) {
          t.temperature = e.temperature;
          t.phi = tauMax ? phiOf(e.temperature, tauMax) : t.phi;
        }
        break;
      case 'checkpoint-saved':
        if (e.reason === 'final' && (e.model === 'teacher' || e.model === 'assistant')) {
          const i = steps.findIndex((s) => s.phase === e.model);
          if (i >= 0) {
            steps[i].state = 'done';
            steps[i].epoch = steps[i].epochs;
          }
        }
        break;
      case 'run-completed':
        for (const s of steps) {
          s.state = 'done';
          s.epoch = s.epochs;
        }
        t.batch = undefined;
        break;
      case 'run-failed':
      case 'run-cancelled': {
        const running = steps.find((s) => s.state === 'running');
        if (running) running.state = e.type === 'run-failed' ? 'failed' : 'stopped';
        t.batch = undefined;
        break;
      }
      default:
        break;
    }
  }
  if (gone) {
    for (const s of steps) if (s.state === 'running') s.state = 'stopped';
    t.batch = undefined;
  }
  t.current = steps.find((s) => s.state === 'running' || s.state === 'stopped' || s.state === 'failed');
  return t;
}

/** "done", "epoch 2/4", "pending", ... as the step list shows it. */
export function stepStatusText(s: TimelineStep): string {
  switch (s.state) {
    case 'done':
      return s.note === 'checkpoint' ? 'done (checkpoint)' : 'done';
    case 'running':
      return `epoch ${Math.min(s.epoch + 1, s.epochs)}/${s.epochs}`;
    case 'stopped':
      return `stopped at epoch ${s.epoch}/${s.epochs}`;
    case 'failed':
      return `failed at epoch ${Math.min(s.epoch + 1, s.epochs)}/${s.epochs}`;
    case 'pending':
      return 'pending';
  }
}
