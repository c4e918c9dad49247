/** Elapsed time over sessions and the remaining time from the measured rates. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { elapsedSeconds, estimate, formatDuration } from '../../../webview/shaping/eta';
import { phaseTimeline } from '../../../webview/shaping/timeline';
import { EventBuilder } from '../../helpers/runEvents';

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('eta', () => {
  it('elapsed: wall time while running, and the sum of sessions after a resume', () => {
    const b = new EventBuilder().started().phase('teacher', 2).epoch('teacher', 1, 2);
    assert.equal(elapsedSeconds(b.events, T0 + 25_000), 25);
    b.cancelled(); // at t = 10 s
    assert.equal(elapsedSeconds(b.events, T0 + 999_000), 10);
    b.started();
    assert.equal(elapsedSeconds(b.events, T0 + 30_000), 30);
  });

  it('remaining: the rest of the running step at its rate, later student steps at the student rate', () => {
    // 1000 training samples; teacher at 50 samples/s (epoch 1 of 2 done), no student rate yet.
    const b = new EventBuilder().started().phase('teacher', 2).epoch('teacher', 1, 2, {}, 50);
    let eta = estimate(b.events, phaseTimeline(b.events), T0 + 10_000);
    // teacher: 1 epoch left; anneal 2 + 2 epochs; finetune 1: 6 epochs = 6000 samples at 50/s.
    assert.equal(eta.remainingSamples, 6000);
    assert.equal(eta.remainingSeconds, 120);
    assert.equal(eta.samplesPerSecond, 50);
    // Student phases measured at 200/s: the rest of phase 1 and finetune use it.
    b.epoch('teacher', 2, 2, {}, 50)
      .phase('anneal', 2, { temperature: 2, phi: 0.5, step: 0, steps: 2 })
      .epoch('anneal', 1, 4, { temperature: 2, phi: 0.5 }, 200);
    eta = estimate(b.events, phaseTimeline(b.events), T0 + 30_000);
    assert.equal(eta.remainingSamples, 4000);
    assert.equal(eta.remainingSeconds, 20);
  });

  it('counts the batches already done in the running epoch', () => {
    const b = new EventBuilder().started().phase('teacher', 2).progress('teacher', 1, 2, 5, 10, 100);
    const eta = estimate(b.events, phaseTimeline(b.events), T0 + 5_000);
    assert.equal(eta.remainingSamples, 1500 + 5000);
  });

  it('no estimate before anything was measured, nor after the end', () => {
    const b = new EventBuilder().started().phase('teacher', 2);
    assert.equal(estimate(b.events, phaseTimeline(b.events), T0).remainingSeconds, null);
    const done = new EventBuilder().fullAnnealing().completed();
    assert.equal(estimate(done.events, phaseTimeline(done.events), T0 + 1e6).remainingSeconds, null);
  });

  it('formats durations', () => {
    assert.equal(formatDuration(75), '1:15');
    assert.equal(formatDuration(3725), '1:02:05');
    assert.equal(formatDuration(null), '–');
  });
});
