/**
 * No input gradient for a convolution whose input nobody differentiates (ResNet's stem reads the
 * image: its dx was 2.5% of a ResNet-8 step).
 *
 * tfjs-layers runs every Conv2D layer through tf.fused.conv2d. Under a gradient tape, tfjs-core
 * 4.22.0 keeps the linear case (ResNet's convolutions: no bias, batchnorm follows) fused, and
 * the fused op's gradient is a tf.customGrad that computes dx and dW together, eagerly, so the
 * tape cannot skip dx even when x is the input image. The same convolution as a plain tf.conv2d
 * has tfjs-core's registered Conv2D gradient, which computes each input's gradient only if the
 * tape asks for it. A linear fused conv2d without bias is exactly a plain conv2d (the same
 * Conv2D/FusedConv2D wasm kernel runs: wasmKernels.ts), so on wasm, under a tape, it becomes one.
 * Everything else (a bias, an activation, PReLU weights, no tape, another backend) runs the
 * original op unchanged.
 *
 * VERSION PIN: replaces the `conv2d` property of @tensorflow/tfjs-core 4.22.0's `fused` namespace
 * object (a plain object; tfjs-layers reads `tfc.fused.conv2d` at every call) and reads
 * `engine().state.gradientDepth`. Checked in test/unit/backend/lazyConvGradient.test.ts.
 */
import tfjs = require('@tensorflow/tfjs');

type FusedConv2dArgs = Parameters<typeof tfjs.fused.conv2d>[0];
type FusedConv2d = ((args: FusedConv2dArgs) => tfjs.Tensor) & { [MARK]?: FusedConv2d };

const MARK = '__annealKdLazyConvGradient';

function fusedOps(): { conv2d: FusedConv2d } {
  return tfjs.fused as unknown as { conv2d: FusedConv2d };
}

function lazy(original: FusedConv2d): FusedConv2d {
  const conv2d: FusedConv2d = (args) => {
    const linear = args.activation == null || args.activation === 'linear';
    const taped = (tfjs.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
    if (!linear || args.bias != null || args.preluActivationWeights != null || !taped) return original(args);
    if (tfjs.getBackend() !== 'wasm') return original(args);
    return tfjs.conv2d(
      args.x,
      args.filter,
      args.strides,
      args.pad,
      args.dataFormat ?? 'NHWC',
      args.dilations ?? [1, 1],
      args.dimRoundingMode,
    );
  };
  conv2d[MARK] = original;
  return conv2d;
}

/** Routes linear, bias-free fused conv2d under a tape to tf.conv2d on wasm (idempotent). */
export function installLazyConvGradient(): void {
  const ops = fusedOps();
  if (!ops.conv2d[MARK]) ops.conv2d = lazy(ops.conv2d);
}

/** Restores tfjs-core's own fused conv2d (for tests and A/B benchmarks). */
export function uninstallLazyConvGradient(): void {
  const ops = fusedOps();
  const original = ops.conv2d[MARK];
  if (original) ops.conv2d = original;
}
