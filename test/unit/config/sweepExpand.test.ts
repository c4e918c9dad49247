/** Sweep expansion and sweep validation: pure functions, no training. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import type {
  ExperimentConfig,
  KdMethod,
  TakdMethod,
  AnnealingMethod,
  ScratchMethod,
} from '../../../runner/protocol/configTypes';
import { validateConfigText } from '../../../runner/config/validate';
import {
  annealingSplit,
  cartesian,
  defaultAssistantModel,
  expandSweep,
  gridKeyApplies,
  methodFor,
  setPath,
  studentEpochBudget,
  valueLabel,
} from '../../../runner/config/sweepExpand';
import { canonicalJson, teacherCacheKey } from '../../../runner/sweep/teacherCache';

const adam = (learningRate: number) => ({ type: 'adam' as const, learningRate });

function base(sweep?: ExperimentConfig['sweep']): ExperimentConfig {
  return {
    name: 'gap',
    seed: 42,
    data: { dataset: 'mnist', trainLimit: 2000, testLimit: 500 },
    teacher: { model: { type: 'cnn', filters: [32, 64], dense: [128] }, epochs: 2, optimizer: adam(0.001) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: {
      type: 'annealing',
      tauMax: 10,
      phase1: { epochs: 10, optimizer: adam(0.003) },
      phase2: { epochs: 5, optimizer: adam(0.001) },
    },
    batchSize: 128,
    backend: 'wasm',
    ...(sweep ? { sweep } : {}),
  };
}

test('derived methods get the same student epoch budget and the phase-1 optimizer', () => {
  const c = base();
  assert.equal(studentEpochBudget(c.method), 15);
  const scratch = methodFor(c, 'scratch') as ScratchMethod;
  assert.deepEqual(scratch, { type: 'scratch', epochs: 15, optimizer: adam(0.003) });
  const kd = methodFor(c, 'kd') as KdMethod;
  assert.deepEqual(kd, { type: 'kd', epochs: 15, optimizer: adam(0.003), temperature: 4, alpha: 0.9 });
  const takd = methodFor(c, 'takd') as TakdMethod;
  assert.equal(takd.epochs, 15);
  assert.deepEqual(takd.assistant, { model: { type: 'mlp', hidden: [32] } });
  // Its own type: the config's method as written.
  assert.deepEqual(methodFor(c, 'annealing'), c.method);
  // From a kd base, annealing splits the budget about 2:1 with whole temperature steps.
  const fromKd = {
    ...c,
    method: { type: 'kd', epochs: 30, optimizer: adam(0.002), temperature: 2, alpha: 0.5 } as KdMethod,
  };
  const ann = methodFor(fromKd, 'annealing') as AnnealingMethod;
  assert.deepEqual([ann.tauMax, ann.phase1.epochs, ann.phase2.epochs], [10, 20, 10]);
  assert.equal(studentEpochBudget(ann), 30);
  assert.deepEqual((methodFor(fromKd, 'takd') as TakdMethod).temperature, 2);
});

test('annealingSplit: phase 1 a multiple of tauMax, never more than the budget', () => {
  assert.deepEqual(annealingSplit(15), { tauMax: 10, phase1: 10, phase2: 5 });
  assert.deepEqual(annealingSplit(6), { tauMax: 4, phase1: 4, phase2: 2 });
  assert.deepEqual(annealingSplit(1), { tauMax: 1, phase1: 1, phase2: 0 });
  for (let b = 1; b <= 60; b++) {
    const s = annealingSplit(b);
    assert.equal(s.phase1 + s.phase2, b);
    assert.equal(s.phase1 % s.tauMax, 0);
    assert.ok(s.phase1 >= s.tauMax);
  }
});

test('default TAKD assistants sit between teacher and student', () => {
  assert.deepEqual(defaultAssistantModel({ type: 'mlp', hidden: [] }, undefined), {
    type: 'mlp',
    hidden: [32],
  });
  assert.deepEqual(defaultAssistantModel({ type: 'cnn', filters: [8], dense: [16] }, undefined), {
    type: 'cnn',
    filters: [16],
    dense: [32],
  });
  // ResNet-110 -> ResNet-8: n = round(sqrt(18 * 1)) = 4, depth 26.
  assert.deepEqual(defaultAssistantModel({ type: 'resnet', depth: 8 }, { type: 'resnet', depth: 110 }), {
    type: 'resnet',
    depth: 26,
  });
});

test('methodSettings merge over the derived defaults; models and optimizers are replaced whole', () => {
  const c = base({
    methodSettings: {
      kd: { temperature: 2, optimizer: { type: 'sgd', learningRate: 0.1 } },
      takd: { assistant: { model: { type: 'cnn', filters: [8], dense: [] } } },
      annealing: { tauMax: 5 },
    },
  });
  const kd = methodFor(c, 'kd') as KdMethod;
  assert.deepEqual(kd, {
    type: 'kd',
    epochs: 15,
    optimizer: { type: 'sgd', learningRate: 0.1 },
    temperature: 2,
    alpha: 0.9,
  });
  assert.deepEqual((methodFor(c, 'takd') as TakdMethod).assistant, {
    model: { type: 'cnn', filters: [8], dense: [] },
  });
  const ann = methodFor(c, 'annealing') as AnnealingMethod;
  assert.equal(ann.tauMax, 5);
  assert.equal(ann.phase1.epochs, 10);
});

test("grid keys: global, one method's, or every method that has the key", () => {
  const c = base();
  assert.equal(gridKeyApplies('student.model.hidden', methodFor(c, 'scratch')), true);
  assert.equal(gridKeyApplies('kd.temperature', methodFor(c, 'kd')), true);
  assert.equal(gridKeyApplies('kd.temperature', methodFor(c, 'takd')), false);
  assert.equal(gridKeyApplies('method.temperature', methodFor(c, 'takd')), true);
  assert.equal(gridKeyApplies('method.temperature', methodFor(c, 'scratch')), false);
  assert.equal(gridKeyApplies('method.tauMax', methodFor(c, 'annealing')), true);
  assert.deepEqual(
    cartesian([
      ['a', [1, 2]],
      ['b', ['x', 'y', 'z']],
    ]).length,
    6,
  );
  assert.deepEqual(cartesian([]), [{}]);
  const o: Record<string, unknown> = { student: { model: { type: 'mlp', hidden: [8] } } };
  setPath(o, ['student', 'model', 'hidden'], [16, 16]);
  setPath(o, ['data', 'trainLimit'], 100);
  assert.deepEqual(o, { student: { model: { type: 'mlp', hidden: [16, 16] } }, data: { trainLimit: 100 } });
  assert.equal(valueLabel([16, 32]), '16x32');
  assert.equal(valueLabel([]), 'none');
  assert.equal(valueLabel(0.5), '0.5');
});

test('expandSweep: seeds x methods x applicable grid points, unique ids, teacher seed pinned', () => {
  const c = base({
    seeds: [1, 2, 3],
    methods: ['scratch', 'kd', 'takd', 'annealing'],
    grid: { 'kd.temperature': [2, 4, 8], 'method.tauMax': [5, 10], 'student.model.hidden': [[8], [16]] },
  });
  const members = expandSweep(c);
  // per seed: scratch 2 (hidden), kd 3x2, takd 2, annealing 2x2 = 14
  assert.equal(members.length, 3 * 14);
  assert.equal(new Set(members.map((m) => m.id)).size, members.length);
  assert.deepEqual(
    members.map((m) => m.index),
    members.map((_, i) => i),
  );
  for (const m of members) {
    assert.equal(m.config.seed, m.seed);
    assert.equal(
      (m.config.teacher as { seed?: number }).seed,
      42,
      'every member shares the teacher trained with the config seed',
    );
    assert.equal(m.config.sweep, undefined);
    assert.equal(m.config.method.type, m.method);
    assert.equal(studentEpochBudget(m.config.method), 15, 'same student budget for every method');
  }
  const kd = members.filter((m) => m.method === 'kd' && m.seed === 1);
  assert.deepEqual(
    kd.map((m) => (m.config.method as KdMethod).temperature),
    [2, 2, 4, 4, 8, 8],
  );
  assert.deepEqual(kd[0].overrides, { 'kd.temperature': 2, 'student.model.hidden': [8] });
  const ann = members.find((m) => m.method === 'annealing' && m.overrides['method.tauMax'] === 5)!;
  assert.equal((ann.config.method as AnnealingMethod).tauMax, 5);
  assert.match(ann.id, /^annealing-tauMax5-hidden8-s1$/);
  // Flags override the block.
  assert.equal(expandSweep(c, { seeds: [9], methods: ['scratch'] }).length, 2);
  // No sweep block: one member, the config itself.
  const single = expandSweep(base());
  assert.equal(single.length, 1);
  assert.equal(single[0].id, 'annealing-s42');
});

test('tied grid keys vary several paths together (a fixed phase-1 + phase-2 budget)', () => {
  const c = base({
    methods: ['scratch', 'annealing'],
    grid: {
      'annealing.phase1.epochs,annealing.phase2.epochs': [
        [10, 20],
        [20, 10],
      ],
      'annealing.tauMax': [5, 10],
    },
  });
  const members = expandSweep(c);
  assert.equal(members.length, 1 + 2 * 2);
  const ann = members.filter((m) => m.method === 'annealing');
  assert.deepEqual(
    ann.map((m) => [
      (m.config.method as AnnealingMethod).phase1.epochs,
      (m.config.method as AnnealingMethod).phase2.epochs,
      (m.config.method as AnnealingMethod).tauMax,
    ]),
    [
      [10, 20, 5],
      [10, 20, 10],
      [20, 10, 5],
      [20, 10, 10],
    ],
  );
  for (const m of ann) assert.equal(studentEpochBudget(m.config.method), 30);
  assert.deepEqual(ann[0].overrides, {
    'annealing.phase1.epochs': 10,
    'annealing.phase2.epochs': 20,
    'annealing.tauMax': 5,
  });
  assert.equal(ann[0].id, 'annealing-phase1.epochs10-phase2.epochs20-tauMax5-s42');
  // A tuple of the wrong length is an error at that value.
  const bad = validate(
    base({ grid: { 'annealing.phase1.epochs,annealing.phase2.epochs': [[10, 20], [30]] } }),
  );
  assert.ok(
    bad.problems.some(
      (p) =>
        p.code === 'sweep-grid-key' &&
        p.path === 'sweep.grid.annealing.phase1.epochs,annealing.phase2.epochs[1]',
    ),
    JSON.stringify(bad.problems),
  );
});

test('teacher cache key: same teacher and data, same key, whatever the key order; anything else differs', () => {
  const t = { model: { type: 'mlp' as const, hidden: [64] }, epochs: 2, optimizer: adam(0.001), seed: 1 };
  const reordered = {
    seed: 1,
    optimizer: { learningRate: 0.001, type: 'adam' as const },
    epochs: 2,
    model: { hidden: [64], type: 'mlp' as const },
  };
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  assert.equal(teacherCacheKey(t, 128, 'f'), teacherCacheKey(reordered, 128, 'f'));
  assert.notEqual(teacherCacheKey(t, 128, 'f'), teacherCacheKey(t, 64, 'f'));
  assert.notEqual(teacherCacheKey(t, 128, 'f'), teacherCacheKey(t, 128, 'g'));
  assert.notEqual(teacherCacheKey(t, 128, 'f'), teacherCacheKey({ ...t, seed: 2 }, 128, 'f'));
  // Augmentation and the reference protocol change the teacher's weights; their defaults keep old keys.
  const base = teacherCacheKey(t, 128, 'f');
  assert.equal(teacherCacheKey(t, 128, 'f', { augment: { randomCrop: 0 }, protocol: 'held-out' }), base);
  assert.notEqual(teacherCacheKey(t, 128, 'f', { augment: { randomCrop: 4 } }), base);
  assert.notEqual(teacherCacheKey(t, 128, 'f', { augment: { horizontalFlip: true } }), base);
  assert.notEqual(teacherCacheKey(t, 128, 'f', { protocol: 'reference' }), base);
});

// ---------------------------------------------------------------- validation

const CONFIG_PATH = path.join(os.tmpdir(), 'akd-sweep-validate', 'x.akd.json');
const validate = (c: unknown) => validateConfigText(JSON.stringify(c, null, 2), CONFIG_PATH);

test('validation: TAKD configs, assistant size, sweep keys and every expanded member', () => {
  const takd = {
    ...base(),
    method: {
      type: 'takd',
      assistant: { model: { type: 'mlp', hidden: [64] }, epochs: 3 },
      epochs: 5,
      optimizer: adam(0.003),
    },
  };
  const ok = validate(takd);
  assert.deepEqual(
    ok.problems.filter((p) => p.severity !== 'info'),
    [],
  );
  assert.equal((ok.config!.method as TakdMethod).temperature, 4, 'schema defaults fill temperature');
  const big = validate({
    ...takd,
    method: { ...takd.method, assistant: { model: { type: 'cnn', filters: [64, 64], dense: [256] } } },
  });
  assert.ok(
    big.problems.some(
      (p) => p.code === 'assistant-size' && p.path === 'method.assistant.model' && p.severity === 'warning',
    ),
  );
  const missing = validate({ ...takd, method: { type: 'takd', epochs: 5, optimizer: adam(0.003) } });
  assert.ok(missing.problems.some((p) => p.code === 'missing-key' && p.path === 'method.assistant'));

  const seedKey = validate(base({ grid: { seed: [1, 2] } }));
  assert.ok(
    seedKey.problems.some((p) => p.code === 'sweep-grid-key' && /sweep\.seeds/.test(p.message)),
    JSON.stringify(seedKey.problems),
  );
  const unknownRoot = validate(base({ grid: { 'studnet.model.hidden': [[8]] } }));
  assert.ok(unknownRoot.problems.some((p) => p.code === 'sweep-grid-key'));
  const dup = validate(base({ seeds: [1, 2, 1] }));
  assert.ok(dup.problems.some((p) => p.code === 'sweep-duplicate' && p.path === 'sweep.seeds[2]'));
  const badMethod = validate(base({ methods: ['scratch', 'distil' as never] }));
  assert.ok(badMethod.problems.some((p) => p.code === 'enum' && p.path === 'sweep.methods[1]'));

  // A member that is invalid only after expansion: annealing with tauMax 20 > its 10 phase-1 epochs.
  const member = validate(
    base({ methods: ['kd', 'annealing'], methodSettings: { annealing: { tauMax: 20 } } }),
  );
  const p = member.problems.find((x) => x.code === 'sweep-member');
  assert.ok(p, JSON.stringify(member.problems));
  assert.equal(p.severity, 'error');
  assert.equal(p.path, 'sweep.methodSettings.annealing');
  assert.match(p.message, /annealing-s42: method\.phase1\.epochs: .*tauMax 20/);
  assert.equal(member.config, undefined);
  // A grid value that breaks members is reported at its grid key.
  const grid = validate(base({ grid: { 'student.model.hidden': [[8], [0]] } }));
  assert.ok(
    grid.problems.some((x) => x.code === 'sweep-member' && x.path === 'sweep.grid.student.model.hidden'),
    JSON.stringify(grid.problems),
  );
});
