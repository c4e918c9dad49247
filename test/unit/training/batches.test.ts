import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchCount, epochOrder, gatherBatch, gatherRows } from '../../../runner/training/batches';
import { learningRateAt } from '../../../runner/training/optimizers';

test('epoch order is a permutation that depends only on (seed, phase, epoch)', () => {
  const a = epochOrder(100, 42, 'anneal', 3);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.deepEqual(a, epochOrder(100, 42, 'anneal', 3));
  assert.notDeepEqual(a, epochOrder(100, 42, 'anneal', 4));
  assert.notDeepEqual(a, epochOrder(100, 43, 'anneal', 3));
  assert.notDeepEqual(a, epochOrder(100, 42, 'finetune', 3));
});

test('batches gather the right samples and the last one is short', () => {
  const n = 5,
    size = 2;
  const split = {
    x: Float32Array.from({ length: n * size }, (_, i) => i),
    y: Int32Array.from([0, 1, 2, 3, 4]),
    n,
  };
  const order = Int32Array.from([4, 2, 0, 1, 3]);
  assert.equal(batchCount(n, 2), 3);
  const b0 = gatherBatch(split, size, order, 0, 2);
  assert.deepEqual([...b0.x], [8, 9, 4, 5]);
  assert.deepEqual([...b0.y], [4, 2]);
  const b2 = gatherBatch(split, size, order, 2, 2);
  assert.equal(b2.size, 1);
  assert.deepEqual([...b2.y], [3]);
  assert.deepEqual(
    [...gatherRows(Float32Array.from([0, 0, 1, 1, 2, 2]), 2, Int32Array.from([2, 0]))],
    [2, 2, 0, 0],
  );
});

test('step LR schedule: x gamma at each milestone fraction of the phase', () => {
  const cfg = {
    type: 'sgd' as const,
    learningRate: 0.1,
    schedule: { type: 'step' as const, milestones: [0.5, 0.75], gamma: 0.1 },
  };
  const lrs = Array.from({ length: 8 }, (_, e) => learningRateAt(cfg, e, 8));
  const want = [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001];
  lrs.forEach((lr, i) => assert.ok(Math.abs(lr - want[i]) < 1e-12, `epoch ${i}: ${lr}`));
  assert.equal(learningRateAt({ type: 'adam', learningRate: 0.001 }, 5, 8), 0.001);
});
