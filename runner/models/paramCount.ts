/**
 * Parameter counts of the config's model families, by arithmetic only (no TF.js import), so
 * the validator and the editor can compare teacher and student without building models.
 * `buildModel.ts` must build exactly these architectures; the run checks the two agree.
 * Counts include every weight TF.js `countParams()` counts: BatchNorm has 4 per channel
 * (gamma, beta, moving mean, moving variance).
 *
 * mlp {hidden}:
 *   flatten(h*w*c) -> for each u in hidden: dense(u, bias, ReLU) -> dense(classes, bias).
 *
 * cnn {filters, dense}:
 *   for each f in filters: conv 3x3, stride 1, 'valid' padding, bias, ReLU (each shrinks the
 *   spatial size by 2) -> ONE max-pool 2x2, stride 2, 'valid' (floor), after the last conv ->
 *   flatten -> for each u in dense: dense(u, bias, ReLU) -> dense(classes, bias).
 *
 * resnet {depth = 6n+2, width w = 16} (He et al. 2016, CIFAR variant):
 *   stem: conv 3x3 (w filters, stride 1, 'same', no bias) -> BN -> ReLU
 *   3 stages with w, 2w, 4w filters, each n basic blocks; the first block of stages 2 and 3 has
 *   stride 2. Basic block with f filters and stride s:
 *     y = conv3x3(f, stride s, 'same', no bias) -> BN -> ReLU -> conv3x3(f, stride 1, 'same', no bias) -> BN
 *     shortcut = x, or, when the shape changes (s != 1 or input channels != f):
 *                conv1x1(f, stride s, no bias) -> BN
 *     out = ReLU(y + shortcut)
 *   -> global average pooling -> dense(classes, bias).
 *   (With the stem at w filters, only the first blocks of stages 2 and 3 have projections.)
 */
import type { ModelConfig, MlpModel, CnnModel, ResnetModel } from '../protocol/configTypes';

export type InputShape = [number, number, number];

const dense = (inputs: number, units: number): number => inputs * units + units;
const conv = (k: number, inChannels: number, filters: number, bias: boolean): number =>
  k * k * inChannels * filters + (bias ? filters : 0);
const batchNorm = (channels: number): number => 4 * channels;

export function countParams(model: ModelConfig, inputShape: InputShape, classes: number): number {
  switch (model.type) {
    case 'mlp':
      return mlpParams(model, inputShape, classes);
    case 'cnn':
      return cnnParams(model, inputShape, classes);
    case 'resnet':
      return resnetParams(model, inputShape, classes);
  }
}

function mlpParams(model: MlpModel, [h, w, c]: InputShape, classes: number): number {
  let inputs = h * w * c;
  let total = 0;
  for (const units of model.hidden) {
    total += dense(inputs, units);
    inputs = units;
  }
  return total + dense(inputs, classes);
}

/** Spatial size after the cnn's convs and its pool; a side <= 0 means the input is too small. */
export function cnnOutputSize(convLayers: number, [h, w]: InputShape): { height: number; width: number } {
  const afterConvs = (s: number): number => s - 2 * convLayers;
  const pool = (s: number): number => Math.floor(s / 2);
  return { height: pool(afterConvs(h)), width: pool(afterConvs(w)) };
}

/** Smallest input side a cnn with this many 3x3 'valid' convs and the 2x2 pool accepts. */
export function cnnMinInputSize(convLayers: number): number {
  return 2 * convLayers + 2;
}

function cnnParams(model: CnnModel, inputShape: InputShape, classes: number): number {
  const { height, width } = cnnOutputSize(model.filters.length, inputShape);
  if (height < 1 || width < 1) {
    throw new RangeError(
      `cnn with ${model.filters.length} convs needs inputs of at least ` +
        `${cnnMinInputSize(model.filters.length)}x${cnnMinInputSize(model.filters.length)}, got ${inputShape[0]}x${inputShape[1]}`,
    );
  }
  let channels = inputShape[2];
  let total = 0;
  for (const filters of model.filters) {
    total += conv(3, channels, filters, true);
    channels = filters;
  }
  let inputs = height * width * channels;
  for (const units of model.dense) {
    total += dense(inputs, units);
    inputs = units;
  }
  return total + dense(inputs, classes);
}

/** n in depth = 6n+2, or undefined when the depth is not of that form with n >= 1. */
export function resnetBlocksPerStage(depth: number): number | undefined {
  const n = (depth - 2) / 6;
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

function resnetParams(model: ResnetModel, [, , c]: InputShape, classes: number): number {
  const n = resnetBlocksPerStage(model.depth);
  if (n === undefined)
    throw new RangeError(`resnet depth must be 6n+2 with n >= 1 (8, 14, 20, ...), got ${model.depth}`);
  const width = model.width ?? 16;
  let total = conv(3, c, width, false) + batchNorm(width);
  let channels = width;
  for (let stage = 0; stage < 3; stage++) {
    const filters = width * 2 ** stage;
    for (let block = 0; block < n; block++) {
      const stride = stage > 0 && block === 0 ? 2 : 1;
      total += conv(3, channels, filters, false) + batchNorm(filters);
      total += conv(3, filters, filters, false) + batchNorm(filters);
      if (stride !== 1 || channels !== filters)
        total += conv(1, channels, filters, false) + batchNorm(filters);
      channels = filters;
    }
  }
  return total + dense(channels, classes);
}
