/** Events -> chart series: epoch axis over phases, phase spans, temperature marks, Phi(T), throughput. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunSeries, studentCurve } from '../../../runner/protocol/series';
import { EventBuilder } from '../../helpers/runEvents';

describe('RunSeries', () => {
  it('puts every epoch of every phase on one axis, with spans and temperature marks', () => {
    const s = new RunSeries(new EventBuilder().fullAnnealing().completed().events);
    assert.deepEqual(
      s.points.map((p) => p.x),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      s.points.map((p) => p.phase),
      ['teacher', 'teacher', 'anneal', 'anneal', 'anneal', 'anneal', 'finetune'],
    );
    assert.deepEqual(s.spans, [
      { phase: 'teacher', from: 1, to: 2 },
      { phase: 'anneal', from: 3, to: 6 },
      { phase: 'finetune', from: 7, to: 7 },
    ]);
    assert.deepEqual(s.marks, [
      { x: 3, temperature: 2, phi: 0.5 },
      { x: 5, temperature: 1, phi: 1 },
    ]);
    assert.equal(s.loss().length, 7);
    assert.equal(s.valAccuracy()[0].y, 0.61);
  });

  it('Phi(T) over time is a step function in seconds since the start', () => {
    const s = new RunSeries(new EventBuilder().fullAnnealing().events);
    assert.deepEqual(
      s.phi.map((p) => p.y),
      [0.5, 0.5, 0.5, 1, 1, 1],
    );
    assert.equal(s.phi[0].x, 20); // two teacher epochs of 10 s each
    assert.ok(s.phi.every((p, i) => i === 0 || p.x >= s.phi[i - 1].x));
  });

  it('throughput takes progress windows and epoch ends', () => {
    const b = new EventBuilder()
      .started()
      .phase('teacher', 2)
      .progress('teacher', 1, 2, 5, 10, 80)
      .epoch('teacher', 1, 2, {}, 90);
    const s = new RunSeries(b.events);
    assert.deepEqual(
      s.throughput.map((p) => p.y),
      [80, 90],
    );
  });

  it('add() reports changes and appends; a repeated epoch (resume) replaces and bumps the version', () => {
    const b = new EventBuilder().started().phase('teacher', 2).epoch('teacher', 1, 2);
    const s = new RunSeries(b.events);
    assert.equal(s.version, 0);
    b.cancelled().started().phase('teacher', 2).epoch('teacher', 1, 2, { loss: 0.25 }).epoch('teacher', 2, 2);
    const changed = b.events.slice(3).map((e) => s.add(e));
    assert.deepEqual(changed, [false, false, false, true, true]);
    assert.equal(s.points.length, 2);
    assert.equal(s.points[0].loss, 0.25);
    assert.equal(s.version, 1);
  });

  it('a validation-less run has null accuracy points (gaps, not zeros)', () => {
    const s = new RunSeries(
      new EventBuilder().started().phase('teacher', 1).epoch('teacher', 1, 1, { valAccuracy: null }).events,
    );
    assert.deepEqual(s.valAccuracy(), [{ x: 1, y: null }]);
  });

  it("lossOf() keeps each phase's loss on its own series (teacher CE, anneal MSE, fine-tune CE)", () => {
    const s = new RunSeries(new EventBuilder().fullAnnealing().events);
    const ce = s.lossOf(['teacher', 'train', 'finetune']).map((p) => p.y !== null);
    const mse = s.lossOf(['anneal']).map((p) => p.y !== null);
    assert.deepEqual(ce, [true, true, false, false, false, false, true]);
    assert.deepEqual(
      mse,
      ce.map((c) => !c),
    );
  });

  it('a reference-protocol run plots its per-epoch test accuracy (its validation accuracy is null)', () => {
    const events = new EventBuilder()
      .started({ protocol: 'reference' })
      .phase('train', 2)
      .epoch('train', 1, 2, { valAccuracy: null, testAccuracy: 0.8 })
      .epoch('train', 2, 2, { valAccuracy: null, testAccuracy: 0.85 }).events;
    const s = new RunSeries(events);
    assert.deepEqual(
      s.testAccuracy().map((p) => p.y),
      [0.8, 0.85],
    );
    assert.deepEqual(
      studentCurve(events).map((p) => p.y),
      [0.8, 0.85],
    );
  });
});

describe('studentCurve', () => {
  it('keeps the student phases only, numbered from 1', () => {
    const curve = studentCurve(new EventBuilder().fullAnnealing().events);
    assert.deepEqual(
      curve.map((p) => p.x),
      [1, 2, 3, 4, 5],
    );
    assert.equal(curve[0].y, 0.61);
  });
});
