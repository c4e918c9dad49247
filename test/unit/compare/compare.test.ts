/** Statistics, grouping, the CSV/Markdown tables and the PNG of `akd compare`, on hand-made run folders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mean, meanSeries, sampleStd, summarize, welchT } from '../../../runner/protocol/stats';
import { collectRuns, compareVariables, groupRuns, bestByValidation } from '../../../runner/compare/collect';
import { CSV_COLUMNS, groupsCsv, groupsMarkdown } from '../../../runner/compare/report';
import { csvField } from '../../../runner/protocol/format';
import type { RunSummary } from '../../../runner/protocol/events';
import { type SweepManifest } from '../../../runner/protocol/sweepManifest';
import { runAkd, tempDir } from '../../helpers/akdProcess';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test('mean, sample std (n - 1), best, sem against hand-computed values', () => {
  const s = summarize([0.9, 0.92, 0.94]);
  assert.equal(s.n, 3);
  close(s.mean, 0.92);
  close(s.std, 0.02); // sqrt((0.02^2 + 0 + 0.02^2) / 2)
  close(s.best, 0.94);
  close(s.worst, 0.9);
  close(s.sem, 0.02 / Math.sqrt(3));
  // Population std 2, sample std sqrt(32 / 7).
  close(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  close(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5);
  assert.equal(sampleStd([0.5]), 0);
  assert.ok(Number.isNaN(mean([])) && Number.isNaN(sampleStd([])) && Number.isNaN(summarize([]).best));
  const w = welchT([1, 2, 3], [4, 5, 6])!;
  close(w.t, -3 / Math.sqrt(2 / 3));
  close(w.df, 4);
  assert.equal(welchT([1], [2, 3]), undefined);
  assert.deepEqual(meanSeries([[1, 2, null], [3, null], [5]]), [3, 2, null]);
});

/** A fake finished run folder: config, events, summary. */
function fakeRun(
  dir: string,
  o: {
    method: string;
    seed: number;
    test: number | null;
    val: number;
    teacher: number;
    status?: string;
    anneal?: number[];
    teacherEpochSeconds?: number;
  },
): void {
  fs.mkdirSync(dir, { recursive: true });
  const status = o.status ?? 'completed';
  const phases =
    o.method === 'annealing'
      ? [
          {
            phase: 'anneal',
            epochs: 4,
            bestValAccuracy: o.val,
            bestEpoch: 4,
            finalValAccuracy: o.val - 0.01,
          },
          { phase: 'finetune', epochs: 2, bestValAccuracy: o.val, bestEpoch: 2, finalValAccuracy: o.val },
        ]
      : [
          {
            phase: o.method === 'scratch' ? 'train' : 'kd',
            epochs: 6,
            bestValAccuracy: o.val,
            bestEpoch: 6,
            finalValAccuracy: o.val,
          },
        ];
  const summary: RunSummary = {
    runId: path.basename(dir),
    name: 'x',
    status: status as RunSummary['status'],
    backend: 'wasm',
    method: o.method as RunSummary['method'],
    teacher: { type: 'cnn', params: 1000, source: 'trained', testAccuracy: o.teacher },
    student: { type: 'mlp', params: 100, source: 'trained', testAccuracy: o.test },
    compression: 10,
    phases: phases as RunSummary['phases'],
    startedAt: '',
    seconds: 10 + o.seed,
  };
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary));
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      name: 'x',
      seed: o.seed,
      method: { type: o.method },
      student: { model: { type: 'mlp', hidden: [8] } },
    }),
  );
  const ev = (e: object): string => JSON.stringify({ v: 1, time: '2026-01-01T00:00:00Z', ...e });
  const lines = [ev({ type: 'run-started', runId: summary.runId, pid: 1 })];
  if (o.teacherEpochSeconds)
    lines.push(
      ev({
        type: 'epoch-ended',
        phase: 'teacher',
        epoch: 1,
        epochs: 1,
        loss: 1,
        trainAccuracy: 0.9,
        valAccuracy: 0.9,
        samplesPerSecond: 1,
        lr: 0.1,
        seconds: o.teacherEpochSeconds,
      }),
    );
  (o.anneal ?? []).forEach((v, i) =>
    lines.push(
      ev({
        type: 'epoch-ended',
        phase: 'anneal',
        epoch: i + 1,
        epochs: 4,
        temperature: 4 - i,
        phi: (i + 1) / 4,
        loss: 1,
        trainAccuracy: v,
        valAccuracy: v,
        samplesPerSecond: 1,
        lr: 0.1,
        seconds: 1,
      }),
    ),
  );
  lines.push(
    ev(
      status === 'completed'
        ? { type: 'run-completed', summary }
        : { type: 'run-failed', error: { message: 'boom' } },
    ),
  );
  fs.writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n') + '\n');
}

function fakeSweep(): string {
  const dir = tempDir('compare');
  const members: SweepManifest['members'] = [];
  const add = (
    id: string,
    method: string,
    seed: number,
    overrides: Record<string, unknown>,
    test: number | null,
    val: number,
    extra: { status?: string; anneal?: number[]; teacherEpochSeconds?: number } = {},
  ): void => {
    members.push({
      id,
      index: members.length,
      method: method as never,
      seed,
      overrides,
      runDir: id,
      trainsTeacher: members.length === 0,
    });
    fakeRun(path.join(dir, id), { method, seed, test, val, teacher: 0.99, ...extra });
  };
  add('scratch-s1', 'scratch', 1, {}, 0.9, 0.89, { teacherEpochSeconds: 5 }); // it trained the shared teacher
  add('scratch-s2', 'scratch', 2, {}, 0.92, 0.91);
  add('scratch-s3', 'scratch', 3, {}, 0.94, 0.93);
  add('kd-t2-s1', 'kd', 1, { 'kd.temperature': 2 }, 0.91, 0.9);
  add('kd-t2-s2', 'kd', 2, { 'kd.temperature': 2 }, 0.93, 0.92);
  add('kd-t4-s1', 'kd', 1, { 'kd.temperature': 4 }, 0.95, 0.8);
  add('kd-t4-s2', 'kd', 2, { 'kd.temperature': 4 }, null, 0, { status: 'failed' });
  add('annealing-s1', 'annealing', 1, {}, 0.96, 0.95, { anneal: [0.5, 0.7, 0.8, 0.9] });
  add('annealing-s2', 'annealing', 2, {}, 0.94, 0.93, { anneal: [0.7, 0.8, 0.9, 0.95] });
  const manifest: SweepManifest = {
    v: 1,
    kind: 'akd-sweep',
    name: 'fake',
    createdAt: '',
    configPath: '',
    cacheRoot: '',
    concurrency: 2,
    seeds: [1, 2, 3],
    methods: ['scratch', 'kd', 'annealing'],
    grid: ['kd.temperature'],
    teachers: [],
    members,
  };
  fs.writeFileSync(path.join(dir, 'sweep.json'), JSON.stringify(manifest));
  return dir;
}

test('runs group by method and swept value; failed runs are left out of the statistics', () => {
  const groups = groupRuns(collectRuns([fakeSweep()]));
  assert.deepEqual(
    groups.map((g) => g.label),
    ['scratch', 'kd temperature=2', 'kd temperature=4', 'annealing'],
  );
  const scratch = groups[0];
  assert.equal(scratch.test.n, 3);
  close(scratch.test.mean, 0.92);
  close(scratch.test.std, 0.02);
  close(scratch.test.best, 0.94);
  close(scratch.gap!, 0.99 - 0.92);
  assert.deepEqual(scratch.seeds, [1, 2, 3]);
  close(scratch.seconds, (11 - 5 + 12 + 13) / 3); // wall time without the shared teacher's training
  const kd4 = groups[2];
  assert.equal(kd4.test.n, 1);
  assert.equal(kd4.incomplete, 1);
  assert.equal(kd4.test.std, 0);
  // Settings sort by value, numbers numerically.
  assert.ok(
    compareVariables({ lr: 0.003 }, { lr: 0.01 }) < 0 && compareVariables({ h: [32] }, { h: [128] }) < 0,
  );
  // Settings are picked on validation: kd temperature=4 has the best test but worse validation.
  assert.equal(bestByValidation(groups).get('kd')!.label, 'kd temperature=2');
  // Annealing: the phase-1 curve averaged over seeds, with the temperatures.
  assert.deepEqual(
    groups[3].annealCurve!.map((p) => p.temperature),
    [4, 3, 2, 1],
  );
  close(groups[3].annealCurve![0].valAccuracy!, 0.6);
  close(groups[3].annealCurve![3].valAccuracy!, 0.925);
  // The final student's validation accuracy is the last phase's last epoch.
  close(groups[3].val.mean, 0.94);

  const csv = groupsCsv(groups).trim().split('\n');
  assert.equal(csv[0], CSV_COLUMNS.join(','));
  for (const col of ['method', 'n', 'mean', 'std', 'best']) assert.ok(csv[0].split(',').includes(col));
  const row = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, csv[1].split(',')[i]]));
  assert.deepEqual(
    [row.method, row.n, row.mean, row.std, row.best],
    ['scratch', '3', '0.920000', '0.020000', '0.940000'],
  );
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  const md = groupsMarkdown(groups).split('\n');
  assert.match(md[0], /^\| method \| setting \| n \| test % \(mean ± std\) \|/);
  assert.match(md[5], /^\| annealing \| - \| 2 \| \*\*95\.00 ± 1\.41\*\* \|/);
});

test('akd compare writes the CSV, Markdown, PNG and SVG files and prints the table', async () => {
  const dir = fakeSweep();
  const out = tempDir('compare-out');
  const r = await runAkd([
    'compare',
    dir,
    '--csv',
    path.join(out, 'c.csv'),
    '--md',
    path.join(out, 'c.md'),
    '--png',
    path.join(out, 'c.png'),
    '--svg',
    path.join(out, 'c.svg'),
    '--runs-csv',
    path.join(out, 'runs.csv'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /scratch\s+-\s+3\s+92\.00 ± 2\.00\s+94\.00/);
  assert.match(r.stdout, /best setting per method by mean validation accuracy/);
  assert.match(r.stdout, /kd-t4-s2 \(failed\)/);
  assert.ok(fs.readFileSync(path.join(out, 'c.csv'), 'utf8').startsWith('method,setting,n,mean,std,best,'));
  assert.ok(fs.readFileSync(path.join(out, 'c.png')).subarray(1, 4).equals(Buffer.from('PNG')));
  // The annealing runs' phase-1 curves: a second figure beside the first, in both formats.
  assert.ok(fs.readFileSync(path.join(out, 'c-phase1.png')).subarray(1, 4).equals(Buffer.from('PNG')));
  const svg = fs.readFileSync(path.join(out, 'c.svg'), 'utf8');
  assert.match(svg, /^<\?xml[^>]*\?><svg /);
  for (const m of ['scratch', 'annealing']) assert.match(svg, new RegExp(`<text[^>]*>${m}`), `${m} as text`);
  assert.match(fs.readFileSync(path.join(out, 'c-phase1.svg'), 'utf8'), /<text[^>]*>T=\d/);
  const runs = fs.readFileSync(path.join(out, 'runs.csv'), 'utf8').trim().split('\n');
  assert.equal(runs.length, 1 + 9);
  const bad = await runAkd(['compare', path.join(out, 'nothing-here')]);
  assert.equal(bad.code, 2);
});
