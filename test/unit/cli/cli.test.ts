/** The other `akd` commands, and a CIFAR-style ResNet teacher through the whole CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunCompletedEvent, RunStartedEvent } from '../../../runner/protocol/events';
import { countParams } from '../../../runner/models/paramCount';
import { readEvents } from '../../../runner/protocol/eventTail';
import { AKD, runAkd, tempDir, tinyScratchConfig, writeConfig } from '../../helpers/akdProcess';

/** Official CIFAR-10 binary layout: 5 train batches + test_batch, records of 1 label + 3072 pixels. */
function writeCifar10(dir: string, perFile: number): void {
  const record = (i: number): Buffer => {
    const r = Buffer.alloc(3073);
    r[0] = i % 10;
    // A class-dependent brightness so the data is learnable, plus noise.
    for (let p = 1; p < 3073; p++) r[p] = Math.min(255, (i % 10) * 25 + ((p * 7919 + i * 104729) % 23));
    return r;
  };
  const file = (name: string, offset: number): void =>
    fs.writeFileSync(
      path.join(dir, name),
      Buffer.concat(Array.from({ length: perFile }, (_, k) => record(offset + k))),
    );
  for (let b = 1; b <= 5; b++) file(`data_batch_${b}.bin`, b * perFile);
  file('test_batch.bin', 0);
}

test('a ResNet-8 teacher on CIFAR-10 binaries trains on wasm through akd run', async () => {
  const dir = tempDir('cifar');
  fs.mkdirSync(path.join(dir, 'cifar'));
  writeCifar10(path.join(dir, 'cifar'), 40);
  const teacherModel = { type: 'resnet', depth: 8, width: 4 };
  const config = writeConfig(dir, 'resnet', {
    name: 'resnet',
    seed: 1,
    data: { format: 'cifar10', dir: 'cifar', validationFraction: 0.2 },
    teacher: {
      model: teacherModel,
      epochs: 1,
      optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4 },
    },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'kd',
      epochs: 1,
      optimizer: { type: 'adam', learningRate: 0.001 },
      temperature: 4,
      alpha: 0.9,
    },
    batchSize: 32,
    backend: 'wasm',
  });
  const r = await runAkd(['run', config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const started = r.events[0] as RunStartedEvent;
  assert.deepEqual(started.data, {
    train: 160,
    validation: 40,
    test: 40,
    inputShape: [32, 32, 3],
    classes: 10,
  });
  assert.equal(started.teacher.params, countParams(teacherModel as never, [32, 32, 3], 10));
  const done = r.events[r.events.length - 1] as RunCompletedEvent;
  assert.equal(done.type, 'run-completed');
  assert.ok(done.summary.teacher.testAccuracy !== null && done.summary.student.testAccuracy !== null);
});

test('akd list and akd show read the run store; akd validate exits 0/2', async () => {
  const dir = tempDir('list');
  const config = tinyScratchConfig(dir, 'one', { trainLimit: 500 });
  assert.equal((await runAkd(['validate', config])).code, 0);
  const run = await runAkd(['run', config, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const runId = (run.events[0] as RunStartedEvent).runId;
  const summary = (run.events[run.events.length - 1] as RunCompletedEvent).summary;
  assert.equal(summary.backend, 'cpu');

  const list = await runAkd(['list'], { cwd: dir });
  assert.equal(list.code, 0);
  const row = list.stdout.split('\n').find((l) => l.startsWith(runId));
  assert.ok(row, list.stdout);
  assert.match(row, /completed\s+scratch/);
  assert.ok(row.includes(`${(summary.student.testAccuracy! * 100).toFixed(2)}%`));

  const show = await runAkd(['show', runId], { cwd: dir });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /status\s+completed/);
  assert.match(show.stdout, /student\s+mlp, 3,190 params/);

  const missing = await runAkd(['show', 'no-such-run'], { cwd: dir });
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /no run at no-such-run/);

  fs.writeFileSync(path.join(dir, 'broken.akd.json'), '{ "name": "x", ');
  const bad = await runAkd(['validate', path.join(dir, 'broken.akd.json')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /broken\.akd\.json:1:\d+ /);
});

test('a crashed run (SIGKILL) leaves readable events and resumes from its last epoch checkpoint', async () => {
  const dir = tempDir('crash');
  const config = writeConfig(dir, 'crash', {
    name: 'crash',
    seed: 3,
    data: { dataset: 'mnist', trainLimit: 2000, testLimit: 500 },
    teacher: {
      model: { type: 'mlp', hidden: [64] },
      epochs: 2,
      optimizer: { type: 'adam', learningRate: 0.003 },
    },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 3,
      phase1: { epochs: 6, optimizer: { type: 'adam', learningRate: 0.003 } },
      phase2: { epochs: 1, optimizer: { type: 'adam', learningRate: 0.001 } },
    },
    batchSize: 64,
    backend: 'wasm',
  });
  let killed = false;
  const first = await runAkd(['run', config, '--json'], {
    onEvent: (e, child) => {
      if (
        !killed &&
        e.type === 'checkpoint-saved' &&
        e.reason === 'epoch' &&
        e.position.phase === 'anneal' &&
        e.position.epoch === 2
      ) {
        killed = true;
        child.kill('SIGKILL');
      }
    },
  });
  assert.equal(first.signal, 'SIGKILL');
  const runDir = (first.events[0] as RunStartedEvent).runDir;
  const list = await runAkd(['list', path.dirname(runDir)]);
  assert.match(list.stdout, /crashed/, 'no terminal event and its writer is gone: the run crashed');

  const second = await runAkd(['resume', path.basename(runDir), '--json'], { cwd: dir });
  assert.equal(second.code, 0, second.stderr);
  const resumed = second.events[0] as RunStartedEvent;
  assert.ok(
    resumed.resumedFrom && resumed.resumedFrom.phase === 'anneal' && resumed.resumedFrom.epoch >= 2,
    JSON.stringify(resumed.resumedFrom),
  );
  const annealEpochs = second.events
    .filter((e) => e.type === 'epoch-ended' && e.phase === 'anneal')
    .map((e) => (e as { epoch: number }).epoch);
  assert.equal(annealEpochs[0], resumed.resumedFrom!.epoch + 1);
  assert.equal(annealEpochs[annealEpochs.length - 1], 6);
  assert.equal(second.events[second.events.length - 1].type, 'run-completed');
});

test('a run keeps training when its reader goes away (the editor reloaded): events still reach events.jsonl', async () => {
  const dir = tempDir('epipe');
  const config = writeConfig(dir, 'epipe', {
    name: 'epipe',
    data: { dataset: 'mnist', trainLimit: 1000, testLimit: 200 },
    teacher: {
      model: { type: 'mlp', hidden: [16] },
      epochs: 2,
      optimizer: { type: 'adam', learningRate: 0.003 },
    },
    student: { model: { type: 'mlp', hidden: [4] } },
    method: { type: 'scratch', epochs: 3, optimizer: { type: 'adam', learningRate: 0.003 } },
    backend: 'wasm',
  });
  const child = spawn(process.execPath, [AKD, 'run', config, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const firstLine = await new Promise<string>((resolve) => {
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
  });
  // Close both pipes from the reading side, as a reloaded window does.
  child.stdout.destroy();
  child.stderr.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0);
  const started = JSON.parse(firstLine) as RunStartedEvent;
  const events = readEvents(path.join(started.runDir, 'events.jsonl'));
  assert.equal(events[events.length - 1].type, 'run-completed');
});
