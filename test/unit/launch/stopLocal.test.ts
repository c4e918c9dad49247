/** `akd stop` on a local run: SIGTERM to the pid of its run-started, a checkpoint, a cancelled run. No Slurm needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStartedEvent, RunSummary } from '../../../runner/protocol/events';
import { runAkd, tempDir, writeConfig } from '../../helpers/akdProcess';

const adam = (learningRate: number) => ({ type: 'adam', learningRate });

test('akd stop RUN stops a local run at a batch boundary: cancelled, with a checkpoint; stopping it again is a no-op', async () => {
  const dir = tempDir('stop-local');
  const config = writeConfig(dir, 'local', {
    name: 'local',
    seed: 1,
    data: { dataset: 'mnist', trainLimit: 2000, testLimit: 300, validationFraction: 0.1 },
    teacher: { model: { type: 'mlp', hidden: [32] }, epochs: 1, optimizer: adam(0.003) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 2,
      phase1: { epochs: 200, optimizer: adam(0.003) },
      phase2: { epochs: 1, optimizer: adam(0.001) },
    },
    batchSize: 64,
    backend: 'wasm',
    threads: 1,
  });
  let stop: ReturnType<typeof runAkd> | undefined;
  let seen: string | undefined;
  const r = await runAkd(['run', config, '--json'], {
    onEvent: (e) => {
      if (!stop && e.type === 'epoch-ended' && e.phase === 'anneal') stop = runAkd(['stop', seen ?? '']);
      if (e.type === 'run-started') seen = (e as RunStartedEvent).runDir;
    },
  });
  assert.ok(stop);
  const stopped = await stop!;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /sent SIGTERM to pid \d+/);
  assert.match(
    stopped.stderr,
    /cancelled at anneal epoch \d+, batch \d+ \(checkpoint saved; akd resume continues\)/,
  );
  assert.equal(r.code, 143, r.stderr);
  assert.equal(r.events[r.events.length - 1].type, 'run-cancelled');
  const runDir = seen!;
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'latest', 'state.json')));
  assert.equal(
    (JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary).status,
    'cancelled',
  );
  const again = await runAkd(['stop', runDir]);
  assert.equal(again.code, 0);
  assert.match(again.stderr, /not running \(run-cancelled\), nothing to stop/);
});
