// The wasm training kernels (runner/backend/wasmKernels.ts) against the cpu backend, which has
// reference implementations of every kernel. Data moves between backends as plain arrays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tfjs = require('@tensorflow/tfjs');
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../../../runner/backend/wasmKernels';
import { tf as tfOf } from '../../../runner/backend/selectBackend';
import { SimdGemm } from '../../../runner/backend/simd/gemmModule';

const tf = tfOf();
type Padding = 'valid' | 'same' | tfjs.backend_util.ExplicitPadding;

interface Arr {
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/** Deterministic pseudo-random values in [-1, 1) (no tf RNG: identical on both backends). */
function rand(shape: number[], seed: number): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = s / 2 ** 31 - 1;
  }
  return { shape, values };
}

/** Small integers, so max-pool windows have ties. */
function ints(shape: number[], seed: number, levels = 3): Arr {
  const r = rand(shape, seed);
  return { shape, values: r.values.map((v) => Math.floor(((v + 1) * levels) / 2)) };
}

const t = (a: Arr): tfjs.Tensor => tf.tensor(a.values, a.shape);

/** Runs `f` on `backend` and returns its outputs as arrays (all tensors made inside are freed). */
async function on(backend: 'wasm' | 'cpu', f: () => tfjs.Tensor | tfjs.Tensor[]): Promise<Arr[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  const res = list.map((o) => ({ shape: o.shape, values: o.dataSync() as Float32Array }));
  tf.dispose(list);
  return res;
}

/** Largest |a - b| relative to the largest |b| (elementwise relative error is meaningless near 0). */
function relErr(a: Arr, b: Arr): number {
  assert.deepEqual(a.shape, b.shape);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.values.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a.values[i] - b.values[i]));
    maxRef = Math.max(maxRef, Math.abs(b.values[i]));
  }
  return maxDiff / Math.max(maxRef, 1e-12);
}

let worst = 0;
async function sameOnBoth(what: string, f: () => tfjs.Tensor | tfjs.Tensor[], tol = 1e-4): Promise<void> {
  const w = await on('wasm', f);
  const c = await on('cpu', f);
  assert.equal(w.length, c.length);
  w.forEach((wi, i) => {
    const e = relErr(wi, c[i]);
    worst = Math.max(worst, e);
    assert.ok(e <= tol, `${what} [output ${i}]: relative error ${e.toExponential(2)} >= ${tol}`);
  });
}

const run = (name: string, inputs: tfjs.NamedTensorMap, attrs: object): tfjs.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as tfjs.NamedAttrMap) as tfjs.Tensor;

/** Output spatial size of a conv (to make dy of the right shape). */
function outShape(x: number[], f: number[], strides: number | [number, number], pad: Padding): number[] {
  return tf.backend_util.computeConv2DInfo(
    x as [number, number, number, number],
    f as [number, number, number, number],
    strides,
    1,
    pad,
  ).outShape;
}

// [x shape, filter shape, strides, padding]: stride 1 and 2, 'same'/'valid'/explicit, non-square
// filters and strides, odd sizes, batch > 1, 1x1 stride-2 shortcut, crop path (rows never read).
const convCases: Array<[number[], number[], number | [number, number], Padding]> = [
  [[2, 7, 9, 3], [3, 3, 3, 4], 1, 'same'],
  [[2, 7, 9, 3], [3, 3, 3, 4], 1, 'valid'],
  [[2, 7, 9, 3], [3, 2, 3, 4], 2, 'same'],
  [[3, 8, 6, 2], [3, 3, 2, 5], 2, 'valid'],
  [[1, 10, 7, 4], [5, 3, 4, 2], [2, 3], 'same'],
  [[2, 9, 9, 3], [1, 1, 3, 4], 2, 'same'],
  [[2, 8, 8, 3], [1, 1, 3, 4], 2, 'same'],
  [[2, 6, 6, 1], [2, 2, 1, 3], 3, 'valid'],
  [[2, 8, 8, 2], [4, 4, 2, 3], 2, 'same'],
  [
    [2, 6, 7, 2],
    [3, 3, 2, 3],
    1,
    [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  ],
  [
    [2, 6, 7, 2],
    [3, 3, 2, 3],
    2,
    [
      [0, 0],
      [2, 0],
      [1, 1],
      [0, 0],
    ],
  ],
  [
    [1, 5, 5, 2],
    [2, 2, 2, 2],
    1,
    [
      [0, 0],
      [3, 3],
      [0, 0],
      [0, 0],
    ],
  ],
  [[4, 12, 12, 8], [3, 3, 8, 16], 1, 'same'],
  [[2, 6, 6, 5], [3, 3, 5, 2], 1, 'same'],
  // 1x1 filters (the matmul path): stride 1, stride 3 'valid' (cropped), mixed strides.
  [[3, 5, 6, 4], [1, 1, 4, 7], 1, 'same'],
  [[2, 10, 8, 3], [1, 1, 3, 5], 3, 'valid'],
  [[2, 7, 9, 6], [1, 1, 6, 3], [2, 3], 'same'],
  // Larger than one block of simd/gemm.c (M = 3*3*32 = 288 > 64 rows, K = 2*12*12 = 288 > 256
  // pixels), 4-channel groups with 'same' zero padding, and 9 output channels (an edge panel).
  [[2, 12, 12, 32], [3, 3, 32, 9], 1, 'same'],
  [[2, 13, 11, 8], [3, 3, 8, 16], 2, 'same'],
  // Taps that only ever read padding columns (left pad 2 > the 1 column, stride 3): dw = 0.
  [
    [2, 5, 1, 4],
    [2, 2, 4, 8],
    3,
    [
      [0, 0],
      [1, 1],
      [2, 0],
      [0, 0],
    ],
  ],
];

/**
 * Runs `body` on each path a wasm kernel can take: simd/gemm.c's relaxed-SIMD build (fused
 * multiply-adds; what runs by default here), its plain SIMD build (AKD_NO_RELAXED_SIMD: engines
 * without relaxed SIMD), and the composite path (AKD_NO_SIMD_GEMM: XNNPACK's forward kernels),
 * which stays the fallback where the SIMD module cannot load.
 */
async function onEveryPath(body: (path: string) => Promise<void>): Promise<void> {
  const backend = tf.findBackend('wasm')!;
  assert.equal(SimdGemm.for(backend)?.kernels, 'relaxed-simd', 'the relaxed-SIMD build loads here');
  await body('relaxed-simd');
  for (const [path, env] of [
    ['simd', 'AKD_NO_RELAXED_SIMD'],
    ['composite', 'AKD_NO_SIMD_GEMM'],
  ] as const) {
    process.env[env] = '1';
    try {
      assert.equal(SimdGemm.for(backend)?.kernels ?? 'composite', path);
      await body(path);
    } finally {
      delete process.env[env];
    }
  }
}
// (Stride-1 cases use the "x as filter" orientation when x is not larger than dy, the others
// "dy as filter": both are covered above.)

test.before(async () => {
  // IS_TEST makes the engine check every kernel call for leaked backend data ids
  // (Engine.checkKernelForMemLeak); it also silences TF.js warnings. Turned off for the model
  // tests: tfjs-core reports false leaks there for customGrad ops (fusedConv2d, fusedMatMul)
  // whose saved-tensor clones are new data ids on wasm; the last test counts data ids itself.
  tf.env().set('IS_TEST', true);
  registerWasmTrainingKernels();
  assert.ok(await tf.setBackend('wasm'));
});

test('registration is idempotent and marks every kernel', () => {
  registerWasmTrainingKernels();
  registerWasmTrainingKernels();
  type Cfg = tfjs.KernelConfig & { __annealKdTrainingKernel?: boolean; original?: Cfg };
  for (const name of WASM_TRAINING_KERNELS) {
    const cfg = tf.getKernel(name, 'wasm') as Cfg;
    assert.equal(cfg.__annealKdTrainingKernel, true, name);
    // Wrapped once: the kept original is the wasm package's own kernel (none for the missing one).
    assert.equal(cfg.original?.__annealKdTrainingKernel, undefined, name);
    assert.equal(cfg.original == null, name === 'Conv2DBackpropFilter', name);
  }
});

// Filter-gradient cases for simd/gemm.c's conv2d_filter_grad_direct (4 taps x 8 channels per tile,
// over chunks of output rows; x read in place when nothing is padded, else copied zero-padded).
const filterGradCases: Array<[number[], number[], number | [number, number], Padding]> = [
  // ResNet-8's layers at batch 2 (3-channel stem, strided 3x3 and 1x1), the CNN's two.
  [[2, 32, 32, 3], [3, 3, 3, 16], 1, 'same'],
  [[2, 32, 32, 16], [3, 3, 16, 16], 1, 'same'],
  [[2, 32, 32, 16], [3, 3, 16, 32], 2, 'same'],
  [[2, 16, 16, 32], [3, 3, 32, 32], 1, 'same'],
  [[2, 16, 16, 32], [3, 3, 32, 64], 2, 'same'],
  [[2, 8, 8, 64], [3, 3, 64, 64], 1, 'same'],
  [[2, 32, 32, 16], [1, 1, 16, 32], 2, 'same'],
  [[2, 16, 16, 32], [1, 1, 32, 64], 2, 'same'],
  [[2, 28, 28, 1], [3, 3, 1, 32], 1, 'valid'],
  [[2, 26, 26, 32], [3, 3, 32, 64], 1, 'valid'],
  // Channel tails (8 + 5, 7, 8 + 4, 3, 6, 8 + 3) and tap counts not a multiple of 4 (45, 54, 42, 9,
  // 2, 27): 4-tap groups within one filter row and across rows; in place, strided, mixed strides.
  [[2, 9, 10, 5], [3, 3, 5, 13], 1, 'same'],
  [[2, 9, 10, 6], [3, 3, 6, 7], 2, 'same'],
  [[2, 9, 10, 7], [2, 3, 7, 12], [1, 2], 'same'],
  [[2, 9, 10, 1], [3, 3, 1, 3], 1, 'same'],
  [[2, 9, 10, 2], [1, 1, 2, 6], 1, 'valid'],
  [[2, 11, 9, 3], [3, 3, 3, 11], 2, 'valid'],
  // Chunks of 5 padded rows (the last one 3) and of 7 rows read in place (the last one 1).
  [[2, 43, 40, 16], [3, 3, 16, 16], 1, 'same'],
  [[1, 45, 40, 16], [3, 3, 16, 8], 1, 'valid'],
  // Whole images per chunk: 25 padded 4x4 images (then 15), 80 in place (then 70), and 24 1x1
  // images of 370 channels, as many as the work buffer holds (then 6).
  [[40, 4, 4, 8], [3, 3, 8, 8], 1, 'same'],
  [[150, 5, 5, 2], [3, 3, 2, 8], 1, 'valid'],
  [[30, 1, 1, 370], [3, 3, 370, 8], 1, 'same'],
  // Explicit padding wider than the filter (taps reading only zeros).
  [
    [2, 6, 7, 4],
    [3, 3, 4, 8],
    1,
    [
      [0, 0],
      [4, 1],
      [0, 3],
      [0, 0],
    ],
  ],
  // Wide layers (over 192 output channels; over 384 channels in and out): the packed kernel.
  [[2, 4, 4, 8], [3, 3, 8, 200], 1, 'same'],
  [[2, 3, 3, 200], [3, 3, 200, 192], 1, 'same'],
];

test('Conv2DBackpropFilter matches cpu (relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    for (const [i, [xs, fs, strides, pad]] of [...convCases, ...filterGradCases].entries()) {
      const x = rand(xs, 10 + i);
      const dy = rand(outShape(xs, fs, strides, pad), 100 + i);
      await sameOnBoth(`${path} dW ${xs} ${fs} s${strides} ${JSON.stringify(pad)}`, () =>
        run(
          'Conv2DBackpropFilter',
          { x: t(x), dy: t(dy) },
          { strides, pad, dataFormat: 'NHWC', filterShape: fs },
        ),
      );
    }
  }));

test('conv2d_filter_grad_direct alone: wide layers, chunks the work buffer bounds, a refusal', async () => {
  const backend = tf.findBackend('wasm')! as tfjs.KernelBackend & {
    makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: Float32Array): tfjs.TensorInfo;
  };
  const builds = [SimdGemm.for(backend)!];
  process.env.AKD_NO_RELAXED_SIMD = '1';
  builds.push(SimdGemm.for(backend)!);
  delete process.env.AKD_NO_RELAXED_SIMD;
  assert.deepEqual(
    builds.map((g) => g.kernels),
    ['relaxed-simd', 'simd'],
  );
  const cases: Array<[number[], number[], number, Padding, boolean]> = [
    // Wide (the packed kernel runs these): 3x3x64 -> 512, and 1200 channels in rows of 4 padded
    // pixels: 15 of the 40 output rows per chunk fill the work buffer (then 15, 10).
    [[4, 4, 4, 64], [3, 3, 64, 512], 1, 'same', true],
    [[2, 40, 2, 1200], [3, 3, 1200, 4], 1, 'same', true],
    // A left pad past every column the taps read: dw = 0 (also in convCases, for both paths).
    [
      [2, 5, 1, 4],
      [2, 2, 4, 8],
      3,
      [
        [0, 0],
        [1, 1],
        [2, 0],
        [0, 0],
      ],
      true,
    ],
    // 3 padded rows of 3502 x 8 floats exceed the work buffer: refused, dw untouched.
    [[1, 2, 3500, 8], [3, 3, 8, 4], 1, 'same', false],
  ];
  for (const [i, [xs, fs, strides, pad, accepted]] of cases.entries()) {
    const x = rand(xs, 60 + i);
    const dy = rand(outShape(xs, fs, strides, pad), 70 + i);
    const [ref] = await on('cpu', () =>
      run(
        'Conv2DBackpropFilter',
        { x: t(x), dy: t(dy) },
        { strides, pad, dataFormat: 'NHWC', filterShape: fs },
      ),
    );
    await tf.setBackend('wasm');
    const info = tf.backend_util.computeConv2DInfo(
      xs as [number, number, number, number],
      fs as [number, number, number, number],
      strides,
      1,
      pad,
    );
    for (const gemm of builds) {
      const [xt, dyt] = [t(x), t(dy)];
      const size = fs.reduce((a, b) => a * b, 1);
      const dw = backend.makeOutput(fs, 'float32', undefined, new Float32Array(size).fill(7));
      const what = `${gemm.kernels} ${xs} ${fs}`;
      try {
        assert.equal(gemm.conv2dFilterGradDirect(xt, dyt, dw, info), accepted, what);
        const values = backend.readSync(dw.dataId) as Float32Array;
        if (accepted) {
          const e = relErr({ shape: fs, values }, ref);
          assert.ok(e <= 1e-4, `direct dW ${what}: relative error ${e.toExponential(2)}`);
        } else {
          assert.ok(
            values.every((v) => v === 7),
            `refused ${what} but wrote dw`,
          );
        }
      } finally {
        backend.disposeData(dw.dataId);
        tf.dispose([xt, dyt]);
      }
    }
  }
});

// Input-gradient cases for simd/gemm.c's conv2d_input_grad (4-pixel x 8-channel tiles taken per
// stride phase): phases with 1-3 pixels left in a row, channels not a multiple of 8, a long co loop.
const inputGradCases: Array<[number[], number[], number | [number, number], Padding]> = [
  [[2, 9, 11, 12], [3, 3, 12, 20], 2, 'same'],
  [[2, 10, 8, 16], [3, 3, 16, 8], 2, 'same'],
  [[2, 11, 13, 5], [3, 3, 5, 9], 3, 'same'],
  [[1, 13, 14, 3], [4, 4, 3, 6], 3, 'valid'],
  [
    [2, 8, 9, 10],
    [3, 3, 10, 6],
    2,
    [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  ],
  [
    [2, 7, 6, 9],
    [3, 3, 9, 5],
    [1, 2],
    [
      [0, 0],
      [3, 1],
      [0, 4],
      [0, 0],
    ],
  ],
  [[1, 6, 6, 9], [3, 3, 9, 300], 1, 'same'],
  [[3, 9, 9, 20], [1, 1, 20, 24], 2, 'same'],
  [[2, 8, 8, 16], [1, 1, 16, 32], 2, 'valid'],
  // Rows narrower than the stride (empty phases), and the CNN teacher's layer at batch 2.
  [[1, 2, 1, 3], [3, 3, 3, 4], 3, 'same'],
  [[2, 26, 26, 32], [3, 3, 32, 64], 1, 'valid'],
  // 3x3x512 panels: 2 of the 5 ci panels per pass (3 passes); 3x3x1200: no panel fits the
  // work buffer, so the composite kernel runs even with the SIMD module.
  [[1, 5, 5, 40], [3, 3, 40, 512], 1, 'same'],
  [[1, 4, 4, 3], [3, 3, 3, 1200], 1, 'same'],
];

test('Conv2DBackpropInput matches cpu (relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    for (const [i, [xs, fs, strides, pad]] of [...convCases, ...inputGradCases].entries()) {
      const f = rand(fs, 20 + i);
      const dy = rand(outShape(xs, fs, strides, pad), 200 + i);
      await sameOnBoth(`${path} dx ${xs} ${fs} s${strides} ${JSON.stringify(pad)}`, () =>
        run(
          'Conv2DBackpropInput',
          { dy: t(dy), filter: t(f) },
          { strides, pad, dataFormat: 'NHWC', inputShape: xs },
        ),
      );
    }
  }));

test('Conv2D and FusedConv2D match cpu (relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    for (const [i, [xs, fs, strides, pad]] of [...convCases, ...inputGradCases].entries()) {
      const x = rand(xs, 30 + i);
      const f = rand(fs, 40 + i);
      const bias = rand([fs[3]], 50 + i);
      const what = `${path} ${xs} ${fs} s${strides} ${JSON.stringify(pad)}`;
      await sameOnBoth(`conv2d ${what}`, () =>
        tf.conv2d(t(x) as tfjs.Tensor4D, t(f) as tfjs.Tensor4D, strides, pad),
      );
      await sameOnBoth(`fused conv2d bias relu ${what}`, () =>
        tf.fused.conv2d({
          x: t(x) as tfjs.Tensor4D,
          filter: t(f) as tfjs.Tensor4D,
          strides,
          pad,
          bias: t(bias),
          activation: 'relu',
        }),
      );
    }
    // Epilogue variants, and cases left to the original kernel (another activation, PReLU weights,
    // dilations, 3 input channels), on a 9-channel layer the SIMD code would otherwise take.
    const xa = rand([2, 9, 10, 9], 1);
    const fa = rand([3, 3, 9, 12], 2);
    const ba = rand([12], 3);
    const x = (): tfjs.Tensor4D => t(xa) as tfjs.Tensor4D;
    const f = (): tfjs.Tensor4D => t(fa) as tfjs.Tensor4D;
    const variants: Array<[string, () => tfjs.Tensor]> = [
      ['bias linear', () => tf.fused.conv2d({ x: x(), filter: f(), strides: 2, pad: 'same', bias: t(ba) })],
      [
        'no bias relu',
        () => tf.fused.conv2d({ x: x(), filter: f(), strides: 1, pad: 'valid', activation: 'relu' }),
      ],
      [
        'relu6',
        () =>
          tf.fused.conv2d({ x: x(), filter: f(), strides: 1, pad: 'same', bias: t(ba), activation: 'relu6' }),
      ],
      [
        'leakyrelu',
        () =>
          tf.fused.conv2d({
            x: x(),
            filter: f(),
            strides: 1,
            pad: 'same',
            activation: 'leakyrelu',
            leakyreluAlpha: 0.3,
          }),
      ],
      [
        'prelu',
        () =>
          tf.fused.conv2d({
            x: x(),
            filter: f(),
            strides: 1,
            pad: 'same',
            activation: 'prelu',
            preluActivationWeights: tf.fill([12], 0.2),
          }),
      ],
      ['dilated', () => tf.conv2d(x(), f(), 1, 'same', 'NHWC', 2)],
      [
        '3 channels',
        () =>
          tf.conv2d(
            tf.slice(x(), [0, 0, 0, 0], [2, 9, 10, 3]),
            tf.slice(f(), [0, 0, 0, 0], [3, 3, 3, 12]),
            1,
            'same',
          ),
      ],
    ];
    for (const [name, fn] of variants) await sameOnBoth(`${path} conv2d ${name}`, fn);
  }));

test('conv2d gradients through tf.grads match cpu', async () => {
  const x = rand([2, 9, 8, 3], 1);
  const f = rand([3, 3, 3, 4], 2);
  await sameOnBoth('tf.grads conv2d s2 same', () => {
    const g = tf.grads((a: tfjs.Tensor, b: tfjs.Tensor) =>
      tf
        .conv2d(a as tfjs.Tensor4D, b as tfjs.Tensor4D, 2, 'same')
        .square()
        .sum(),
    );
    return g([t(x), t(f)]);
  });
});

test('conv kernels reject NCHW and dilations with a clear error', async () => {
  await tf.setBackend('wasm');
  const x = tf.zeros([1, 4, 4, 1]);
  const dy = tf.zeros([1, 4, 4, 1]);
  assert.throws(
    () =>
      run(
        'Conv2DBackpropFilter',
        { x, dy },
        { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [1, 1, 1, 1] },
      ),
    /NHWC/,
  );
  assert.throws(
    () =>
      run(
        'Conv2DBackpropInput',
        { dy, filter: tf.zeros([1, 1, 1, 1]) },
        { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [1, 4, 4, 1], dilations: 2 },
      ),
    /dilations 1/,
  );
  tf.dispose([x, dy]);
});

test('BatchMatMul with transposes matches cpu (relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[5, 3], [5, 4], true, false],
      [[3, 5], [4, 5], false, true],
      [[5, 3], [4, 5], true, true],
      [[3, 5], [5, 4], false, false],
      [[2, 6, 3], [2, 6, 7], true, false],
      [[2, 3, 6], [2, 7, 6], false, true],
      [[1, 6, 3], [4, 7, 6], true, true],
      [[33, 130], [33, 17], true, false],
      // Tall operands to transpose (rows > cols): the split [R/d, d, C] transpose path.
      [[256, 24], [256, 7], true, false],
      [[2, 128, 8], [2, 128, 5], true, false],
      [[2, 5, 12], [2, 256, 12], false, true],
      [[96, 6], [5, 96], true, true],
      // More than one block of simd/gemm.c in every dimension (64 rows, 256 deep, 256 columns).
      [[70, 300], [300, 270], false, false],
      [[300, 70], [270, 300], true, true],
      [[3, 1, 300, 13], [1, 2, 300, 9], true, false],
      // Transposed B packed 4 k at a time (dense dx = dy . W^T): a k tail of 2, an 8-column edge of 5.
      [[9, 130], [21, 130], false, true],
    ];
    for (const [i, [as, bs, ta, tb]] of cases.entries()) {
      const a = rand(as, 30 + i);
      const b = rand(bs, 40 + i);
      await sameOnBoth(`${path} matMul ${as} ${bs} ${ta} ${tb}`, () => tf.matMul(t(a), t(b), ta, tb));
    }
  }));

test('_FusedMatMul (dense layers: bias + activation) matches cpu (relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    const cases: Array<[number[], number[], boolean, boolean, boolean, 'linear' | 'relu' | 'elu']> = [
      [[128, 78], [78, 32], false, false, true, 'relu'],
      [[7, 5], [5, 10], false, false, true, 'linear'],
      [[70, 300], [270, 300], false, true, true, 'relu'],
      [[300, 7], [300, 9], true, false, false, 'relu'],
      [[2, 6, 3], [2, 6, 7], true, false, true, 'linear'],
      // Not one of ours (the original kernel runs): another activation.
      [[9, 5], [5, 6], false, false, true, 'elu'],
    ];
    for (const [i, [as, bs, ta, tb, withBias, activation]] of cases.entries()) {
      const a = rand(as, 50 + i);
      const b = rand(bs, 60 + i);
      const n = tb ? bs[bs.length - 2] : bs[bs.length - 1];
      const bias = rand([n], 70 + i);
      await sameOnBoth(`${path} fused matMul ${as} ${bs} ${ta} ${tb} ${withBias} ${activation}`, () =>
        tf.fused.matMul({
          a: t(a),
          b: t(b),
          transposeA: ta,
          transposeB: tb,
          bias: withBias ? t(bias) : undefined,
          activation,
        }),
      );
    }
  }));

test('MaxPoolGrad matches cpu (overlapping windows, padding, ties; relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    const cases: Array<[number[], number | [number, number], number | [number, number], 'valid' | 'same']> = [
      [[2, 8, 8, 3], 2, 2, 'valid'],
      [[2, 7, 9, 3], 2, 2, 'valid'],
      [[2, 7, 9, 3], 2, 2, 'same'],
      [[2, 9, 9, 2], 3, 2, 'same'],
      [[1, 6, 5, 2], 2, 1, 'valid'],
      [[3, 10, 8, 2], [3, 2], [2, 1], 'same'],
      // 4-channel SIMD lanes of simd/gemm.c, with and without a scalar tail.
      [[2, 8, 8, 8], 2, 2, 'valid'],
      [[2, 9, 7, 6], 3, 2, 'same'],
    ];
    for (const [i, [xs, size, strides, pad]] of cases.entries()) {
      for (const [kind, x] of [
        ['random', rand(xs, 50 + i)],
        ['ties', ints(xs, 60 + i)],
      ] as const) {
        const y = await on('cpu', () => tf.maxPool(t(x) as tfjs.Tensor4D, size, strides, pad));
        const dy = rand(y[0].shape, 70 + i);
        await sameOnBoth(`${path} maxPoolGrad ${kind} ${xs} ${size} s${strides} ${pad}`, () =>
          run('MaxPoolGrad', { dy: t(dy), input: t(x), output: t(y[0]) }, { filterSize: size, strides, pad }),
        );
      }
    }
  }));

test('FusedBatchNorm matches cpu (per-channel operands, offset/scale optional; relaxed SIMD, SIMD and composite paths)', async () =>
  onEveryPath(async (path) => {
    const cases: Array<[number[], boolean, boolean]> = [
      [[4, 5, 6, 8], true, true],
      [[3, 7, 5], true, false],
      [[2, 3, 3, 5], false, true],
      [[6, 9], false, false],
    ];
    for (const [i, [xs, withOffset, withScale]] of cases.entries()) {
      const c = xs[xs.length - 1];
      const x = rand(xs, 80 + i);
      const mean = rand([c], 81 + i);
      const variance = { shape: [c], values: rand([c], 82 + i).values.map((v) => v * v + 0.1) };
      const offset = rand([c], 83 + i);
      const scale = rand([c], 84 + i);
      await sameOnBoth(`${path} batchNorm ${xs} offset=${withOffset} scale=${withScale}`, () =>
        tf.batchNorm(
          t(x),
          t(mean),
          t(variance),
          withOffset ? t(offset) : undefined,
          withScale ? t(scale) : undefined,
          1e-3,
        ),
      );
    }
  }));

test('Tile matches cpu (batchnorm broadcast, general, int32 fallback)', async () => {
  const cases: Array<[number[], number[]]> = [
    [
      [1, 1, 1, 5],
      [2, 3, 4, 1],
    ],
    [
      [2, 3],
      [2, 2],
    ],
    [
      [3, 1, 2],
      [1, 4, 2],
    ],
    [
      [2, 3, 2, 3, 2],
      [2, 1, 2, 1, 2],
    ],
    [[4], [1]],
  ];
  for (const [i, [xs, reps]] of cases.entries()) {
    const x = rand(xs, 80 + i);
    await sameOnBoth(`tile ${xs} x ${reps}`, () => tf.tile(t(x), reps), 0);
  }
  await sameOnBoth('tile int32', () => tf.tile(tf.tensor([1, 2, 3], [3, 1], 'int32'), [2, 2]), 0);
});

test('Sum and Mean match cpu (leading axes via average pooling, keepDims, other axes, int32)', async () => {
  const cases: Array<[number[], number | number[], boolean]> = [
    [[16, 8, 8, 8], [0, 1, 2], false],
    [[16, 8, 8, 8], [2, 1, 0], true],
    [[64, 70], 0, true],
    [[32, 16, 9], [0, 1], false],
    [[32, 16, 9], [0, 2], false],
    [[32, 16, 9], -1, false],
    [[32, 16, 9], [0, 1, 2], false],
  ];
  for (const [i, [xs, axis, keepDims]] of cases.entries()) {
    const x = rand(xs, 90 + i);
    await sameOnBoth(`sum ${xs} axis ${axis} keepDims ${keepDims}`, () => tf.sum(t(x), axis, keepDims));
    await sameOnBoth(`mean ${xs} axis ${axis} keepDims ${keepDims}`, () => tf.mean(t(x), axis, keepDims));
  }
  await sameOnBoth('moments', () => {
    const m = tf.moments(t(rand([16, 8, 8, 8], 99)), [0, 1, 2]);
    return [m.mean, m.variance];
  });
  await sameOnBoth('sum int32', () => tf.sum(tf.tensor(ints([64, 80], 9).values, [64, 80], 'int32'), 0), 0);
});

test('Multiply, Add and Sub with a per-channel operand (1x1 depthwise conv path) match cpu, both orders', async () => {
  const cases: Array<[number[], number[]]> = [
    [[8, 8, 8, 16], [16]],
    [[16], [8, 8, 8, 16]],
    [
      [4, 9, 7, 12],
      [1, 1, 1, 12],
    ],
    [
      [1, 1, 1, 12],
      [4, 9, 7, 12],
    ],
    [[300, 20], [20]],
    [
      [2, 50, 3, 40],
      [1, 40],
    ],
    // Not per-channel: the original kernels.
    [
      [8, 8, 8, 16],
      [8, 1, 1, 16],
    ],
    [
      [64, 70],
      [64, 70],
    ],
    [[64, 70], [1]],
  ];
  for (const [i, [as, bs]] of cases.entries()) {
    const a = rand(as, 300 + i);
    const b = rand(bs, 400 + i);
    for (const op of ['mul', 'add', 'sub'] as const) {
      await sameOnBoth(`${op} ${as} ${bs}`, () => tf[op](t(a), t(b)), 1e-6);
    }
  }
  // Gradients of the broadcast ops (batchnorm's pattern) through tf.grads.
  await sameOnBoth('grads of x*s+b', () => {
    const g = tf.grads((x: tfjs.Tensor, sc: tfjs.Tensor, bi: tfjs.Tensor) =>
      tf.sub(tf.mul(x, sc), bi).square().sum(),
    );
    return g([t(rand([4, 6, 6, 8], 1)), t(rand([8], 2)), t(rand([8], 3))]);
  });
});

test('Identity aliases the data: a clone outlives its disposed source', async () => {
  await tf.setBackend('wasm');
  const backend = tf.engine().backend as unknown as { numDataIds(): number };
  const ids = backend.numDataIds();
  const a = tf.tensor([1, 2, 3]);
  const b = tf.clone(a);
  assert.equal(backend.numDataIds(), ids + 1, 'no copy');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  b.dispose();
  assert.equal(backend.numDataIds(), ids, 'freed with the last reference');
  tf.tidy(() => assert.deepEqual(tf.clone(tf.tensor(['s'])).dataSync(), ['s']));
});

/** Weights as arrays, for copying a model to another backend. */
function weightsOf(m: tfjs.LayersModel): Arr[] {
  return m.getWeights().map((w) => ({ shape: w.shape, values: w.dataSync() as Float32Array }));
}

function cnn(): tfjs.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [10, 10, 1], filters: 4, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 5 }));
  return m;
}

function resnetBlock(): tfjs.LayersModel {
  const inp = tf.input({ shape: [12, 12, 3] });
  const conv = (filters: number, kernelSize: number, strides: number) =>
    tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false });
  let x = conv(4, 3, 1).apply(inp) as tfjs.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tfjs.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tfjs.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tfjs.SymbolicTensor;
  let y = conv(6, 3, 2).apply(x) as tfjs.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as tfjs.SymbolicTensor;
  y = tf.layers.reLU().apply(y) as tfjs.SymbolicTensor;
  y = conv(6, 3, 1).apply(y) as tfjs.SymbolicTensor;
  const s = conv(6, 1, 2).apply(x) as tfjs.SymbolicTensor;
  let z = tf.layers.add().apply([y, s]) as tfjs.SymbolicTensor;
  z = tf.layers.reLU().apply(z) as tfjs.SymbolicTensor;
  z = tf.layers.averagePooling2d({ poolSize: 2, strides: 1 }).apply(z) as tfjs.SymbolicTensor;
  z = tf.layers.globalAveragePooling2d({}).apply(z) as tfjs.SymbolicTensor;
  z = tf.layers.dense({ units: 5 }).apply(z) as tfjs.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: z });
}

/** Builds the model on `backend` with the given initial weights, runs `steps` SGD steps, returns weights. */
async function trainOn(
  backend: 'wasm' | 'cpu',
  make: () => tfjs.LayersModel,
  init: Arr[],
  x: Arr,
  labels: Arr,
  steps: number,
): Promise<Arr[]> {
  await tf.setBackend(backend);
  const m = make();
  const initTensors = init.map(t);
  m.setWeights(initTensors);
  tf.dispose(initTensors);
  const opt = tf.train.sgd(0.1);
  const xs = t(x);
  const ys = t(labels);
  for (let i = 0; i < steps; i++) {
    opt.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, m.apply(xs, { training: true }) as tfjs.Tensor),
      false,
    );
  }
  const w = weightsOf(m);
  tf.dispose([xs, ys]);
  opt.dispose();
  m.dispose();
  return w;
}

function oneHot(n: number, k: number, seed: number): Arr {
  const r = rand([n], seed);
  const values = new Float32Array(n * k);
  for (let i = 0; i < n; i++) values[i * k + Math.floor(((r.values[i] + 1) / 2) * k)] = 1;
  return { shape: [n, k], values };
}

async function compareTraining(name: string, make: () => tfjs.LayersModel, xShape: number[]): Promise<void> {
  tf.env().set('IS_TEST', false);
  await tf.setBackend('cpu');
  const proto = make();
  const init = weightsOf(proto);
  proto.dispose();
  const x = rand(xShape, 7);
  const labels = oneHot(xShape[0], 5, 8);
  const w = await trainOn('wasm', make, init, x, labels, 2);
  const c = await trainOn('cpu', make, init, x, labels, 2);
  let changed = 0;
  w.forEach((wi, i) => {
    const e = relErr(wi, c[i]);
    worst = Math.max(worst, e);
    assert.ok(e < 1e-4, `${name}: weight ${i} ${wi.shape} relative error ${e.toExponential(2)}`);
    if (relErr(c[i], init[i]) > 1e-3) changed++;
  });
  // Sanity: training actually moved the weights (batchnorm moving stats included).
  assert.ok(changed >= w.length / 2, `${name}: only ${changed}/${w.length} weights changed`);
}

/** Runs `body` on the relaxed-SIMD build of simd/gemm.c, then on its plain SIMD build. */
async function onBothBuilds(body: (build: string) => Promise<void>): Promise<void> {
  await body('relaxed-simd');
  process.env.AKD_NO_RELAXED_SIMD = '1';
  try {
    await body('simd');
  } finally {
    delete process.env.AKD_NO_RELAXED_SIMD;
  }
}

test('tf.layers CNN (conv-relu-conv-relu-maxpool-flatten-dense): optimizer.minimize steps agree with cpu (both builds)', async () => {
  await onBothBuilds((build) => compareTraining(`cnn ${build}`, cnn, [6, 10, 10, 1]));
});

test('tf.layers ResNet block (batchnorm, 3x3/2 max pool, stride 2, 1x1 shortcut, avg pools) agrees with cpu (both builds)', async () => {
  await onBothBuilds((build) => compareTraining(`resnet ${build}`, resnetBlock, [4, 12, 12, 3]));
});

test('no leaks: tensors, bytes and wasm data ids flat over 50 training steps', async () => {
  tf.env().set('IS_TEST', false);
  await tf.setBackend('wasm');
  const models = [cnn(), resnetBlock()];
  const inputs = [t(rand([8, 10, 10, 1], 3)), t(rand([8, 12, 12, 3], 4))];
  const ys = t(oneHot(8, 5, 5));
  // One Adam per model: Adam keeps its slots by position in the variable list.
  const opts = models.map(() => tf.train.adam(1e-3));
  const step = (): void => {
    models.forEach((m, i) => {
      const logits = (): tfjs.Tensor => m.apply(inputs[i], { training: true }) as tfjs.Tensor;
      opts[i].minimize(() => tf.losses.softmaxCrossEntropy(ys, logits()), false);
    });
  };
  step(); // optimizer slots are created on the first step
  const backend = tf.engine().backend as unknown as { numDataIds(): number };
  const before = { ...tf.memory(), ids: backend.numDataIds() };
  for (let i = 0; i < 50; i++) step();
  const after = { ...tf.memory(), ids: backend.numDataIds() };
  assert.equal(after.numTensors, before.numTensors, 'numTensors');
  assert.equal(after.numBytes, before.numBytes, 'numBytes');
  assert.equal(after.ids, before.ids, 'wasm data ids');
  models.forEach((m) => m.dispose());
  tf.dispose([...inputs, ys]);
  opts.forEach((o) => o.dispose());
});

test.after(() => {
  console.log(`# largest relative error wasm vs cpu: ${worst.toExponential(2)}`);
});
