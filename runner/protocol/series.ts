/**
 * Run events -> chart series, incrementally: `RunSeries.add` folds one event at a time, so the
 * webview appends the new points to its charts instead of rebuilding them. Pure (no DOM).
 *
 * x of the epoch charts: the run's epoch counter over all phases (1, 2, ...), so the teacher's
 * epochs, each temperature step and fine-tuning sit side by side. x of the time charts: seconds
 * since the run started.
 */
import type { PhaseName, RunEvent } from './events';

export interface XY {
  x: number;
  y: number | null;
}

export interface EpochPoint {
  /** Position on the epoch axis (1-based, over all phases). */
  x: number;
  phase: PhaseName;
  /** Epoch within its phase (anneal: over all of phase 1), 1-based. */
  epoch: number;
  epochs: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy: number | null;
  /** Reference protocol: test accuracy after the epoch (its epochs have no validation accuracy). */
  testAccuracy?: number;
  temperature?: number;
  phi?: number;
  samplesPerSecond: number;
  lr: number;
  seconds: number;
  /** Seconds since the run started when the epoch ended. */
  t: number;
}

/** A phase's stretch of the epoch axis, for shading: [from, to] inclusive x. */
export interface PhaseSpan {
  phase: PhaseName;
  from: number;
  to: number;
}

/** Where a temperature step starts on the epoch axis. */
export interface TemperatureMark {
  x: number;
  temperature: number;
  phi?: number;
}

/** Phases that train the student (the comparison's curves come from these). */
export const STUDENT_PHASES: readonly PhaseName[] = ['train', 'kd', 'anneal', 'finetune'];

const key = (phase: PhaseName, epoch: number): string => `${phase}:${epoch}`;

export class RunSeries {
  readonly points: EpochPoint[] = [];
  readonly spans: PhaseSpan[] = [];
  readonly marks: TemperatureMark[] = [];
  /** Phi(T) over time (a step function: one point where each temperature starts and at each epoch end). */
  readonly phi: XY[] = [];
  /** Samples per second over time (progress windows and whole epochs). */
  readonly throughput: XY[] = [];
  /**
   * Bumped when points were replaced rather than appended (a resumed run repeats the epochs after
   * its checkpoint): consumers that appended incrementally must reset.
   */
  version = 0;
  private readonly index = new Map<string, number>();
  private t0: number | undefined;

  constructor(events: readonly RunEvent[] = []) {
    for (const e of events) this.add(e);
  }

  private seconds(time: string): number {
    const ms = Date.parse(time);
    if (!Number.isFinite(ms)) return 0;
    this.t0 ??= ms;
    return Math.max(0, (ms - this.t0) / 1000);
  }

  /** Fold one event; true when a series changed. */
  add(e: RunEvent): boolean {
    switch (e.type) {
      case 'run-started':
        this.seconds(e.time);
        return false;
      case 'phase-started':
        if (e.phase === 'anneal' && typeof e.temperature === 'number') {
          const t = this.seconds(e.time);
          this.phi.push({ x: t, y: e.phi ?? null });
          return true;
        }
        return false;
      case 'progress':
        this.throughput.push({ x: this.seconds(e.time), y: e.samplesPerSecond });
        return true;
      case 'epoch-ended':
        this.addEpoch(e);
        return true;
      default:
        return false;
    }
  }

  private addEpoch(e: Extract<RunEvent, { type: 'epoch-ended' }>): void {
    const t = this.seconds(e.time);
    const k = key(e.phase, e.epoch);
    const existing = this.index.get(k);
    const x = existing !== undefined ? this.points[existing].x : this.points.length + 1;
    const point: EpochPoint = {
      x,
      phase: e.phase,
      epoch: e.epoch,
      epochs: e.epochs,
      loss: e.loss,
      trainAccuracy: e.trainAccuracy,
      valAccuracy: e.valAccuracy,
      samplesPerSecond: e.samplesPerSecond,
      lr: e.lr,
      seconds: e.seconds,
      t,
      ...(e.testAccuracy !== undefined ? { testAccuracy: e.testAccuracy } : {}),
      ...(e.temperature !== undefined ? { temperature: e.temperature } : {}),
      ...(e.phi !== undefined ? { phi: e.phi } : {}),
    };
    this.throughput.push({ x: t, y: e.samplesPerSecond });
    if (e.phi !== undefined) this.phi.push({ x: t, y: e.phi });
    if (existing !== undefined) {
      // A resumed run logs the epochs after its checkpoint again: the later one wins.
      this.points[existing] = point;
      this.version++;
      return;
    }
    this.index.set(k, this.points.length);
    this.points.push(point);
    const span = this.spans[this.spans.length - 1];
    if (span && span.phase === e.phase) span.to = x;
    else this.spans.push({ phase: e.phase, from: x, to: x });
    const prev = this.points[this.points.length - 2];
    if (
      e.temperature !== undefined &&
      (!prev || prev.phase !== e.phase || prev.temperature !== e.temperature)
    ) {
      this.marks.push({ x, temperature: e.temperature, ...(e.phi !== undefined ? { phi: e.phi } : {}) });
    }
  }

  loss(): XY[] {
    return this.points.map((p) => ({ x: p.x, y: p.loss }));
  }
  valAccuracy(): XY[] {
    return this.points.map((p) => ({ x: p.x, y: p.valAccuracy }));
  }
  trainAccuracy(): XY[] {
    return this.points.map((p) => ({ x: p.x, y: p.trainAccuracy }));
  }
  testAccuracy(): XY[] {
    return this.points.map((p) => ({ x: p.x, y: p.testAccuracy ?? null }));
  }
  /** The loss of the phases in `phases` only (null elsewhere): each loss on its own series and scale. */
  lossOf(phases: readonly PhaseName[]): XY[] {
    return this.points.map((p) => ({ x: p.x, y: phases.includes(p.phase) ? p.loss : null }));
  }
}

/**
 * The student's validation accuracy per student epoch (1, 2, ...) over its phases, for overlaying
 * runs of different methods (the teacher's and assistant's epochs left out). Reference-protocol runs
 * (no validation split) give their test accuracy per epoch; otherwise falls back to the
 * training accuracy when the run has no validation split. A resumed run's repeated epochs: the last wins.
 */
export function studentCurve(events: readonly RunEvent[]): XY[] {
  const byKey = new Map<string, number | null>();
  for (const e of events) {
    if (e.type !== 'epoch-ended' || !STUDENT_PHASES.includes(e.phase)) continue;
    byKey.set(key(e.phase, e.epoch), e.valAccuracy ?? e.testAccuracy ?? e.trainAccuracy);
  }
  return [...byKey.values()].map((y, i) => ({ x: i + 1, y }));
}
