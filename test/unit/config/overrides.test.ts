/**
 * `--set KEY=VALUE` (runner/config/overrides.ts): parsing, the changed config validated like the
 * file with each problem named by its key, and through `akd run`: a bad key or value exits 2
 * with no run folder; a good one trains the changed config, recorded in config.json and
 * summary.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  configLeaves,
  formatOverrideProblem,
  parseKeyPath,
  parseOverride,
  parseOverrides,
  validateWithOverrides,
  OverrideSyntaxError,
} from '../../../runner/config/overrides';
import type { RunCompletedEvent, RunStartedEvent } from '../../../runner/protocol/events';
import { runAkd, tempDir, tinyScratchConfig } from '../../helpers/akdProcess';

const CONFIG = `// a config with comments, as people write them
{
  "name": "set",
  "seed": 1,
  "data": { "dataset": "mnist", "trainLimit": 600, "testLimit": 200 },
  "teacher": { "model": { "type": "mlp", "hidden": [16] }, "epochs": 1,
               "optimizer": { "type": "adam", "learningRate": 0.003 } },
  "student": { "model": { "type": "mlp", "hidden": [8] } },
  "method": { "type": "annealing", "tauMax": 2,
    "phase1": { "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.003 } },
    "phase2": { "epochs": 1, "optimizer": { "type": "adam", "learningRate": 0.003 } } },
  "backend": "cpu",
}
`;

test('keys: dotted paths, array elements as .N or [N]; values: JSON, or a bare word as a string', () => {
  assert.deepEqual(parseKeyPath('method.tauMax'), ['method', 'tauMax']);
  assert.deepEqual(parseKeyPath('student.model.hidden.0'), ['student', 'model', 'hidden', 0]);
  assert.deepEqual(parseKeyPath('student.model.hidden[1]'), ['student', 'model', 'hidden', 1]);
  for (const bad of ['', '.a', 'a..b', '0.a', 'a b', 'a.[0]x', 'a]'])
    assert.equal(parseKeyPath(bad), undefined, bad);
  assert.deepEqual(parseOverride('method.tauMax=5'), {
    key: 'method.tauMax',
    path: ['method', 'tauMax'],
    value: 5,
  });
  assert.deepEqual(parseOverride('student.model.hidden=[64, 32]').value, [64, 32]);
  assert.deepEqual(parseOverride('method.phase1.optimizer={"type":"sgd","learningRate":0.1}').value, {
    type: 'sgd',
    learningRate: 0.1,
  });
  assert.equal(parseOverride('method.type=kd').value, 'kd');
  assert.equal(parseOverride('name="a=b"').value, 'a=b');
  assert.equal(parseOverride('data.augment=null').value, null);
  assert.equal(parseOverride('x=true').value, true);
  assert.throws(() => parseOverride('method.tauMax'), /not KEY=VALUE/);
  assert.throws(() => parseOverride('=5'), OverrideSyntaxError);
  assert.throws(() => parseOverride('a b=5'), /not a config key path/);
  assert.throws(
    () => parseOverride('student.model.hidden=[64'),
    /student\.model\.hidden: the value \[64 is not valid JSON/,
  );
  assert.throws(() => parseOverride('name='), /the value is empty/);
});

test('the changed config is validated like the file; each new problem names the key that brings it', () => {
  const file = '/x/set.akd.json';
  const check = (sets: string[]): ReturnType<typeof validateWithOverrides> =>
    validateWithOverrides(CONFIG, file, parseOverrides(sets));
  const ok = check(['method.tauMax=1', 'student.model.hidden=[4, 4]', 'seed=7']);
  assert.deepEqual(ok.overrideProblems, []);
  assert.ok(ok.config);
  assert.equal(ok.config.seed, 7);
  assert.deepEqual(ok.config.student.model, { type: 'mlp', hidden: [4, 4] });
  assert.equal(ok.config.method.type === 'annealing' && ok.config.method.tauMax, 1);
  assert.equal(ok.config.batchSize, 128, 'defaults filled in as for the file');

  const unknown = check(['method.tauMaxx=5']);
  assert.equal(unknown.config, undefined);
  assert.equal(unknown.overrideProblems.length, 1);
  assert.equal(unknown.overrideProblems[0].key, 'method.tauMaxx');
  assert.equal(unknown.overrideProblems[0].problem.code, 'unknown-key');
  assert.match(unknown.overrideProblems[0].problem.message, /did you mean "tauMax"/);

  const type = check(['seed=1', 'method.tauMax="high"']);
  assert.deepEqual(
    type.overrideProblems.map((p) => [p.key, p.problem.code]),
    [['method.tauMax', 'type']],
  );
  // A rule across keys, broken by the new value: named by the key that broke it.
  const rule = check(['method.tauMax=5']);
  assert.deepEqual(
    rule.overrideProblems.filter((p) => p.problem.severity === 'error').map((p) => [p.key, p.problem.code]),
    [['method.tauMax', 'epochs-lt-taumax']],
  );
  const two = check(['seed=2', 'method.tauMax=5']).overrideProblems.filter(
    (p) => p.problem.severity === 'error',
  );
  assert.deepEqual(
    two.map((p) => [p.key, p.problem.path]),
    [['', 'method.phase1.epochs']],
  );
  assert.match(
    formatOverrideProblem(two[0]),
    /^with the --set values: phase 1 needs at least one epoch per temperature/,
  );
  assert.match(
    formatOverrideProblem(rule.overrideProblems[0]),
    /^--set method\.tauMax \(method\.phase1\.epochs\): /,
  );
  // An element of an array, and a whole object replaced by a wrong one.
  assert.equal(check(['student.model.hidden.0=0']).overrideProblems[0].key, 'student.model.hidden.0');
  assert.equal(check(['teacher.optimizer={"type":"rmsprop"}']).overrideProblems[0].key, 'teacher.optimizer');
  // The file's own problems keep their positions in the file and are not blamed on a key.
  const broken = validateWithOverrides(
    CONFIG.replace('"seed": 1', '"seed": -1'),
    file,
    parseOverrides(['name="b"']),
  );
  assert.equal(broken.fileProblems[0].path, 'seed');
  assert.equal(broken.fileProblems[0].line, 4);
  assert.deepEqual(broken.overrideProblems, []);
});

test('configLeaves lists every key with its value (what "Modify and Run…" offers)', () => {
  const { config } = validateWithOverrides(CONFIG, '/x/set.akd.json', []);
  assert.ok(config);
  const leaves = new Map(configLeaves(config).map((l) => [l.key, l.value]));
  assert.equal(leaves.get('method.tauMax'), 2);
  assert.deepEqual(leaves.get('student.model.hidden'), [8]);
  assert.equal(leaves.get('method.phase1.optimizer.learningRate'), 0.003);
  assert.equal(leaves.get('batchSize'), 128);
});

test('akd run --set: a bad key or value exits 2 naming it and starts nothing', async () => {
  const dir = tempDir('set-bad');
  const file = path.join(dir, 'set.akd.json');
  fs.writeFileSync(file, CONFIG);
  const unknown = await runAkd(['run', file, '--set', 'method.tauMaxx=3']);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /set\.akd\.json: --set method\.tauMaxx: unknown key "tauMaxx" \(did you mean "tauMax"\?\) \[unknown-key\]/,
  );
  const value = await runAkd(['run', file, '--set', 'batchSize=big']);
  assert.equal(value.code, 2);
  assert.match(value.stderr, /--set batchSize: .*"big" \[type\]/);
  const syntax = await runAkd(['run', file, '--set', 'method.tauMax']);
  assert.equal(syntax.code, 2);
  assert.match(syntax.stderr, /akd run: --set "method\.tauMax" is not KEY=VALUE/);
  assert.equal(fs.existsSync(path.join(dir, '.akd')), false, 'no run folder was made');
});

test('akd run --set trains the changed config: config.json has the result, summary.json the overrides', async () => {
  const dir = tempDir('set-run');
  const file = tinyScratchConfig(dir, 'set', { seed: 1, studentHidden: [8], epochs: 2 });
  const r = await runAkd([
    'run',
    file,
    '--json',
    '--set',
    'student.model.hidden=[5]',
    '--set',
    'method.epochs=1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const started = r.events[0] as RunStartedEvent;
  const expected = { 'student.model.hidden': [5], 'method.epochs': 1 };
  assert.deepEqual(started.overrides, expected);
  assert.equal(started.student.params, 784 * 5 + 5 + 5 * 10 + 10, 'the student has 5 hidden units');
  assert.equal(r.events.filter((e) => e.type === 'epoch-ended' && e.phase === 'train').length, 1);
  const config = JSON.parse(fs.readFileSync(path.join(started.runDir, 'config.json'), 'utf8'));
  assert.deepEqual(config.student.model, { type: 'mlp', hidden: [5] });
  assert.equal(config.method.epochs, 1);
  const summary = JSON.parse(fs.readFileSync(path.join(started.runDir, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.overrides, expected);
  assert.deepEqual((r.events[r.events.length - 1] as RunCompletedEvent).summary.overrides, expected);
  // The config file itself is untouched; akd show lists what was set.
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).student.model.hidden[0], 8);
  const show = await runAkd(['show', started.runDir]);
  assert.match(show.stdout, /^set {6}student\.model\.hidden=\[5\] method\.epochs=1$/m);
});
