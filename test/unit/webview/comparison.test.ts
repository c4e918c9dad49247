/** The comparison's rows and its mean ± std per method (runner/compare's grouping and statistics). */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { groupRuns, type RunRow } from '../../../runner/compare/collect';
import type { RunSummary } from '../../../runner/protocol/events';
import { buildComparison, compactCount, pct } from '../../../webview/shaping/comparison';
import { metricsCsv } from '../../../webview/shaping/csv';
import { EventBuilder } from './fixtures';

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

  it('formats', () => {
    assert.equal(pct(0.92514), '92.51');
    assert.equal(pct(null), '–');
    assert.equal(compactCount(6370), '6.37k');
    assert.equal(compactCount(1234567), '1.23M');
  });
});

describe('metricsCsv', () => {
  it('one line per epoch with the phase and temperature', () => {
    const csv = metricsCsv(new EventBuilder().fullAnnealing().events).trim().split('\n');
    assert.equal(csv.length, 8);
    assert.match(csv[0], /^x,phase,epoch,epochs,temperature,phi,loss/);
    assert.match(csv[3], /^3,anneal,1,4,2,0\.5,1,/);
  });
});
