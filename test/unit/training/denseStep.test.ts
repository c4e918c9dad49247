// The hand-differentiated step for dense stacks (runner/training/denseStep.ts) against the
// autograd tape on the same model and batch: loss, correct count and every gradient, for each
// objective (ce, kd, anneal), on wasm (the SIMD kernels) and cpu; and which models take it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../runner/backend/selectBackend';
import { buildModel } from '../../../runner/models/buildModel';
import type { ModelConfig } from '../../../runner/protocol/configTypes';
import type { Objective } from '../../../runner/training/objective';
import { computeGradients, tapeGradients } from '../../../runner/training/stepGradients';
import { denseStackOf } from '../../../runner/training/denseStep';

function rand(n: number, seed: number, scale = 1): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = scale * (s / 2 ** 31 - 1);
  }
  return v;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-12);
}

const objectives: Objective[] = [
  { kind: 'ce' },
  { kind: 'kd', temperature: 4, alpha: 0.7 },
  { kind: 'anneal', steps: [] },
];
const shape: [number, number, number] = [4, 5, 2];
const classes = 6;
const rows = 37;

for (const backend of ['wasm', 'cpu'] as const) {
  for (const hidden of [[16, 9], []]) {
    test(`dense stack ${JSON.stringify(hidden)} on ${backend}: hand gradients equal the tape's for ce, kd, anneal`, async () => {
      await selectBackend(backend);
      const model = buildModel({ type: 'mlp', hidden }, { inputShape: shape, classes, seed: 5, name: 'm' });
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      assert.equal(denseStackOf(model)?.length, hidden.length + 1);
      const x = rand(rows * 40, 1);
      const y = Int32Array.from(rand(rows, 2), (v) => Math.floor(((v + 1) / 2) * classes));
      const targets = rand(rows * classes, 3, 4);
      for (const objective of objectives) {
        const before = tf.memory().numTensors;
        const hand = computeGradients(model, objective, vars, { x, y, targets }, shape, classes, 0.3);
        const xt = tf.tensor(x, [rows, ...shape]);
        const yt = tf.tensor1d(y, 'int32');
        const tt = tf.tensor2d(targets, [rows, classes]);
        const tape = tapeGradients(model, objective, vars, xt, yt, tt, 0.3);
        tf.dispose([xt, yt, tt]);
        assert.ok(
          Math.abs(hand.loss - tape.loss) <= 1e-5 * Math.max(1, Math.abs(tape.loss)),
          `${objective.kind}: loss ${hand.loss} vs ${tape.loss}`,
        );
        assert.equal(hand.correct, tape.correct, `${objective.kind}: correct`);
        assert.deepEqual(Object.keys(hand.grads).sort(), Object.keys(tape.grads).sort());
        for (const v of vars) {
          const e = maxRelDiff(
            hand.grads[v.name].dataSync() as Float32Array,
            tape.grads[v.name].dataSync() as Float32Array,
          );
          assert.ok(e < 1e-5, `${objective.kind} ${v.name}: relative difference ${e.toExponential(2)}`);
        }
        tf.dispose([...Object.values(hand.grads), ...Object.values(tape.grads)]);
        assert.equal(tf.memory().numTensors, before, `${objective.kind}: no tensor left behind`);
      }
      model.dispose();
    });
  }
}

test('only flatten + dense ReLU/linear stacks take the hand path', async () => {
  await selectBackend('cpu');
  const build = (m: ModelConfig, s: [number, number, number] = [8, 8, 1]): tf.LayersModel =>
    buildModel(m, { inputShape: s, classes: 3, seed: 1, name: 'm' });
  const cnn = build({ type: 'cnn', filters: [2], dense: [4] });
  assert.equal(denseStackOf(cnn), null);
  const seq = tf.sequential({
    layers: [
      tf.layers.dense({ units: 4, inputShape: [3], activation: 'tanh' }),
      tf.layers.dense({ units: 2 }),
    ],
  });
  assert.equal(denseStackOf(seq), null, 'tanh is not handled by hand');
  const mlp = build({ type: 'mlp', hidden: [4] });
  assert.deepEqual(
    denseStackOf(mlp)?.map((l) => l.relu),
    [true, false],
  );
  tf.dispose([cnn, seq, mlp].flatMap((m) => m.weights.map((w) => w.read())));
});
