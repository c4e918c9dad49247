/**
 * Adam's update, fused: on wasm one SIMD kernel per variable (simd/gemm.c, TF.js's float32
 * operation order); on cpu for small variables a JavaScript loop.
 *
 * TF.js's AdamOptimizer.applyGradients runs ~13 kernels and uploads ~6 scalar constants per
 * variable. For a small model (the MLP student: 4 variables, 25k parameters) those launches, not
 * the arithmetic, are most of a training step on wasm, where each costs ~10-20 us of JavaScript.
 * Here a variable of at most FUSED_MAX_SIZE elements is updated in one JavaScript loop over its
 * values (read once, three new tensors written); larger variables keep TF.js's kernels (bandwidth
 * bound, already fast). Same state (the `m`/`v` slots, accBeta1/2, iterations), so optimizer
 * checkpoints are unchanged; same formula as TF.js 4.22.0's AdamOptimizer, evaluated in double
 * precision and rounded once (differences of about 1 ulp of float32).
 *
 * VERSION PIN: patches AdamOptimizer.prototype.applyGradients of @tensorflow/tfjs-core 4.22.0 and
 * reads its fields (accBeta1, accBeta2, accumulatedFirstMoment/SecondMoment, beta1, beta2,
 * epsilon, learningRate). test/unit/backend/fusedAdam.test.ts compares it with the original.
 */
import tfjs = require('@tensorflow/tfjs');
import { SimdGemm } from './simd/gemmModule';

/** Variables up to this many elements take the fused path. */
export const FUSED_MAX_SIZE = 1 << 16;

interface Slot {
  originalName: string;
  variable: tfjs.Variable;
}
interface AdamFields {
  accBeta1: tfjs.Variable;
  accBeta2: tfjs.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}
type Apply = (
  this: tfjs.AdamOptimizer,
  g: tfjs.NamedTensorMap | Array<{ name: string; tensor: tfjs.Tensor }>,
) => void;

const MARK = '__annealKdFusedAdam';
const proto = tfjs.AdamOptimizer.prototype as unknown as { applyGradients: Apply & { [MARK]?: Apply } };

function fusedApplyGradients(original: Apply): Apply {
  const fused: Apply = function (this: tfjs.AdamOptimizer, variableGradients) {
    const backend = tfjs.getBackend();
    if (backend !== 'wasm' && backend !== 'cpu') return original.call(this, variableGradients);
    const self = this as unknown as AdamFields;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const accB1 = self.accBeta1.dataSync()[0];
    const accB2 = self.accBeta2.dataSync()[0];
    const { beta1: b1, beta2: b2, epsilon: eps } = self;
    const lr = self.learningRate;
    tfjs.tidy(() => {
      const omb1 = Math.fround(1 - accB1);
      const omb2 = Math.fround(1 - accB2);
      names.forEach((name, i) => {
        const value = tfjs.engine().registeredVariables[name];
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = {
            originalName: `${name}/m`,
            variable: tfjs.tidy(() => tfjs.zerosLike(value).variable(false)),
          };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = {
            originalName: `${name}/v`,
            variable: tfjs.tidy(() => tfjs.zerosLike(value).variable(false)),
          };
        }
        const gradient = Array.isArray(variableGradients)
          ? variableGradients[i].tensor
          : variableGradients[name];
        if (gradient == null) return;
        const firstMoment = self.accumulatedFirstMoment[i].variable;
        const secondMoment = self.accumulatedSecondMoment[i].variable;
        const gemm =
          backend === 'wasm' && value.dtype === 'float32' && gradient.dtype === 'float32'
            ? SimdGemm.for(tfjs.backend())
            : null;
        if (gemm) {
          // One SIMD pass in wasm (simd/gemm.c), any size: no copies out of the wasm heap.
          const b = tfjs.backend() as unknown as {
            makeOutput(shape: number[], dtype: 'float32'): tfjs.TensorInfo;
          };
          const [nw, nm, nv] = [0, 1, 2].map(() => b.makeOutput(value.shape, 'float32'));
          gemm.adam(value, firstMoment, secondMoment, gradient, nw, nm, nv, {
            beta1: b1,
            beta2: b2,
            oneMinusAccBeta1: omb1,
            oneMinusAccBeta2: omb2,
            epsilon: eps,
            learningRate: lr,
          });
          const engine = tfjs.engine();
          firstMoment.assign(engine.makeTensorFromTensorInfo(nm));
          secondMoment.assign(engine.makeTensorFromTensorInfo(nv));
          value.assign(engine.makeTensorFromTensorInfo(nw));
          return;
        }
        if (value.size > FUSED_MAX_SIZE || value.dtype !== 'float32') {
          // TF.js's own formula, kernel by kernel.
          const newFirst = tfjs.add(tfjs.mul(firstMoment, b1), tfjs.mul(gradient, 1 - b1));
          const newSecond = tfjs.add(tfjs.mul(secondMoment, b2), tfjs.mul(tfjs.square(gradient), 1 - b2));
          const mHat = tfjs.div(newFirst, omb1);
          const vHat = tfjs.div(newSecond, omb2);
          firstMoment.assign(newFirst);
          secondMoment.assign(newSecond);
          value.assign(tfjs.add(tfjs.mul(tfjs.div(mHat, tfjs.add(tfjs.sqrt(vHat), eps)), -lr), value));
          return;
        }
        const g = gradient.dataSync() as Float32Array;
        const m = firstMoment.dataSync() as Float32Array;
        const v = secondMoment.dataSync() as Float32Array;
        const w = value.dataSync() as Float32Array;
        const n = w.length;
        const nm = new Float32Array(n);
        const nv = new Float32Array(n);
        const nw = new Float32Array(n);
        const c1 = 1 - b1;
        const c2 = 1 - b2;
        for (let j = 0; j < n; j++) {
          const gj = g[j];
          const mj = b1 * m[j] + c1 * gj;
          const vj = b2 * v[j] + c2 * gj * gj;
          nm[j] = mj;
          nv[j] = vj;
          nw[j] = w[j] - lr * (mj / omb1 / (Math.sqrt(vj / omb2) + eps));
        }
        firstMoment.assign(tfjs.tensor(nm, firstMoment.shape, 'float32'));
        secondMoment.assign(tfjs.tensor(nv, secondMoment.shape, 'float32'));
        value.assign(tfjs.tensor(nw, value.shape, 'float32'));
      });
      // As TF.js's float32 mul(accBeta, beta): the product of two floats is exact in double.
      self.accBeta1.assign(tfjs.scalar(Math.fround(accB1 * Math.fround(b1))));
      self.accBeta2.assign(tfjs.scalar(Math.fround(accB2 * Math.fround(b2))));
    });
    self.incrementIterations();
  };
  (fused as Apply & { [MARK]?: Apply })[MARK] = original;
  return fused;
}

/** Installs the fused update into every AdamOptimizer (idempotent). */
export function installFusedAdam(): void {
  if (proto.applyGradients[MARK]) return;
  proto.applyGradients = fusedApplyGradients(proto.applyGradients);
}

/** Restores TF.js's own AdamOptimizer.applyGradients (for tests). */
export function uninstallFusedAdam(): void {
  const original = proto.applyGradients[MARK];
  if (original) proto.applyGradients = original;
}
