/** The extension side's data for the dashboard: the run list, the default comparison, thinning. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultComparison, runList, thinProgress } from '../../../extension/dashboard/dashboardData';
import type { RunState } from '../../../runner/protocol/runState';
import { EventBuilder } from '../../helpers/runEvents';

const run = (runId: string, status: RunState['status'], acc?: number): RunState => ({
  runId,
  runDir: `/runs/${runId}`,
  status,
  name: 'tiny',
  method: 'annealing',
  ...(acc !== undefined ? { summary: { student: { testAccuracy: acc } } as RunState['summary'] } : {}),
});

describe('dashboard data', () => {
  it('lists runs with their time and accuracy; the default comparison is the newest completed ones (at most six)', () => {
    const runs = [
      run('20261128-081502-tiny', 'running'),
      ...Array.from({ length: 7 }, (_, i) => run(`20261128-08000${i}-tiny`, 'completed', 0.9)),
    ];
    const items = runList(runs, []);
    assert.equal(items[0].label, 'tiny 08:15:02');
    assert.equal(items[1].studentAccuracy, 0.9);
    assert.deepEqual(
      defaultComparison(runs),
      runs.slice(1, 7).map((r) => r.runDir),
    );
  });

  it('thins progress events beyond the cap, keeping every other event', () => {
    const b = new EventBuilder().started().phase('teacher', 2);
    for (let i = 1; i <= 100; i++) b.progress('teacher', 1, 2, i, 100);
    b.epoch('teacher', 1, 2);
    const thin = thinProgress(b.events, 10);
    assert.equal(thin.filter((e) => e.type === 'progress').length, 10);
    assert.equal(thin.filter((e) => e.type !== 'progress').length, 3);
    assert.equal(thinProgress(b.events, 1000).length, b.events.length);
  });
});
