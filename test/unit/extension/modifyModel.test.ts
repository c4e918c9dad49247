/**
 * "Modify and Run…": the changes a quick input collects, checked as they are typed by the
 * runner's own --set validation (extension/commands/modifyModel.ts), and where a config trains
 * (Slurm configs bypass the queue: extension/runs/launcher.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModifyModel } from '../../../extension/commands/modifyModel';
import { launcherTypeOf } from '../../../extension/runs/launcher';

const CONFIG = `{
  // as people write them
  "name": "m", "seed": 1,
  "data": { "dataset": "mnist", "trainLimit": 600 },
  "teacher": { "model": { "type": "mlp", "hidden": [16] }, "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.003 } },
  "student": { "model": { "type": "mlp", "hidden": [8] } },
  "method": { "type": "annealing", "tauMax": 2,
    "phase1": { "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.003 } },
    "phase2": { "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.003 } } },
}`;

test('each change is checked as typed; accepted changes become akd run --set values', () => {
  const m = new ModifyModel('/w/m.akd.json', CONFIG);
  assert.equal(m.check('method.tauMax=1'), undefined);
  assert.match(
    m.check('method.tauMax=0') ?? '',
    /^--set method\.tauMax: must be an integer >= 1, got 0 \[range\]$/,
  );
  assert.match(m.check('method.tauMaxx=3') ?? '', /unknown key "tauMaxx" \(did you mean "tauMax"\?\)/);
  assert.match(m.check('method.tauMax') ?? '', /not KEY=VALUE/);
  assert.match(m.check('student.model.hidden=[8') ?? '', /not valid JSON/);
  // A rule across keys: tauMax 3 needs phase1.epochs >= 3.
  assert.match(
    m.check('method.tauMax=3') ?? '',
    /--set method\.tauMax \(method\.phase1\.epochs\): .*\[epochs-lt-taumax\]/,
  );
  assert.equal(m.set('method.phase1.epochs=4'), undefined);
  assert.equal(m.check('method.tauMax=3'), undefined, 'fine once phase 1 has the epochs');
  assert.equal(m.set('method.tauMax=3'), undefined);
  assert.match(m.set('batchSize="big"') ?? '', /batchSize/);
  assert.deepEqual(
    m.setTexts(),
    ['method.phase1.epochs=4', 'method.tauMax=3'],
    'the refused one is not kept',
  );
  // Setting a key again replaces it; unsetting goes back to the file's value.
  assert.equal(m.set('method.tauMax=2'), undefined);
  assert.deepEqual(m.setTexts(), ['method.phase1.epochs=4', 'method.tauMax=2']);
  m.unset('method.phase1.epochs');
  assert.deepEqual(m.setTexts(), ['method.tauMax=2']);
  assert.equal(m.changes, 1);
});

test('the keys offered: every leaf with its current value, changed ones first', () => {
  const m = new ModifyModel('/w/m.akd.json', CONFIG, ['student.model.hidden=[4,4]']);
  const leaves = m.leaves();
  assert.deepEqual(leaves[0], { key: 'student.model.hidden', value: [4, 4], changed: true });
  const byKey = new Map(leaves.map((l) => [l.key, l]));
  assert.equal(byKey.get('method.tauMax')?.value, 2);
  assert.equal(byKey.get('method.tauMax')?.changed, false);
  assert.equal(byKey.get('batchSize')?.value, 128, 'defaults are offered too');
  // A run's own --set values are where "Modify and Run…" on a run starts.
  assert.deepEqual(m.setTexts(), ['student.model.hidden=[4,4]']);
});

test('a config whose file has errors says so instead of blaming a change', () => {
  const m = new ModifyModel('/w/m.akd.json', CONFIG.replace('"seed": 1', '"seed": -1'));
  assert.match(m.check('method.tauMax=1') ?? '', /^the config itself has an error: seed: /);
  assert.deepEqual(m.leaves(), []);
});

test('Slurm configs (their launcher block, else the setting) bypass the queue', () => {
  assert.equal(launcherTypeOf('{ "launcher": { "type": "slurm" } }', 'local'), 'slurm');
  assert.equal(launcherTypeOf('{ "launcher": { "type": "local" } }', 'slurm'), 'local');
  assert.equal(launcherTypeOf('{ "name": "x" }', 'slurm'), 'slurm');
  assert.equal(launcherTypeOf('{ "name": "x" }', undefined), 'local');
  assert.equal(launcherTypeOf(undefined, undefined), 'local');
});
