// The TF.js -> ONNX converter and the int8 quantizer on small models with random weights and
// random batchnorm statistics, run in the real onnxruntime-node against TF.js itself: every layer
// the runner builds, 'same' padding on odd and even sizes with strides, batchnorm after conv and
// dense layers, CIFAR's per-channel normalisation, flattening after NCHW convolutions, residual
// adds, global average pooling; then the QDQ form and what ONNX Runtime makes of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tfjs = require('@tensorflow/tfjs');
import { convGeometry, layersToOnnx, UnsupportedModelError } from '../../../runner/export/layersToOnnx';
import { decodeModel, encodeModel, tensorValues } from '../../../runner/export/onnxProto';
import { quantizeGraph, tensorsToCalibrate } from '../../../runner/export/quantize';
import { calibrate } from '../../../runner/export/onnxRuntime';
import { normalizePixels, type PixelNormalization } from '../../../runner/data/dataset';
import type { Graph } from '../../../runner/export/graph';
import { optimizedOpTypes, relErr, runOnnx } from '../../helpers/onnx';

const tf = tfjs;
const CIFAR: PixelNormalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
const GREY: PixelNormalization = { mean: [0], std: [1] };

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pixels(n: number, shape: number[], seed: number): Uint8Array {
  const r = seeded(seed);
  return Uint8Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => Math.floor(r() * 256));
}

/** Random batchnorm statistics (TF.js initialises them to 0 and 1, which would hide a wrong fold). */
function randomizeBatchNorms(model: tfjs.LayersModel, seed: number): void {
  const r = seeded(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    layer.setWeights(
      layer.getWeights().map((w) => {
        const kind = w.shape.length === 1 ? layer.weights[layer.getWeights().indexOf(w)].originalName : '';
        const values = Float32Array.from({ length: w.size }, () =>
          kind.endsWith('moving_variance') ? 0.2 + r() * 2 : kind.endsWith('gamma') ? 0.5 + r() : r() - 0.5,
        );
        return tf.tensor(values, w.shape);
      }),
    );
  }
}

async function compare(
  model: tfjs.LayersModel,
  shape: [number, number, number],
  normalization: PixelNormalization,
  n = 5,
): Promise<{ graph: Graph; bytes: Uint8Array; rel: number }> {
  const graph = layersToOnnx(model, { inputShape: shape, normalization });
  const bytes = encodeModel(graph.toModel({ name: 't', docString: '', metadata: {}, producerVersion: '0' }));
  const raw = pixels(n, shape, 7);
  const expected = tf.tidy(
    () =>
      (
        model.predict(tf.tensor(normalizePixels(raw, normalization), [n, ...shape])) as tfjs.Tensor
      ).dataSync() as Float32Array,
  );
  const got = await runOnnx(bytes, raw, [n, ...shape]);
  assert.deepEqual(got.dims, [n, model.outputs[0].shape[1]]);
  return { graph, bytes, rel: relErr(got.logits, expected) };
}

test("convGeometry reproduces TF's 'same' and 'valid' padding (odd pixel at the end)", () => {
  assert.deepEqual(convGeometry([28, 28], [3, 3], [2, 2], [1, 1], 'same'), {
    pads: [0, 0, 1, 1],
    out: [14, 14],
  });
  assert.deepEqual(convGeometry([7, 9], [3, 3], [2, 2], [1, 1], 'same'), { pads: [1, 1, 1, 1], out: [4, 5] });
  assert.deepEqual(convGeometry([32, 32], [3, 3], [1, 1], [1, 1], 'same'), {
    pads: [1, 1, 1, 1],
    out: [32, 32],
  });
  assert.deepEqual(convGeometry([32, 32], [1, 1], [2, 2], [1, 1], 'same'), {
    pads: [0, 0, 0, 0],
    out: [16, 16],
  });
  assert.deepEqual(convGeometry([28, 28], [3, 3], [1, 1], [1, 1], 'valid'), {
    pads: [0, 0, 0, 0],
    out: [26, 26],
  });
  assert.deepEqual(convGeometry([9, 9], [2, 2], [2, 2], [1, 1], 'valid'), {
    pads: [0, 0, 0, 0],
    out: [4, 4],
  });
});

test('a sequential CNN with batchnorm after a conv and after a dense layer, on CIFAR-normalised RGB, matches TF.js', async () => {
  const m = tf.sequential();
  m.add(
    tf.layers.conv2d({
      inputShape: [9, 11, 3],
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: false,
    }),
  );
  m.add(tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5 }));
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'valid', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 8 }));
  m.add(tf.layers.batchNormalization({ axis: -1 }));
  m.add(tf.layers.activation({ activation: 'relu' }));
  m.add(tf.layers.dense({ units: 5 }));
  randomizeBatchNorms(m, 3);
  const { graph, rel } = await compare(m, [9, 11, 3], CIFAR);
  assert.ok(rel < 1e-5, `relative logit error ${rel}`);
  const ops = graph.nodes.map((n) => n.opType);
  // Both batchnorms folded away: no Mul/Add of their own; the normalisation is Div, Sub, Div.
  assert.ok(
    !ops.includes('BatchNormalization') && !ops.includes('Mul') && !ops.includes('Add'),
    ops.join(','),
  );
  assert.deepEqual(ops.slice(0, 3), ['Div', 'Sub', 'Div']);
  // One transpose into NCHW; flattening after the convolutions needs none (the dense rows are permuted).
  assert.equal(ops.filter((o) => o === 'Transpose').length, 1);
});

test('a functional ResNet block (projection shortcut, residual add, global and average pooling) matches TF.js', async () => {
  const input = tf.input({ shape: [8, 8, 1] });
  const conv = (f: number, k: number, s: number): tfjs.layers.Layer =>
    tf.layers.conv2d({ filters: f, kernelSize: k, strides: s, padding: 'same', useBias: false });
  const bn = (): tfjs.layers.Layer => tf.layers.batchNormalization({ axis: -1, epsilon: 1e-5 });
  const relu = (): tfjs.layers.Layer => tf.layers.activation({ activation: 'relu' });
  let x = relu().apply(bn().apply(conv(4, 3, 1).apply(input))) as tfjs.SymbolicTensor;
  let y = relu().apply(bn().apply(conv(8, 3, 2).apply(x))) as tfjs.SymbolicTensor;
  y = bn().apply(conv(8, 3, 1).apply(y)) as tfjs.SymbolicTensor;
  const shortcut = bn().apply(conv(8, 1, 2).apply(x)) as tfjs.SymbolicTensor;
  x = relu().apply(tf.layers.add().apply([y, shortcut])) as tfjs.SymbolicTensor;
  x = tf.layers
    .averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' })
    .apply(x) as tfjs.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tfjs.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(x) as tfjs.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  randomizeBatchNorms(model, 11);
  const { graph, bytes, rel } = await compare(model, [8, 8, 1], GREY, 6);
  assert.ok(rel < 1e-5, `relative logit error ${rel}`);
  assert.equal(graph.nodes.filter((n) => n.opType === 'Conv').length, 4);

  // int8 QDQ: every convolution, the add, the pooling and the dense layer run as integer kernels.
  const images = { pixels: pixels(64, [8, 8, 1], 5), n: 64, shape: [8, 8, 1] as [number, number, number] };
  const ranges = await calibrate(graph, tensorsToCalibrate(graph), images);
  for (const [t, r] of ranges)
    assert.ok(Number.isFinite(r.min) && r.max >= r.min, `${t}: ${JSON.stringify(r)}`);
  quantizeGraph(graph, ranges);
  const int8 = encodeModel(graph.toModel({ name: 't', docString: '', metadata: {}, producerVersion: '0' }));
  const ops = await optimizedOpTypes(int8);
  for (const float of ['Conv', 'Gemm', 'MatMul', 'Add', 'GlobalAveragePool', 'DequantizeLinear'])
    assert.equal(ops.get(float), undefined, `${float} still runs in float: ${JSON.stringify([...ops])}`);
  assert.equal(ops.get('QLinearConv') ?? ops.get('com.microsoft:QLinearConv'), 4);
  assert.equal(ops.get('com.microsoft:QLinearAdd'), 1);
  assert.equal(ops.get('com.microsoft:QLinearGlobalAveragePool'), 1);
  assert.equal(ops.get('com.microsoft:QGemm'), 1);
  // And it still computes the same function, to 8-bit precision.
  const raw = pixels(6, [8, 8, 1], 7);
  const a = await runOnnx(bytes, raw, [6, 8, 8, 1]);
  const b = await runOnnx(int8, raw, [6, 8, 8, 1]);
  assert.ok(relErr(b.logits, a.logits) < 0.1, `int8 vs fp32: ${relErr(b.logits, a.logits)}`);
});

test('the file round-trips through the protobuf schema: opset, IR version, dynamic batch, initializers', async () => {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [4, 4, 1] }));
  m.add(tf.layers.dense({ units: 3 }));
  const graph = layersToOnnx(m, { inputShape: [4, 4, 1], normalization: GREY });
  const bytes = encodeModel(
    graph.toModel({ name: 'g', docString: 'doc', metadata: { k: 'v' }, producerVersion: '1' }),
  );
  const back = decodeModel(bytes);
  assert.equal(back.irVersion, 8);
  assert.deepEqual(
    back.opsetImport.map((o) => [o.domain, o.version]),
    [['', 13]],
  );
  assert.deepEqual(
    back.metadataProps.map((p) => [p.key, p.value]),
    [['k', 'v']],
  );
  const dims = back.graph.input[0].type.tensorType.shape!.dim;
  assert.deepEqual(
    dims,
    [{ dimParam: 'N' }, { dimValue: 4 }, { dimValue: 4 }, { dimValue: 1 }].map((d) => ({
      denotation: '',
      ...d,
    })),
  );
  assert.equal(back.graph.output[0].name, 'logits');
  const kernel = m.layers[1].getWeights()[0].dataSync();
  const weight = back.graph.initializer.find((t) => t.name.endsWith('.weight'))!;
  assert.deepEqual(weight.dims, [3, 16]); // stored [out, in] for Gemm transB=1
  const w = tensorValues(weight);
  assert.equal(w[1 * 16 + 5], kernel[5 * 3 + 1]);
  // Batch sizes the graph never saw: 1 and 13.
  for (const n of [1, 13])
    assert.deepEqual((await runOnnx(bytes, pixels(n, [4, 4, 1], n), [n, 4, 4, 1])).dims, [n, 3]);
});

test('a layer without an ONNX translation is refused with a one-line error naming the layer', () => {
  const softmax = tf.sequential();
  softmax.add(tf.layers.flatten({ inputShape: [4, 4, 1] }));
  softmax.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }));
  assert.throws(
    () => layersToOnnx(softmax, { inputShape: [4, 4, 1], normalization: GREY }),
    (e: Error) =>
      e instanceof UnsupportedModelError &&
      /^layer "probs" \(Dense\): activation "softmax"/.test(e.message) &&
      !e.message.includes('\n'),
  );
  const lstm = tf.sequential();
  lstm.add(tf.layers.reshape({ inputShape: [4, 4, 1], targetShape: [4, 4] }));
  lstm.add(tf.layers.lstm({ units: 2, name: 'memory' }));
  assert.throws(
    () => layersToOnnx(lstm, { inputShape: [4, 4, 1], normalization: GREY }),
    /layer "[^"]+" \(Reshape\): this layer type has no ONNX translation/,
  );
});
