/**
 * Model builders for the three families of the config: mlp, cnn, resnet. The architectures
 * must match `paramCount.ts` (pure arithmetic, used by the validator without TF.js):
 * the run checks the two agree and fails loudly if they drift apart.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig, CnnModel, MlpModel, ResnetModel } from '../protocol/configTypes';

export interface BuildOptions {
  inputShape: [number, number, number];
  classes: number;
  seed: number;
  name: string;
}

/** A deterministic stream of seeds so every layer's initializer is reproducible from the run seed. */
class SeedStream {
  private next: number;
  constructor(seed: number) {
    this.next = (seed * 7919 + 17) >>> 0;
  }
  take(): number {
    this.next = (Math.imul(this.next, 1664525) + 1013904223) >>> 0;
    return this.next % 2147483647;
  }
}

export function buildModel(model: ModelConfig, opts: BuildOptions): tf.LayersModel {
  switch (model.type) {
    case 'mlp':
      return buildMlp(model, opts);
    case 'cnn':
      return buildCnn(model, opts);
    case 'resnet':
      return buildResnet(model, opts);
  }
}

function dense(units: number, seeds: SeedStream, name: string, activation?: 'relu'): tf.layers.Layer {
  return tf.layers.dense({
    units,
    activation,
    name,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.take() }),
  });
}

function buildMlp(cfg: MlpModel, opts: BuildOptions): tf.LayersModel {
  const seeds = new SeedStream(opts.seed);
  const m = tf.sequential({ name: opts.name });
  m.add(tf.layers.flatten({ inputShape: opts.inputShape, name: 'flatten' }));
  cfg.hidden.forEach((units, i) => m.add(dense(units, seeds, `hidden${i + 1}`, 'relu')));
  m.add(dense(opts.classes, seeds, 'logits'));
  return m;
}

function buildCnn(cfg: CnnModel, opts: BuildOptions): tf.LayersModel {
  const seeds = new SeedStream(opts.seed);
  const m = tf.sequential({ name: opts.name });
  cfg.filters.forEach((filters, i) => {
    m.add(
      tf.layers.conv2d({
        filters,
        kernelSize: 3,
        padding: 'valid',
        activation: 'relu',
        name: `conv${i + 1}`,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.take() }),
        ...(i === 0 ? { inputShape: opts.inputShape } : {}),
      }),
    );
  });
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool' }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  cfg.dense.forEach((units, i) => m.add(dense(units, seeds, `dense${i + 1}`, 'relu')));
  m.add(dense(opts.classes, seeds, 'logits'));
  return m;
}

/**
 * CIFAR-style ResNet (He et al. 2016, section 4.2): depth 6n+2; a 3x3 conv (width) + BN + ReLU,
 * three stages of n basic blocks with widths w, 2w, 4w (stride 2 at the start of stages 2 and 3),
 * global average pooling, a dense output. Shortcuts that change shape are 1x1 stride-2 convs + BN.
 */
function buildResnet(cfg: ResnetModel, opts: BuildOptions): tf.LayersModel {
  if ((cfg.depth - 2) % 6 !== 0 || cfg.depth < 8)
    throw new Error(`resnet depth must be 6n+2 (8, 14, 20, ...), got ${cfg.depth}`);
  const n = (cfg.depth - 2) / 6;
  const width = cfg.width ?? 16;
  const seeds = new SeedStream(opts.seed);
  const conv = (filters: number, kernelSize: number, strides: number, name: string): tf.layers.Layer =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      name,
      kernelInitializer: tf.initializers.heNormal({ seed: seeds.take() }),
    });
  const bn = (name: string): tf.layers.Layer =>
    tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5, name });
  const relu = (name: string): tf.layers.Layer => tf.layers.activation({ activation: 'relu', name });

  const input = tf.input({ shape: opts.inputShape, name: 'input' });
  let x = conv(width, 3, 1, 'stem_conv').apply(input) as tf.SymbolicTensor;
  x = bn('stem_bn').apply(x) as tf.SymbolicTensor;
  x = relu('stem_relu').apply(x) as tf.SymbolicTensor;
  let channels = width;
  for (let stage = 0; stage < 3; stage++) {
    const filters = width * 2 ** stage;
    for (let block = 0; block < n; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const p = `s${stage + 1}b${block + 1}`;
      let y = conv(filters, 3, stride, `${p}_conv1`).apply(x) as tf.SymbolicTensor;
      y = bn(`${p}_bn1`).apply(y) as tf.SymbolicTensor;
      y = relu(`${p}_relu1`).apply(y) as tf.SymbolicTensor;
      y = conv(filters, 3, 1, `${p}_conv2`).apply(y) as tf.SymbolicTensor;
      y = bn(`${p}_bn2`).apply(y) as tf.SymbolicTensor;
      let shortcut = x;
      if (stride !== 1 || channels !== filters) {
        shortcut = conv(filters, 1, stride, `${p}_proj`).apply(x) as tf.SymbolicTensor;
        shortcut = bn(`${p}_proj_bn`).apply(shortcut) as tf.SymbolicTensor;
      }
      x = tf.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
      x = relu(`${p}_out`).apply(x) as tf.SymbolicTensor;
      channels = filters;
    }
  }
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({
      units: opts.classes,
      name: 'logits',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.take() }),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: opts.name });
}
