/** The extension side's data for the dashboard: the run list, the default comparison, thinning. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  comparisonOf,
  defaultComparison,
  runList,
  thinProgress,
} from '../../../extension/dashboard/dashboardData';
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

  it('compares run folders read from disk; a folder that is not a run is reported, not thrown', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-dash-data-'));
    try {
      const dir = path.join(root, '20261128-081502-tiny');
      fs.mkdirSync(dir);
      const b = new EventBuilder().fullAnnealing();
      b.events.push({
        v: 1,
        time: b.events[b.events.length - 1].time,
        type: 'run-completed',
        summary: {
          runId: '20261128-081502-tiny',
          name: 'tiny',
          status: 'completed',
          backend: 'wasm',
          method: 'annealing',
          teacher: { type: 'mlp', params: 25450, source: 'trained', testAccuracy: 0.97 },
          student: { type: 'mlp', params: 6370, source: 'trained', testAccuracy: 0.91 },
          compression: 4,
          phases: [],
          startedAt: b.events[0].time,
          seconds: 70,
        },
      } as never);
      fs.writeFileSync(
        path.join(dir, 'events.jsonl'),
        b.events.map((e) => JSON.stringify(e)).join('\n') + '\n',
      );
      fs.writeFileSync(
        path.join(dir, 'summary.json'),
        JSON.stringify((b.events[b.events.length - 1] as { summary: unknown }).summary),
      );
      const data = comparisonOf([dir, path.join(root, 'nope')]);
      assert.equal(data.runs.length, 1);
      assert.equal(data.runs[0].finalAccuracy, 0.91);
      assert.equal(data.runs[0].curve.length, 5);
      assert.equal(data.errors.length, 1);
      assert.match(data.errors[0], /nope: not a run or sweep folder/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
