/**
 * Checkpoints you can trust (issue defect 2): a damaged checkpoint is an error naming the file and
 * offering the previous one, never a silent restart; a kill between the two renames of the atomic
 * swap is recovered from what it left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunStartedEvent } from '../../../runner/protocol/events';
import { runAkd, tempDir } from '../../helpers/akdProcess';
import { cancelledRun, eventsOf, tinyConfig } from './tinyRun';

/** A run cancelled in phase 1 after a few epochs: its latest and previous checkpoints both hold a model. */
async function cancelledInAnneal(name: string): Promise<string> {
  const dir = tempDir(name);
  const config = tinyConfig(dir, name, { phase1Epochs: 16 });
  return cancelledRun(
    config,
    path.join(dir, 'runs'),
    (e) => e.type === 'epoch-ended' && e.phase === 'anneal' && e.epoch >= 3,
  );
}

const latest = (runDir: string): string => path.join(runDir, 'checkpoints', 'latest');
const startsAfter = (runDir: string, n: number): RunStartedEvent[] =>
  eventsOf(runDir)
    .slice(n)
    .filter((e): e is RunStartedEvent => e.type === 'run-started');

for (const [what, damage] of [
  ['truncated', (f: string) => fs.writeFileSync(f, fs.readFileSync(f, 'utf8').slice(0, 40))],
  ['null', (f: string) => fs.writeFileSync(f, 'null')],
  ['{}', (f: string) => fs.writeFileSync(f, '{}')],
] as const) {
  test(`defect 2: a ${what} state.json is an error naming it and offering the previous checkpoint, never a restart`, async () => {
    const runDir = await cancelledInAnneal(`state-${what === '{}' ? 'empty' : what}`);
    damage(path.join(latest(runDir), 'state.json'));
    const n = eventsOf(runDir).length;
    const r = await runAkd(['resume', runDir, '--json']);
    assert.equal(r.code, 1, `resume must fail, not retrain (exit ${r.code})\n${r.stderr}`);
    assert.equal(startsAfter(runDir, n).length, 0, 'nothing was started');
    assert.match(r.stderr, /checkpoints\/latest\/state\.json/);
    assert.match(r.stderr, /--from previous/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line:\n${r.stderr}`);

    const again = await runAkd(['resume', runDir, '--from', 'previous', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const started = startsAfter(runDir, n);
    assert.equal(started.length, 1);
    assert.equal(started[0].resumedFrom?.phase, 'anneal', 'continued from the previous checkpoint');
    assert.ok((started[0].resumedFrom?.epoch ?? 0) >= 2, JSON.stringify(started[0].resumedFrom));
  });
}

test('defect 2: killed between the two renames (latest/ gone, latest.old-PID left): resume continues from it', async () => {
  const runDir = await cancelledInAnneal('swap');
  const stopped = JSON.parse(fs.readFileSync(path.join(latest(runDir), 'state.json'), 'utf8')) as {
    position: { phase: string; epoch: number };
  };
  fs.renameSync(latest(runDir), `${latest(runDir)}.old-4242`);
  const n = eventsOf(runDir).length;
  const r = await runAkd(['resume', runDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const started = startsAfter(runDir, n);
  assert.deepEqual(
    started[0].resumedFrom && { phase: started[0].resumedFrom.phase, epoch: started[0].resumedFrom.epoch },
    { phase: stopped.position.phase, epoch: stopped.position.epoch },
    'from the checkpoint the swap had put aside, not from scratch',
  );
  const left = fs.readdirSync(path.join(runDir, 'checkpoints'));
  assert.deepEqual(
    left.filter((f) => /\.(old|tmp)-/.test(f)),
    [],
    `no leftovers: ${left.join(' ')}`,
  );
});

test('defect 2: latest/ missing with nothing left to recover is an error when the run had saved checkpoints', async () => {
  const runDir = await cancelledInAnneal('gone');
  fs.rmSync(latest(runDir), { recursive: true });
  fs.rmSync(path.join(runDir, 'checkpoints', 'previous'), { recursive: true, force: true });
  const n = eventsOf(runDir).length;
  const r = await runAkd(['resume', runDir, '--json']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(startsAfter(runDir, n).length, 0);
  assert.match(r.stderr, /checkpoints\/latest.*missing/);
});

test('a weights file changed after it was written fails its checksum, naming the file', async () => {
  const runDir = await cancelledInAnneal('checksum');
  const weights = path.join(latest(runDir), 'weights.bin');
  const bytes = fs.readFileSync(weights);
  bytes.fill(0x7f, 0, 64); // junk in place: same size
  fs.writeFileSync(weights, bytes);
  const r = await runAkd(['resume', runDir, '--json']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /checkpoints\/latest\/weights\.bin.*checksum/);
  assert.match(r.stderr, /--from previous/);
});
