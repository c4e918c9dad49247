/**
 * Batchnorm in training mode as one fused op on wasm (simd/gemm.c's bn_train_forward and
 * bn_train_backward), for tf.layers.batchNormalization over the last axis (ResNet's).
 *
 * tfjs-layers' BatchNormalization.call in training mode runs tf.moments, tf.batchNorm and the
 * moving-average updates as ~15 kernels per layer, and their tape gradient as dozens more
 * (Multiply, Sub, Sum, Tile, ...), each ~15 us of JavaScript on wasm, and the tape keeps several
 * full-size intermediates per layer until the backward pass. Here: one forward kernel (moments,
 * normalization, moving averages) under tf.customGrad, whose gradient is one backward kernel;
 * the tape keeps only x and two per-channel vectors. Same results as the original up to rounding
 * (the moments are summed more accurately: f32 blocks, double totals), same moving-average
 * formula (m - (m - value) * (1 - momentum) with the biased batch variance, as the original).
 * Unlike the original, center: false / scale: false work in training mode too (tfjs-layers
 * 4.22.0 reads the missing gamma/beta and throws). Second-order gradients through it are not
 * supported (the backward kernel has no gradient of its own).
 *
 * Everything else runs the original: inference, an axis other than the last, another backend,
 * no SIMD module (AKD_NO_SIMD_GEMM=1), non-float32 input, more than BN_MAX_CHANNELS channels.
 *
 * VERSION PIN: patches BatchNormalization.prototype.call of @tensorflow/tfjs-layers 4.22.0
 * (found through the serialization registry) and reads its fields (axis, momentum, epsilon,
 * center, scale, gamma, beta, movingMean, movingVariance: LayerVariables with read()/write());
 * the kernels follow wasmKernels.ts's pin (makeOutput TensorInfos). Compared with the original in
 * test/unit/backend/fusedBatchNorm.test.ts.
 */
import tfjs = require('@tensorflow/tfjs');
import { SimdGemm } from './simd/gemmModule';

type TensorInfo = tfjs.TensorInfo;
type Tensor = tfjs.Tensor;

/** Kernel names registered for 'wasm' (they show under these names in tf.profile). */
export const BN_TRAIN_KERNEL = 'AnnealKdBatchNormTrain';
export const BN_TRAIN_GRAD_KERNEL = 'AnnealKdBatchNormTrainGrad';

interface LayerVariable {
  read(): tfjs.Variable;
  write(value: Tensor): unknown;
}
interface BnFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: LayerVariable;
  beta?: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}
type Kwargs = Record<string, unknown>;
type Call = (this: tfjs.layers.Layer, inputs: Tensor | Tensor[], kwargs: Kwargs) => Tensor | Tensor[];

const MARK = '__annealKdFusedBatchNorm';

/** BatchNormalization.prototype (tfjs-layers registers the class for deserialization). */
function bnPrototype(): { call: Call & { [MARK]?: Call } } | undefined {
  const entry = tfjs.serialization.SerializationMap.getMap().classNameMap['BatchNormalization'];
  return entry?.[0]?.prototype as unknown as { call: Call & { [MARK]?: Call } } | undefined;
}

type MakeOutput = { makeOutput(shape: number[], dtype: 'float32'): TensorInfo };

function gemmOf(backend: tfjs.KernelBackend): SimdGemm {
  const gemm = SimdGemm.for(backend);
  if (!gemm) throw new Error(`${BN_TRAIN_KERNEL} needs the SIMD module (simd/gemmModule.ts) on this backend`);
  return gemm;
}

/** Outputs [y, mean, invstd, newMovingMean, newMovingVariance]. */
const forwardKernel: tfjs.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<string, TensorInfo | undefined>;
  const { epsilon, decay } = attrs as unknown as { epsilon: number; decay: number };
  const gemm = gemmOf(backend as tfjs.KernelBackend);
  const b = backend as unknown as MakeOutput;
  const c = x!.shape[x!.shape.length - 1];
  const out = {
    y: b.makeOutput(x!.shape, 'float32'),
    mean: b.makeOutput([c], 'float32'),
    invstd: b.makeOutput([c], 'float32'),
    newMean: b.makeOutput([c], 'float32'),
    newVariance: b.makeOutput([c], 'float32'),
  };
  gemm.batchNormTrain(x!, gamma, beta, movingMean!, movingVariance!, epsilon, decay, out);
  return [out.y, out.mean, out.invstd, out.newMean, out.newVariance];
};

/** Outputs [dx, dgamma, dbeta]. */
const backwardKernel: tfjs.KernelFunc = ({ inputs, backend }) => {
  const { x, dy, gamma, mean, invstd } = inputs as Record<string, TensorInfo | undefined>;
  const gemm = gemmOf(backend as tfjs.KernelBackend);
  const b = backend as unknown as MakeOutput;
  const c = x!.shape[x!.shape.length - 1];
  const dx = b.makeOutput(x!.shape, 'float32');
  const dgamma = b.makeOutput([c], 'float32');
  const dbeta = b.makeOutput([c], 'float32');
  gemm.batchNormTrainGrad(x!, dy!, gamma, mean!, invstd!, dx, dgamma, dbeta);
  return [dx, dgamma, dbeta];
};

function registerKernels(): void {
  const kernels = [
    [BN_TRAIN_KERNEL, forwardKernel],
    [BN_TRAIN_GRAD_KERNEL, backwardKernel],
  ] as const;
  for (const [kernelName, kernelFunc] of kernels) {
    if (tfjs.getKernel(kernelName, 'wasm') == null) {
      tfjs.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    }
  }
}

/** Whether this training-mode call can take the fused path. */
function fusable(layer: BnFields, x: Tensor): boolean {
  if (tfjs.getBackend() !== 'wasm' || x.dtype !== 'float32' || x.rank < 2) return false;
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + x.rank;
  const c = x.shape[x.rank - 1];
  if (axis !== x.rank - 1 || c < 1 || c > SimdGemm.BN_MAX_CHANNELS || x.size === 0) return false;
  const perChannel = (v: LayerVariable | undefined): boolean => {
    const t = v?.read();
    return t != null && t.dtype === 'float32' && t.size === c;
  };
  if ((layer.scale && !perChannel(layer.gamma)) || (layer.center && !perChannel(layer.beta))) return false;
  if (!perChannel(layer.movingMean) || !perChannel(layer.movingVariance)) return false;
  return tfjs.getKernel(BN_TRAIN_KERNEL, 'wasm') != null && SimdGemm.for(tfjs.backend()) != null;
}

/** The training-mode call: normalized x (moving averages updated as a side effect). */
function trainingCall(layer: BnFields, input: Tensor): Tensor {
  const engine = tfjs.engine();
  const gamma = layer.scale ? layer.gamma!.read() : undefined;
  const beta = layer.center ? layer.beta!.read() : undefined;
  const args = [input, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const op = tfjs.customGrad(((...fArgs: Array<Tensor | tfjs.GradSaveFunc>) => {
    const save = fArgs[args.length] as tfjs.GradSaveFunc;
    const x = fArgs[0] as Tensor;
    const g = gamma ? (fArgs[1] as Tensor) : undefined;
    const b = beta ? (fArgs[gamma ? 2 : 1] as Tensor) : undefined;
    const inputs: tfjs.NamedTensorMap = {
      x,
      movingMean: layer.movingMean.read(),
      movingVariance: layer.movingVariance.read(),
      ...(g ? { gamma: g } : {}),
      ...(b ? { beta: b } : {}),
    };
    // decay as the original's float32 scalar (1 - momentum, rounded once).
    const attrs = { epsilon: layer.epsilon, decay: Math.fround(1 - layer.momentum) };
    const [y, mean, invstd, newMean, newVariance] = engine.runKernel(
      BN_TRAIN_KERNEL,
      inputs,
      attrs as unknown as tfjs.NamedAttrMap,
    ) as Tensor[];
    // The original's doMovingAverage writes the variables in the call too; the variables take
    // their own references, the forward's tidy frees these handles.
    layer.movingMean.write(newMean);
    layer.movingVariance.write(newVariance);
    save(g ? [x, mean, invstd, g] : [x, mean, invstd]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sMean, sInvstd, sGamma] = saved;
        const gradInputs: tfjs.NamedTensorMap = {
          x: sx,
          dy,
          mean: sMean,
          invstd: sInvstd,
          ...(sGamma ? { gamma: sGamma } : {}),
        };
        const [dx, dgamma, dbeta] = engine.runKernel(BN_TRAIN_GRAD_KERNEL, gradInputs) as Tensor[];
        return [dx, ...(g ? [dgamma] : []), ...(b ? [dbeta] : [])];
      },
    };
  }) as unknown as Parameters<typeof tfjs.customGrad>[0]);
  return op(...args);
}

function fusedCall(original: Call): Call {
  const fused: Call = function (this: tfjs.layers.Layer, inputs, kwargs) {
    const layer = this as unknown as BnFields;
    const training = kwargs?.['training'] == null ? false : kwargs['training'];
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    if (!training || input == null || !fusable(layer, input)) return original.call(this, inputs, kwargs);
    return tfjs.tidy(() => trainingCall(layer, input));
  };
  (fused as Call & { [MARK]?: Call })[MARK] = original;
  return fused;
}

/** Installs the fused training path into every BatchNormalization layer (idempotent). */
export function installFusedBatchNorm(): void {
  const proto = bnPrototype();
  if (!proto || proto.call[MARK]) return;
  registerKernels();
  proto.call = fusedCall(proto.call);
}

/** Restores tfjs-layers' own BatchNormalization.call (for tests). */
export function uninstallFusedBatchNorm(): void {
  const proto = bnPrototype();
  const original = proto?.call[MARK];
  if (proto && original) proto.call = original;
}

/** Whether the fused path is installed. */
export function fusedBatchNormInstalled(): boolean {
  return bnPrototype()?.call[MARK] != null;
}
