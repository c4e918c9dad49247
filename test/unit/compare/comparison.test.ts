/** The comparison's rows and its mean ± std per method (runner/compare's grouping and statistics). */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { groupRuns, type RunRow } from '../../../runner/compare/collect';
import type { RunSummary } from '../../../runner/protocol/events';
import { buildComparison, comparisonOf } from '../../../runner/compare/comparison';
import { EventBuilder } from '../../helpers/runEvents';

function row(runId: string, method: RunRow['method'], seed: number, test: number, sweep?: string): RunRow {
  return {
    runId,
    runDir: `/runs/${runId}`,
    method,
    seed,
    variables: {},
    status: 'completed',
    protocol: 'held-out',
    studentTest: test,
    studentVal: test,
    teacherTest: 0.97,
    studentParams: 6370,
    teacherParams: 25450,
    seconds: 12,
    ...(sweep ? { sweep } : {}),
  };
}

describe('buildComparison', () => {
  it('one row per run with final/best accuracy, sizes, backend and the student curve', () => {
    const events = new EventBuilder().fullAnnealing().completed().events;
    const summary = {
      backend: 'wasm',
      phases: [
        { phase: 'teacher', bestValAccuracy: 0.99 },
        { phase: 'anneal', bestValAccuracy: 0.7 },
        { phase: 'finetune', bestValAccuracy: 0.72 },
      ],
    } as unknown as RunSummary;
    const r = row('a', 'annealing', 1, 0.71);
    const data = buildComparison([{ row: r, events, summary, label: 'tiny annealing' }], groupRuns([r]));
    assert.equal(data.runs.length, 1);
    const run = data.runs[0];
    assert.equal(run.finalAccuracy, 0.71);
    assert.equal(run.bestAccuracy, 0.72, 'best over the student phases, not the teacher');
    assert.equal(run.backend, 'wasm');
    assert.equal(run.curve.length, 5);
    assert.deepEqual(data.groups, [], 'single runs: no mean ± std table');
  });

  it('a sweep: mean ± std per method over seeds, from runner/compare', () => {
    const rows = [
      row('k1', 'kd', 1, 0.9, 's'),
      row('k2', 'kd', 2, 0.8, 's'),
      row('a1', 'annealing', 1, 0.92, 's'),
      row('a2', 'annealing', 2, 0.94, 's'),
    ];
    const data = buildComparison(
      rows.map((r) => ({ row: r, events: [], label: r.runId })),
      groupRuns(rows),
    );
    assert.deepEqual(
      data.groups.map((g) => g.method),
      ['kd', 'annealing'],
    );
    const kd = data.groups[0];
    assert.equal(kd.n, 2);
    assert.ok(Math.abs((kd.mean ?? 0) - 0.85) < 1e-12);
    assert.ok(Math.abs((kd.std ?? 0) - Math.sqrt(0.005)) < 1e-12, 'sample std (n - 1)');
    assert.equal(kd.best, 0.9);
  });
});

describe('comparisonOf', () => {
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
