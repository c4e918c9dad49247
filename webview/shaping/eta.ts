/**
 * Elapsed time and an estimate of what remains, from the measured samples per second. Pure.
 *
 * Elapsed: the wall time of each session (run-started -> its last event, or now while it runs),
 * summed over resumes. Remaining: the samples still to train (the rest of the running epoch plus
 * every epoch of the steps after it, times the training-set size) divided by the recent rate of
 * the model that will train them: the student's rate once a student phase was measured, else the
 * current one (the teacher is slower than its student, so this errs long early on).
 */
import type { PhaseName, RunEvent } from '../../runner/protocol/events';
import type { Timeline } from './timeline';

export interface Eta {
  elapsedSeconds: number;
  /** null: unknown (nothing measured yet) or not applicable (the run is over). */
  remainingSeconds: number | null;
  /** The recent measured rate (samples/s), if any. */
  samplesPerSecond: number | null;
  remainingSamples: number;
}

const TERMINAL = new Set(['run-completed', 'run-failed', 'run-cancelled']);

/** Mean of the last few rates measured in `phase` (epoch ends and progress windows). */
function recentRate(events: readonly RunEvent[], phases: readonly PhaseName[], last = 5): number | null {
  const rates: number[] = [];
  for (let i = events.length - 1; i >= 0 && rates.length < last; i--) {
    const e = events[i];
    if (
      (e.type === 'epoch-ended' || e.type === 'progress') &&
      phases.includes(e.phase) &&
      e.samplesPerSecond > 0 &&
      Number.isFinite(e.samplesPerSecond)
    ) {
      rates.push(e.samplesPerSecond);
    }
  }
  return rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : null;
}

export function elapsedSeconds(events: readonly RunEvent[], now: number): number {
  let total = 0;
  let start: number | undefined;
  let last: number | undefined;
  for (const e of events) {
    const t = Date.parse(e.time);
    if (!Number.isFinite(t)) continue;
    if (e.type === 'run-started') {
      if (start !== undefined && last !== undefined) total += last - start;
      start = t;
    }
    last = t;
    if (TERMINAL.has(e.type) && start !== undefined) {
      total += t - start;
      start = undefined;
    }
  }
  if (start !== undefined) total += Math.max(now, last ?? now) - start;
  return Math.max(0, total / 1000);
}

export function estimate(events: readonly RunEvent[], timeline: Timeline, now: number): Eta {
  const elapsed = elapsedSeconds(events, now);
  const lastEvent = events[events.length - 1];
  let trainSize = 0;
  for (const e of events) if (e.type === 'run-started') trainSize = e.data.train;
  const running = timeline.steps.findIndex((s) => s.state === 'running');
  if (!lastEvent || TERMINAL.has(lastEvent.type) || running < 0 || trainSize === 0) {
    const rate = recentRate(events, ['teacher', 'assistant', 'train', 'kd', 'anneal', 'finetune']);
    return { elapsedSeconds: elapsed, remainingSeconds: null, samplesPerSecond: rate, remainingSamples: 0 };
  }
  const current = timeline.steps[running];
  const batchFraction =
    timeline.batch && timeline.batch.batches > 0 ? timeline.batch.batch / timeline.batch.batches : 0;
  const currentLeft = Math.max(0, current.epochs - current.epoch - batchFraction) * trainSize;
  const currentRate = recentRate(events, [current.phase]);
  const studentRate = recentRate(events, ['train', 'kd', 'anneal', 'finetune']);
  let seconds = currentRate ? currentLeft / currentRate : NaN;
  let samples = currentLeft;
  for (const s of timeline.steps.slice(running + 1)) {
    if (s.state === 'done') continue;
    const n = (s.epochs - s.epoch) * trainSize;
    samples += n;
    const rate =
      (s.phase === current.phase ? currentRate : null) ??
      (s.phase === 'assistant' ? null : studentRate) ??
      currentRate;
    seconds += rate ? n / rate : NaN;
  }
  return {
    elapsedSeconds: elapsed,
    remainingSeconds: Number.isFinite(seconds) ? seconds : null,
    samplesPerSecond: currentRate,
    remainingSamples: samples,
  };
}

/** 75 s -> "1:15", 3725 s -> "1:02:05"; null -> "–". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}
