/**
 * Gradients of plain stacks of dense layers (the "mlp" family: flatten, dense ReLU layers, a
 * dense output) computed by hand instead of through tf.layers' apply and the autograd tape.
 *
 * Why: the MLP student's step is small (13 MFLOP a batch of 128) and on wasm its time went to
 * TF.js's per-op JavaScript, not to arithmetic: the tape step launches 58 kernels (forward
 * through tf.layers, loss, accuracy, backward). Here the forward is one fused matmul + bias +
 * ReLU per layer, the loss, its gradient with respect to the logits and the correct predictions
 * are computed in JavaScript on the host copy of the logits (128 x 10 numbers), and the backward
 * is two matmuls, a bias sum and a ReLU mask per layer: ~14 kernels. Measured on the 784-32-10
 * student, batch 128, one thread: 1.5 ms -> 0.7 ms a step.
 *
 * Same mathematics as the tape (test/unit/training/denseStep.test.ts compares the gradients of
 * every objective); any other model, or a dense stack with something else in it, takes the tape.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective, ShardGradients } from './objective';

export interface DenseLayer {
  kernel: tf.Variable;
  bias: tf.Variable | null;
  relu: boolean;
}

interface DenseLike {
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
}

const stacks = new WeakMap<tf.LayersModel, DenseLayer[] | null>();

/** The model's dense layers in order if it is a flatten + dense (ReLU/linear) stack, else null. */
export function denseStackOf(model: tf.LayersModel): DenseLayer[] | null {
  const known = stacks.get(model);
  if (known !== undefined) return known;
  let stack: DenseLayer[] | null = [];
  for (const [i, layer] of model.layers.entries()) {
    const kind = layer.getClassName();
    const cfg = layer.getConfig();
    if (kind === 'Flatten' && i === 0) continue;
    const plain =
      kind === 'Dense' &&
      (cfg.activation === 'relu' || cfg.activation === 'linear') &&
      cfg.kernelRegularizer == null &&
      cfg.biasRegularizer == null &&
      cfg.activityRegularizer == null &&
      layer.trainable;
    const d = layer as unknown as DenseLike;
    if (!plain || !d.kernel) {
      stack = null;
      break;
    }
    stack.push({
      kernel: d.kernel.read() as tf.Variable,
      bias: d.bias ? (d.bias.read() as tf.Variable) : null,
      relu: cfg.activation === 'relu',
    });
  }
  if (stack && (stack.length === 0 || model.inputs.length !== 1 || model.outputs.length !== 1)) stack = null;
  stacks.set(model, stack);
  return stack;
}

/** The phase's loss (mean over the rows), its gradient with respect to the logits, the correct predictions. */
export interface LossHead {
  loss: number;
  correct: number;
  dLogits: Float32Array;
}

/** Softmax of row r of `z` divided by `temperature`, in double precision, into `out`. */
function softmaxRow(
  z: Float32Array,
  r: number,
  classes: number,
  temperature: number,
  out: Float64Array,
): void {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, z[r * classes + c] / temperature);
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    out[c] = Math.exp(z[r * classes + c] / temperature - max);
    sum += out[c];
  }
  for (let c = 0; c < classes; c++) out[c] /= sum;
}

/**
 * The losses of runner/training/losses.ts on host logits, with their gradients:
 * - ce: mean -log softmax(z)_y; dz = (softmax(z) - onehot) / B
 * - anneal: mean (z - phi t)^2 over every element; dz = 2 (z - phi t) / (B C)
 * - kd: (1-a) CE + a T^2 KL(softmax(t/T) || softmax(z/T)) batch-mean;
 *   dz = (1-a)(softmax(z) - onehot) / B + a T (softmax(z/T) - softmax(t/T)) / B
 * Correct: the first maximum of a row equals the label (tf.argMax's tie rule).
 */
export function lossHead(
  objective: Objective,
  logits: Float32Array,
  labels: Int32Array,
  targets: Float32Array | undefined,
  classes: number,
  phi: number,
): LossHead {
  const rows = labels.length;
  const dz = new Float32Array(rows * classes);
  let loss = 0;
  let correct = 0;
  const p = new Float64Array(classes);
  const ps = new Float64Array(classes);
  const pt = new Float64Array(classes);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    if (best === labels[r]) correct++;
    switch (objective.kind) {
      case 'anneal': {
        const t = targets as Float32Array;
        for (let c = 0; c < classes; c++) {
          const d = logits[r * classes + c] - phi * t[r * classes + c];
          loss += (d * d) / (rows * classes);
          dz[r * classes + c] = (2 * d) / (rows * classes);
        }
        break;
      }
      case 'ce': {
        softmaxRow(logits, r, classes, 1, p);
        loss -= Math.log(p[labels[r]]) / rows;
        for (let c = 0; c < classes; c++) dz[r * classes + c] = (p[c] - (c === labels[r] ? 1 : 0)) / rows;
        break;
      }
      case 'kd': {
        const { temperature: T, alpha: a } = objective;
        const t = targets as Float32Array;
        softmaxRow(logits, r, classes, 1, p);
        softmaxRow(logits, r, classes, T, ps);
        softmaxRow(t, r, classes, T, pt);
        let kl = 0;
        for (let c = 0; c < classes; c++) if (pt[c] > 0) kl += pt[c] * (Math.log(pt[c]) - Math.log(ps[c]));
        loss += ((1 - a) * -Math.log(p[labels[r]]) + a * T * T * kl) / rows;
        for (let c = 0; c < classes; c++) {
          dz[r * classes + c] =
            ((1 - a) * (p[c] - (c === labels[r] ? 1 : 0)) + a * T * (ps[c] - pt[c])) / rows;
        }
        break;
      }
    }
  }
  return { loss, correct, dLogits: dz };
}

/** Forward, loss head and backward of a dense stack on one (shard of a) batch of `rows` flattened rows. */
export function denseGradients(
  stack: DenseLayer[],
  objective: Objective,
  x: Float32Array,
  labels: Int32Array,
  targets: Float32Array | undefined,
  classes: number,
  phi: number,
): ShardGradients {
  const rows = labels.length;
  // hs[i] is the input of layer i; hs[L] the logits.
  const hs = tf.tidy(() => {
    const out: tf.Tensor2D[] = [tf.tensor2d(x, [rows, x.length / rows])];
    stack.forEach((l, i) => {
      out.push(
        tf.fused.matMul({
          a: out[i],
          b: l.kernel as tf.Tensor2D,
          bias: l.bias ?? undefined,
          activation: l.relu ? 'relu' : 'linear',
        }) as tf.Tensor2D,
      );
    });
    return out.map((h) => tf.keep(h));
  });
  try {
    const head = lossHead(
      objective,
      hs[stack.length].dataSync() as Float32Array,
      labels,
      targets,
      classes,
      phi,
    );
    const grads: tf.NamedTensorMap = {};
    tf.tidy(() => {
      let d: tf.Tensor2D = tf.tensor2d(head.dLogits, [rows, classes]);
      for (let i = stack.length - 1; i >= 0; i--) {
        const l = stack[i];
        if (l.relu) d = tf.mul(d, tf.step(hs[i + 1]));
        grads[l.kernel.name] = tf.keep(tf.matMul(hs[i], d, true, false));
        if (l.bias) grads[l.bias.name] = tf.keep(tf.sum(d, 0));
        if (i > 0) d = tf.matMul(d, l.kernel as tf.Tensor2D, false, true);
      }
    });
    return { grads, loss: head.loss, correct: head.correct };
  } finally {
    tf.dispose(hs);
  }
}
