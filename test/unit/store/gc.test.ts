/**
 * `akd gc` (runner/store/gc.ts): the dry run removes nothing; completed runs lose only their
 * checkpoints; nothing of a running, queued, cancelled, interrupted or starred run goes (failed
 * only with --failed); teacher caches go only when nothing refers to them; and a real cancelled
 * run resumes after gc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStartedEvent } from '../../../runner/protocol/events';
import { queueFile } from '../../../runner/protocol/queue';
import { planGc } from '../../../runner/store/gc';
import { runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';

const KB = 1024;

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

/** A run folder as the runner leaves it, with `kb` KB of checkpoints. */
function fakeRun(
  root: string,
  name: string,
  end: 'completed' | 'failed' | 'cancelled' | 'none',
  opts: { pid?: number; kb?: number; endedAt?: string; teacherCheckpoint?: string } = {},
): string {
  const dir = path.join(root, '.akd', 'runs', name);
  fs.mkdirSync(path.join(dir, 'checkpoints', 'latest'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'student'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'checkpoints', 'latest', 'weights.bin'),
    Buffer.alloc((opts.kb ?? 10) * KB),
  );
  fs.writeFileSync(path.join(dir, 'student', 'weights.bin'), Buffer.alloc(KB));
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify(opts.teacherCheckpoint ? { teacher: { checkpoint: opts.teacherCheckpoint } } : {}),
  );
  const time = opts.endedAt ?? new Date().toISOString();
  const events: object[] = [
    { v: 1, time, type: 'run-started', runId: name, runDir: dir, pid: opts.pid ?? deadPid() },
  ];
  if (end === 'completed') events.push({ v: 1, time, type: 'run-completed', summary: {} });
  if (end === 'failed') events.push({ v: 1, time, type: 'run-failed', error: { message: 'x' } });
  if (end === 'cancelled') events.push({ v: 1, time, type: 'run-cancelled', signal: 'SIGTERM' });
  fs.writeFileSync(path.join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
  if (end !== 'none')
    fs.writeFileSync(
      path.join(dir, 'summary.json'),
      JSON.stringify({
        runId: name,
        name,
        status: end,
        backend: 'cpu',
        method: 'scratch',
        teacher: { type: 'mlp', params: 100, source: 'trained', testAccuracy: 0.9 },
        student: { type: 'mlp', params: 10, source: 'trained', testAccuracy: 0.8 },
        compression: 10,
        phases: [],
        startedAt: time,
        endedAt: time,
        seconds: 1,
      }),
    );
  return dir;
}

function fakeTeacher(root: string, key: string): string {
  const dir = path.join(root, '.akd', 'teachers', key);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), '{}');
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(4 * KB));
  return dir;
}

test('gc rules: the dry run removes nothing; only checkpoints of completed (and with --failed failed) runs and unreferenced teachers go', async () => {
  const root = tempDir('gc-rules');
  const completed = fakeRun(root, '01-completed', 'completed', { kb: 20 });
  const old = fakeRun(root, '02-old', 'completed', { endedAt: '2020-01-01T00:00:00.000Z' });
  const failed = fakeRun(root, '03-failed', 'failed');
  const cancelled = fakeRun(root, '04-cancelled', 'cancelled');
  const crashed = fakeRun(root, '05-crashed', 'none');
  const running = fakeRun(root, '06-running', 'none', { pid: process.pid });
  const starred = fakeRun(root, '07-starred', 'completed');
  fs.writeFileSync(path.join(starred, 'meta.json'), JSON.stringify({ starred: true }));
  const queued = fakeRun(root, '08-queued', 'cancelled');
  fs.writeFileSync(
    queueFile(root),
    JSON.stringify({
      v: 1,
      entries: [
        {
          id: 'q1',
          configPath: path.join(root, 'q.akd.json'),
          set: [],
          addedAt: '',
          state: 'queued',
          runDir: queued,
        },
      ],
      finished: [],
    }),
  );
  // Teachers: one a run uses, one a queued config uses, one a sweep lists, one nothing refers to,
  // and one being written right now by a live process.
  const usedByRun = fakeTeacher(root, 'used-by-run');
  fakeRun(root, '09-uses-teacher', 'cancelled', { teacherCheckpoint: path.join(usedByRun, 'model.json') });
  const usedByQueue = fakeTeacher(root, 'used-by-queue');
  fs.writeFileSync(
    path.join(root, 'q.akd.json'),
    `// queued\n{ "teacher": { "checkpoint": ${JSON.stringify(path.relative(root, path.join(usedByQueue, 'model.json')))} } }`,
  );
  const usedBySweep = fakeTeacher(root, 'used-by-sweep');
  fs.mkdirSync(path.join(root, '.akd', 'sweeps', 's1'), { recursive: true });
  fs.writeFileSync(
    path.join(root, '.akd', 'sweeps', 's1', 'sweep.json'),
    JSON.stringify({ teachers: [{ cacheDir: usedBySweep }] }),
  );
  const orphan = fakeTeacher(root, 'orphan');
  const writing = fakeTeacher(root, `orphan2.tmp-${process.pid}-1`);

  const before = (dir: string): boolean => fs.existsSync(path.join(dir, 'checkpoints'));
  const dry = await runAkd(['gc', '--dry-run'], { cwd: root });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^would remove \(dry run; nothing was removed\):$/m);
  assert.match(dry.stdout, /checkpoints of 2 completed runs +\d+ KB/);
  assert.match(dry.stdout, /1 teacher cache no run refers to +\d+(\.\d)? KB/);
  assert.doesNotMatch(dry.stdout, /failed run/);
  assert.match(dry.stdout, /kept: .*1 running; 1 starred/);
  for (const d of [completed, old, failed, cancelled, crashed, running, starred, queued])
    assert.ok(before(d), d);
  assert.ok(fs.existsSync(orphan));

  // The plan, kind by kind.
  const plan = planGc(root);
  assert.deepEqual(plan.items.map((i) => [i.kind, path.relative(root, i.path)]).sort(), [
    ['completed', '.akd/runs/01-completed/checkpoints'],
    ['completed', '.akd/runs/02-old/checkpoints'],
    ['teacher', '.akd/teachers/orphan'],
  ]);
  const reasons = new Map(plan.kept.map((k) => [path.basename(k.path), k.reason]));
  assert.match(reasons.get('03-failed') ?? '', /failed/);
  assert.match(reasons.get('04-cancelled') ?? '', /cancelled/);
  assert.match(reasons.get('05-crashed') ?? '', /interrupted/);
  assert.equal(reasons.get('06-running'), 'running');
  assert.equal(reasons.get('07-starred'), 'starred');
  assert.match(reasons.get('08-queued') ?? '', /queued/);
  for (const t of ['used-by-run', 'used-by-queue', 'used-by-sweep'])
    assert.match(reasons.get(t) ?? '', /uses this teacher/, t);
  assert.equal(plan.items.find((i) => i.path === completed + '/checkpoints')?.bytes, 20 * KB);

  // --older-than: only what ended long enough ago.
  assert.deepEqual(
    planGc(root, { olderThanDays: 30 })
      .items.filter((i) => i.kind !== 'teacher')
      .map((i) => path.basename(path.dirname(i.path))),
    ['02-old'],
  );

  const real = await runAkd(['gc', '--failed', '--json'], { cwd: root });
  assert.equal(real.code, 0, real.stderr);
  const report = JSON.parse(real.stdout) as {
    removed: { kind: string }[];
    totals: Record<string, { count: number; bytes: number }>;
  };
  assert.equal(report.totals.completed.count, 2);
  assert.equal(report.totals.failed.count, 1);
  assert.equal(report.totals.teacher.count, 1);
  assert.equal(report.totals.teacher.bytes, 4 * KB + 2);
  for (const d of [completed, old, failed]) {
    assert.ok(!before(d), `${d}: checkpoints removed`);
    for (const f of ['events.jsonl', 'summary.json', 'config.json', 'student/weights.bin'])
      assert.ok(fs.existsSync(path.join(d, f)), `${d}/${f} stays`);
  }
  for (const d of [cancelled, crashed, running, starred, queued])
    assert.ok(before(d), `${d} keeps its checkpoints`);
  assert.ok(!fs.existsSync(orphan));
  for (const t of [usedByRun, usedByQueue, usedBySweep, writing]) assert.ok(fs.existsSync(t), t);

  const again = await runAkd(['gc'], { cwd: root });
  assert.match(again.stdout, /^nothing to remove under /m);
});

test('a real run cancelled mid-way keeps its checkpoint through gc and resumes to completion; a completed one keeps its models', async () => {
  const dir = tempDir('gc-real');
  const config = writeConfig(dir, 'gc', {
    name: 'gc',
    seed: 1,
    data: { dataset: 'mnist', trainLimit: 4000, testLimit: 200 },
    teacher: {
      model: { type: 'mlp', hidden: [64] },
      epochs: 4,
      optimizer: { type: 'adam', learningRate: 0.003 },
    },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 2, optimizer: { type: 'adam', learningRate: 0.003 } },
      phase2: { epochs: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
    },
    batchSize: 32,
    backend: 'cpu',
  });
  let signalled = false;
  const cancelled = await runAkd(['run', config, '--json'], {
    onEvent: (e, child) => {
      if (!signalled && e.type === 'checkpoint-saved') {
        signalled = true;
        child.kill('SIGTERM');
      }
    },
  });
  assert.equal(cancelled.code, 143, cancelled.stderr);
  const runDir = (cancelled.events[0] as RunStartedEvent).runDir;
  const done = await runAkd(['run', config, '--json', '--set', 'teacher.epochs=1', '--set', 'seed=2']);
  assert.equal(done.code, 0, done.stderr);
  const doneDir = (done.events[0] as RunStartedEvent).runDir;
  assert.ok(fs.existsSync(path.join(doneDir, 'checkpoints')));

  const gc = await runAkd(['gc', dir, '--failed']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.match(gc.stdout, /checkpoints of 1 completed run/);
  assert.match(gc.stdout, /kept: 1 cancelled/);
  assert.ok(!fs.existsSync(path.join(doneDir, 'checkpoints')));
  for (const f of ['teacher/model.json', 'student/model.json', 'summary.json'])
    assert.ok(fs.existsSync(path.join(doneDir, f)), f);
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')));
  const show = await runAkd(['show', doneDir]);
  assert.match(show.stdout, /status +completed/);

  const resumed = await runAkd(['resume', runDir, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const started = resumed.events.find((e): e is RunStartedEvent => e.type === 'run-started');
  assert.ok(started?.resumedFrom, 'resumed from the checkpoint, not restarted');
  assert.equal(resumed.events.at(-1)?.type, 'run-completed');
});

test('akd star, unstar, note: meta.json, shown by akd list (--json, --starred) and akd show', async () => {
  const root = tempDir('meta');
  const a = fakeRun(root, '20260101-000000-a', 'completed');
  fakeRun(root, '20260101-000001-b', 'completed');
  assert.equal((await runAkd(['star', '20260101-000000-a'], { cwd: root })).code, 0);
  assert.equal((await runAkd(['note', a, 'lr', 'too', 'high?'], { cwd: root })).code, 0);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(a, 'meta.json'), 'utf8')), {
    starred: true,
    note: 'lr too high?',
    updatedAt: JSON.parse(fs.readFileSync(path.join(a, 'meta.json'), 'utf8')).updatedAt,
  });
  const list = await runAkd(['list'], { cwd: root });
  assert.match(list.stdout, /^20260101-000000-a +completed .* ★ +lr too high\?$/m);
  const json = JSON.parse((await runAkd(['list', '--json'], { cwd: root })).stdout) as {
    runId: string;
    starred: boolean;
    note: string | null;
  }[];
  assert.deepEqual(
    json.map((r) => [r.runId, r.starred, r.note]),
    [
      ['20260101-000000-a', true, 'lr too high?'],
      ['20260101-000001-b', false, null],
    ],
  );
  const starred = JSON.parse(
    (await runAkd(['list', '--json', '--starred'], { cwd: root })).stdout,
  ) as unknown[];
  assert.equal(starred.length, 1);
  assert.match((await runAkd(['show', a])).stdout, /^note +lr too high\?$/m);
  assert.equal((await runAkd(['note', a])).stdout, 'lr too high?\n');
  assert.equal((await runAkd(['note', a, '--clear'])).code, 0);
  assert.equal((await runAkd(['unstar', a])).code, 0);
  assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(path.join(a, 'meta.json'), 'utf8'))), [
    'updatedAt',
  ]);
  const wrong = await runAkd(['star', a, 'no-such-run'], { cwd: root });
  assert.equal(wrong.code, 64);
  assert.match(wrong.stderr, /no run at no-such-run/);
});
