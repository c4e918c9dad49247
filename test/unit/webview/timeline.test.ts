/** The phase timeline: planned steps from the config, states folded from events. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExperimentConfig } from '../../../runner/protocol/configTypes';
import { phaseTimeline, planSteps, stepStatusText } from '../../../webview/shaping/timeline';
import { annealingConfig, EventBuilder } from '../../helpers/runEvents';

const states = (events: EventBuilder): string =>
  phaseTimeline(events.events)
    .steps.map((s) => `${s.id}:${s.state}:${s.epoch}/${s.epochs}`)
    .join(' ');

describe('planSteps', () => {
  it('annealing: teacher, one step per temperature from tauMax down to 1, finetune', () => {
    const steps = planSteps(annealingConfig);
    assert.deepEqual(
      steps.map((s) => s.label),
      ['teacher', 'anneal T=2', 'anneal T=1', 'finetune'],
    );
    assert.deepEqual(
      steps.map((s) => s.phi),
      [undefined, 0.5, 1, undefined],
    );
    assert.deepEqual(
      steps.map((s) => s.offset),
      [0, 0, 2, 0],
    );
  });

  it('scratch, kd and takd have their own steps; a checkpoint teacher is noted', () => {
    const base = { ...annealingConfig, teacher: { checkpoint: 't/' } } as ExperimentConfig;
    const opt = { type: 'adam', learningRate: 0.001 };
    assert.deepEqual(
      planSteps({ ...base, method: { type: 'scratch', epochs: 3, optimizer: opt } } as ExperimentConfig).map(
        (s) => s.id,
      ),
      ['teacher', 'train'],
    );
    assert.equal(planSteps(base)[0].note, 'checkpoint');
    assert.deepEqual(
      planSteps({
        ...base,
        method: { type: 'kd', epochs: 3, optimizer: opt, temperature: 4, alpha: 0.5 },
      } as ExperimentConfig).map((s) => s.label),
      ['teacher', 'kd T=4'],
    );
    const takd = planSteps({
      ...base,
      method: {
        type: 'takd',
        epochs: 3,
        optimizer: opt,
        temperature: 4,
        alpha: 0.5,
        assistant: { model: { type: 'mlp', hidden: [16] }, epochs: 2 },
      },
    } as ExperimentConfig);
    assert.deepEqual(
      takd.map((s) => `${s.id}:${s.epochs}`),
      ['teacher:0', 'assistant:2', 'kd:3'],
    );
  });
});

describe('phaseTimeline', () => {
  it('follows a run step by step', () => {
    const b = new EventBuilder().started();
    assert.equal(
      states(b),
      'teacher:pending:0/2 anneal-0:pending:0/2 anneal-1:pending:0/2 finetune:pending:0/1',
    );
    b.phase('teacher', 2).epoch('teacher', 1, 2);
    assert.equal(
      states(b),
      'teacher:running:1/2 anneal-0:pending:0/2 anneal-1:pending:0/2 finetune:pending:0/1',
    );
    b.epoch('teacher', 2, 2).phase('anneal', 2, { temperature: 2, phi: 0.5, step: 0, steps: 2 });
    let t = phaseTimeline(b.events);
    assert.equal(
      states(b),
      'teacher:done:2/2 anneal-0:running:0/2 anneal-1:pending:0/2 finetune:pending:0/1',
    );
    assert.equal(t.current?.id, 'anneal-0');
    assert.equal(t.temperature, 2);
    assert.equal(t.phi, 0.5);
    assert.equal(stepStatusText(t.current!), 'epoch 1/2');
    b.epoch('anneal', 1, 4, { temperature: 2, phi: 0.5 })
      .epoch('anneal', 2, 4, { temperature: 2, phi: 0.5 })
      .phase('anneal', 2, { temperature: 1, phi: 1, step: 1, steps: 2 })
      .epoch('anneal', 3, 4, { temperature: 1, phi: 1 });
    t = phaseTimeline(b.events);
    assert.equal(states(b), 'teacher:done:2/2 anneal-0:done:2/2 anneal-1:running:1/2 finetune:pending:0/1');
    assert.equal(stepStatusText(t.current!), 'epoch 2/2');
    assert.equal(t.phi, 1);
  });

  it('a completed run is done everywhere', () => {
    const t = phaseTimeline(new EventBuilder().fullAnnealing().completed().events);
    assert.ok(t.steps.every((s) => s.state === 'done' && s.epoch === s.epochs));
    assert.equal(t.current, undefined);
  });

  it('a cancelled run shows where it stopped; resuming makes it run again', () => {
    const b = new EventBuilder().started().phase('teacher', 2).epoch('teacher', 1, 2).cancelled();
    const t = phaseTimeline(b.events);
    assert.equal(t.current?.state, 'stopped');
    assert.equal(stepStatusText(t.current!), 'stopped at epoch 1/2');
    b.started().phase('teacher', 2);
    assert.equal(phaseTimeline(b.events).current?.state, 'running');
  });

  it('an interrupted run (no end event, no process) shows its running step stopped', () => {
    const b = new EventBuilder()
      .started()
      .phase('teacher', 2)
      .epoch('teacher', 1, 2)
      .progress('teacher', 2, 2, 1, 16);
    assert.equal(phaseTimeline(b.events).current?.state, 'running');
    const t = phaseTimeline(b.events, true);
    assert.equal(t.current?.state, 'stopped');
    assert.equal(t.batch, undefined);
  });

  it('progress events give the batch inside the running epoch', () => {
    const b = new EventBuilder().started().phase('teacher', 2).progress('teacher', 1, 2, 3, 16);
    assert.deepEqual(phaseTimeline(b.events).batch, { batch: 3, batches: 16 });
  });

  it('a teacher loaded from a checkpoint is done at once', () => {
    const b = new EventBuilder({
      ...annealingConfig,
      teacher: { checkpoint: 't/' },
    } as ExperimentConfig).started({ teacher: { type: 'mlp', params: 1, source: 'checkpoint' } });
    const t = phaseTimeline(b.events);
    assert.equal(t.steps[0].state, 'done');
    assert.equal(stepStatusText(t.steps[0]), 'done (checkpoint)');
  });
});
