/** The extension's pure run bookkeeping: folding events, tailing events.jsonl, one-line results. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../../runner/protocol';
import { EventTail as EventFileReader } from '../../../runner/protocol/eventTail';
import { applyEvents, initialRunState } from '../../../runner/protocol/runState';
import { formatAgo, progressText, resultText } from '../../../extension/inline/resultFormat';

const T = '2026-01-01T00:00:00.000Z';
const started = {
  v: 1,
  time: T,
  type: 'run-started',
  runId: 'r1',
  runDir: '/runs/r1',
  configPath: '/c.akd.json',
  config: { name: 'exp', method: { type: 'annealing', tauMax: 4 } },
  backend: 'wasm',
  teacher: { type: 'cnn', params: 1, source: 'trained' },
  student: { type: 'mlp', params: 1, source: 'trained' },
  data: { train: 1, validation: 1, test: 1, inputShape: [28, 28, 1], classes: 10 },
  pid: 123,
} as unknown as RunEvent;
const anneal = {
  v: 1,
  time: T,
  type: 'phase-started',
  phase: 'anneal',
  epochs: 2,
  temperature: 3,
  step: 1,
  steps: 4,
} as RunEvent;
const epoch = {
  v: 1,
  time: T,
  type: 'epoch-ended',
  phase: 'anneal',
  epoch: 3,
  epochs: 8,
  temperature: 3,
  loss: 1,
  trainAccuracy: 0.5,
  valAccuracy: 0.6,
  samplesPerSecond: 1,
  lr: 0.1,
  seconds: 1,
} as RunEvent;
const completed = {
  v: 1,
  time: '2026-01-01T00:03:00.000Z',
  type: 'run-completed',
  summary: { method: 'annealing', student: { testAccuracy: 0.9712 }, teacher: { testAccuracy: 0.99 } },
} as unknown as RunEvent;

describe('runState', () => {
  it('follows a run from start to completion', () => {
    let s = applyEvents(initialRunState('r1', '/runs/r1'), [started, anneal]);
    assert.equal(s.status, 'running');
    assert.equal(s.pid, 123);
    assert.equal(s.tauMax, 4);
    assert.equal(progressText(s), 'anneal T=3 · epoch 0/2');
    s = applyEvents(s, [epoch]);
    assert.equal(progressText(s), 'anneal T=3 · epoch 3/8');
    assert.equal(s.lastValAccuracy, 0.6);
    s = applyEvents(s, [completed]);
    assert.equal(s.status, 'completed');
    assert.equal(
      resultText(s, Date.parse('2026-01-01T00:06:00.000Z')),
      'student 97.1% · teacher 99.0% · annealing, 3 min ago',
    );
  });

  it('keeps the evaluation protocol and how teacher targets are made (the views label reference runs)', () => {
    const held = applyEvents(initialRunState('r1', '/runs/r1'), [started]);
    assert.equal(held.protocol, 'held-out');
    const ref = applyEvents(initialRunState('r1', '/runs/r1'), [
      { ...started, protocol: 'reference', teacherTargets: 'per-batch' } as RunEvent,
      { ...epoch, valAccuracy: null, testAccuracy: 0.7 } as RunEvent,
    ]);
    assert.equal(ref.protocol, 'reference');
    assert.equal(ref.teacherTargets, 'per-batch');
    assert.equal(ref.lastValAccuracy, 0.7, 'no validation split: its per-epoch test accuracy');
    // An old run-started without the field: the config says it.
    const fromConfig = applyEvents(initialRunState('r1', '/runs/r1'), [
      {
        ...started,
        config: { name: 'exp', method: { type: 'scratch' }, evaluation: { protocol: 'reference' } },
      } as unknown as RunEvent,
    ]);
    assert.equal(fromConfig.protocol, 'reference');
  });

  it('shows a Slurm run as queued until its job starts', () => {
    const submitted = {
      v: 1,
      time: T,
      type: 'job-submitted',
      launcher: 'slurm',
      jobId: '123',
      runDir: '/runs/r1',
      configPath: '/c.akd.json',
      script: 'job.sh',
      output: 'slurm-%j.out',
      resume: false,
    } as RunEvent;
    const pending = {
      v: 1,
      time: T,
      type: 'job-state',
      launcher: 'slurm',
      jobId: '123',
      state: 'PENDING',
      reason: 'Priority',
      source: 'follower',
    } as RunEvent;
    const s = applyEvents(initialRunState('r1', '/runs/r1'), [submitted, pending]);
    assert.equal(s.status, 'starting');
    assert.equal(progressText(s), 'Slurm job 123 pending (Priority)');
    assert.equal(applyEvents(s, [started]).status, 'running');
  });

  it('formats ages', () => {
    const now = Date.parse(T);
    assert.equal(formatAgo(T, now + 10_000), 'just now');
    assert.equal(formatAgo(T, now + 2 * 3600_000), '2 h ago');
    assert.equal(formatAgo(T, now + 72 * 3600_000), '3 days ago');
  });
});

describe('EventFileReader', () => {
  it('returns only new complete lines, waiting for a line still being written', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-reader-'));
    const file = path.join(dir, 'events.jsonl');
    try {
      const reader = new EventFileReader(file);
      assert.deepEqual(reader.readNew(), [], 'no file yet');
      fs.writeFileSync(file, JSON.stringify(started) + '\n' + JSON.stringify(anneal).slice(0, 20));
      assert.deepEqual(
        reader.readNew().map((e) => e.type),
        ['run-started'],
      );
      fs.appendFileSync(file, JSON.stringify(anneal).slice(20) + '\n');
      assert.deepEqual(
        reader.readNew().map((e) => e.type),
        ['phase-started'],
      );
      assert.deepEqual(reader.readNew(), []);
      fs.writeFileSync(file, JSON.stringify(completed) + '\n'); // replaced by a shorter file
      assert.deepEqual(
        reader.readNew().map((e) => e.type),
        ['run-completed'],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
