/** The extension's pure sweep bookkeeping, the launcher flag, and the Slurm end rule of runState. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent, SweepEvent } from '../../../runner/protocol';
import { hasSweepBlock, launcherArgs } from '../../../extension/runs/launcher';
import { applyEvents, initialRunState, type RunState } from '../../../runner/protocol/runState';
import {
  applySweepEvents,
  sweepDescription,
  sweepStatus,
  type SweepMember,
  type SweepState,
} from '../../../runner/protocol/sweepState';

const T = '2026-01-01T00:00:00.000Z';
const member = (i: number, method: 'annealing' | 'kd', seed: number): SweepMember => ({
  id: `${method}-s${seed}`,
  index: i,
  method,
  seed,
  overrides: {},
  runDir: `/s/${method}-s${seed}`,
});
const done = (acc: number): RunState => ({
  runId: 'r',
  runDir: '/r',
  status: 'completed',
  summary: { student: { testAccuracy: acc } } as RunState['summary'],
});

describe('sweepState', () => {
  const members = [
    member(0, 'annealing', 1),
    member(1, 'kd', 1),
    member(2, 'annealing', 2),
    member(3, 'kd', 2),
  ];

  it('describes a sweep: runs, done, failed, running, the best method as mean±std over seeds', () => {
    const states = [
      done(0.97),
      done(0.95),
      done(0.972),
      { runId: 'x', runDir: '/x', status: 'failed' } as RunState,
    ];
    assert.equal(sweepDescription(members, states), '4 runs · 3 done · 1 failed · annealing 97.1±0.1 best');
    assert.equal(sweepDescription(members, [undefined, undefined, undefined, undefined]), '4 runs · 0 done');
    const running = { runId: 'y', runDir: '/y', status: 'running' } as RunState;
    assert.equal(
      sweepDescription(members, [running, undefined, undefined, undefined]),
      '4 runs · 0 done · 1 running',
    );
  });

  it('a sweep is running while a member trains or its orchestrator lives; stopped (resumable) otherwise until all complete', () => {
    const s: SweepState = { sweepDir: '/s', sweepId: 's', name: 'n', configPath: '/c', members };
    const running = { runId: 'y', runDir: '/y', status: 'running' } as RunState;
    assert.equal(sweepStatus(s, [running, undefined, undefined, undefined], false), 'running');
    assert.equal(sweepStatus(s, [undefined, undefined, undefined, undefined], true), 'starting');
    assert.equal(sweepStatus(s, [done(0.9), undefined, undefined, undefined], false), 'stopped');
    assert.equal(sweepStatus(s, [done(0.9), done(0.9), done(0.9), done(0.9)], false), 'completed');
  });

  it('follows the orchestrator through sweep-started and sweep-ended', () => {
    const s: SweepState = { sweepDir: '/s', sweepId: 's', name: 'n', configPath: '/c', members };
    const started = {
      v: 1,
      time: T,
      type: 'sweep-started',
      sweepDir: '/s',
      name: 'n',
      members: 4,
      toRun: 4,
      concurrency: 2,
      resumed: false,
      pid: 42,
    } as SweepEvent;
    const ended = {
      v: 1,
      time: T,
      type: 'sweep-ended',
      status: 'cancelled',
      counts: {},
      seconds: 1,
    } as unknown as SweepEvent;
    assert.equal(applySweepEvents(s, [started]).orchestratorPid, 42);
    const after = applySweepEvents(s, [started, ended]);
    assert.equal(after.orchestratorPid, undefined);
    assert.equal(after.ended, 'cancelled');
  });
});

describe('launcher', () => {
  it('passes the setting as --launcher unless the config has its own launcher block (which wins)', () => {
    assert.deepEqual(launcherArgs('// c\n{ "name": "a" }', 'slurm'), ['--launcher', 'slurm']);
    assert.deepEqual(launcherArgs('{ "name": "a" }', 'local'), ['--launcher', 'local']);
    assert.deepEqual(launcherArgs('{ "name": "a", "launcher": { "type": "local" } }', 'slurm'), []);
    assert.deepEqual(launcherArgs('{ "launcher": { "type": "slurm", "partition": "gpu" } }', 'local'), []);
    assert.deepEqual(launcherArgs(undefined, 'slurm'), ['--launcher', 'slurm']);
  });

  it('sees a sweep block', () => {
    assert.equal(hasSweepBlock('// x\n{ "sweep": { "seeds": [1, 2] } }'), true);
    assert.equal(hasSweepBlock('{ "name": "a" }'), false);
    assert.equal(hasSweepBlock('{ "sweep": null }'), false);
  });
});

describe('runState: a Slurm job that ended', () => {
  const submitted = {
    v: 1,
    time: T,
    type: 'job-submitted',
    launcher: 'slurm',
    jobId: '7',
    runDir: '/r',
    configPath: '/c',
    script: 's',
    output: 'o',
    resume: false,
  } as RunEvent;
  const final = (state: string, reason?: string): RunEvent =>
    ({
      v: 1,
      time: T,
      type: 'job-state',
      launcher: 'slurm',
      jobId: '7',
      state,
      reason,
      final: true,
      source: 'follower',
    }) as RunEvent;

  it("is failed (with Slurm's reason) or cancelled at its final job state, as the runner settles it", () => {
    const failed = applyEvents(initialRunState('r', '/r'), [
      submitted,
      final('OUT_OF_MEMORY', 'OutOfMemory'),
    ]);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /Slurm job 7 ended OUT_OF_MEMORY \(OutOfMemory\)/);
    assert.equal(
      applyEvents(initialRunState('r', '/r'), [submitted, final('CANCELLED')]).status,
      'cancelled',
    );
  });

  it("keeps the run's own end when the final job state comes after it", () => {
    const completed = {
      v: 1,
      time: T,
      type: 'run-completed',
      summary: { student: { testAccuracy: 0.9 }, teacher: { testAccuracy: 0.95 } },
    } as unknown as RunEvent;
    const s = applyEvents(initialRunState('r', '/r'), [submitted, completed, final('COMPLETED', 'None')]);
    assert.equal(s.status, 'completed');
    assert.equal(s.job?.final, true);
  });
});
