/**
 * Adam's update, fused for small variables on the wasm and cpu backends.
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

/** Variables up to this many elements take the fused path. */
export const FUSED_MAX_SIZE = 1 << 16;

interface Slot { originalName: string; variable: tfjs.Variable; }
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
type Apply = (this: tfjs.AdamOptimizer, g: tfjs.NamedTensorMap | Array<{ name: string; tensor: tfjs.Tensor }>) => void;

const MARK = '__annealKdFusedAdam';
const proto = tfjs.AdamOptimizer.prototype as unknown as { applyGradients: Apply & { [MARK]?: Apply } };

function fusedApplyGradients(original: Apply): Apply {
  const fused: Apply = function (this: tfjs.AdamOptimizer, variableGradients) {
    const backend = tfjs.getBackend();
    if (backend !== 'wasm' && backend !== 'cpu') return original.call(this, variableGradients);
    const self = this as unknown as AdamFields;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
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
          self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tfjs.tidy(() => tfjs.zerosLike(value).variable(false)) };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tfjs.tidy(() => tfjs.zerosLike(value).variable(false)) };
        }
        const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (gradient == null) return;
        const firstMoment = self.accumulatedFirstMoment[i].variable;
        const secondMoment = self.accumulatedSecondMoment[i].variable;
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
          nw[j] = w[j] - lr * ((mj / omb1) / (Math.sqrt(vj / omb2) + eps));
        }
        firstMoment.assign(tfjs.tensor(nm, firstMoment.shape, 'float32'));
        secondMoment.assign(tfjs.tensor(nv, secondMoment.shape, 'float32'));
        value.assign(tfjs.tensor(nw, value.shape, 'float32'));
      });
      self.accBeta1.assign(tfjs.scalar(accB1 * b1));
      self.accBeta2.assign(tfjs.scalar(accB2 * b2));
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
