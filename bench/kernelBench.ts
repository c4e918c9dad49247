/**
 * `npm run bench:kernels`: GFLOP/s of the runner's SIMD kernels on the bench models' layers (one
 * replica's batch, one thread), for each build of simd/gemm.c this process can run (plain SIMD,
 * relaxed SIMD with fused multiply-adds), against what 128-bit wasm SIMD can do on this CPU
 * (bench/simdPeak.ts). Each kernel runs through the registered TF.js kernel (the dispatch training
 * uses); the builds alternate call by call, and each figure is the least CPU time of --rounds
 * calls, so other processes on a shared machine disturb it little. FLOPs are nominal (2 per
 * multiply-add, taps on padding included).
 *
 *   npm run bench:kernels [-- --batch 64] [--rounds 9] [--only cnn|resnet8] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { selectBackend, tf as tfOf } from '../runner/backend/selectBackend';
import { SimdGemm, type SimdKernels } from '../runner/backend/simd/gemmModule';
import { relaxedSimdAvailable } from '../runner/backend/simd/relaxedSimd';
import { arg } from './runnerBench';
import { bestTimes, simdPeakGflops } from './simdPeak';
import { cpuDescription } from './cpuInfo';

const tf = tfOf();
type Padding = 'valid' | 'same';

interface Case {
  model: 'cnn' | 'resnet8';
  layer: string;
  kernel: 'Conv2D' | 'Conv2DBackpropInput' | 'Conv2DBackpropFilter' | 'BatchMatMul';
  /** Times the layer occurs in one step (ResNet-8 has two stage-1 convolutions of one shape). */
  count: number;
  flops: number;
  run(): tfjs.Tensor;
  dispose(): void;
}

/** Deterministic values in [-1, 1). */
function rand(shape: number[], seed: number): tfjs.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return tf.tensor(v, shape);
}

const runKernel = (name: string, inputs: tfjs.NamedTensorMap, attrs: object): tfjs.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as tfjs.NamedAttrMap) as tfjs.Tensor;

/** The forward, input-gradient and filter-gradient kernels of one NHWC convolution. */
function convCases(
  model: Case['model'],
  layer: string,
  count: number,
  xShape: number[],
  fShape: number[],
  strides: number,
  pad: Padding,
  which: Array<'fwd' | 'dx' | 'dw'>,
): Case[] {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    fShape as [number, number, number, number],
    strides,
    1,
    pad,
  );
  const flops =
    2 *
    info.batchSize *
    info.outHeight *
    info.outWidth *
    info.outChannels *
    fShape[0] *
    fShape[1] *
    fShape[2];
  const x = rand(xShape, 1);
  const f = rand(fShape, 2);
  const dy = rand(info.outShape, 3);
  const dispose = (): void => tf.dispose([x, f, dy]);
  const conv = { strides, pad, dataFormat: 'NHWC', dilations: 1 };
  const all: Record<'fwd' | 'dx' | 'dw', Omit<Case, 'dispose'>> = {
    fwd: {
      model,
      layer,
      count,
      flops,
      kernel: 'Conv2D',
      run: () => runKernel('Conv2D', { x, filter: f }, conv),
    },
    dx: {
      model,
      layer,
      count,
      flops,
      kernel: 'Conv2DBackpropInput',
      run: () => runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...conv, inputShape: xShape }),
    },
    dw: {
      model,
      layer,
      count,
      flops,
      kernel: 'Conv2DBackpropFilter',
      run: () => runKernel('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: fShape }),
    },
  };
  // The tensors are shared: only the last case of the layer frees them.
  return which.map((w, i) => ({ ...all[w], dispose: i === which.length - 1 ? dispose : () => undefined }));
}

/** A dense layer's three products: y = x.W, dW = x^T.dy, dx = dy.W^T. */
function denseCases(
  model: Case['model'],
  layer: string,
  batch: number,
  inputs: number,
  units: number,
): Case[] {
  const x = rand([batch, inputs], 4);
  const w = rand([inputs, units], 5);
  const dy = rand([batch, units], 6);
  const flops = 2 * batch * inputs * units;
  const mm = (a: tfjs.Tensor, b: tfjs.Tensor, transposeA: boolean, transposeB: boolean) => () =>
    runKernel('BatchMatMul', { a, b }, { transposeA, transposeB });
  const base = { model, layer, count: 1, flops, kernel: 'BatchMatMul' as const, dispose: () => undefined };
  return [
    { ...base, layer: `${layer} y = x.W`, run: mm(x, w, false, false) },
    { ...base, layer: `${layer} dW = x^T.dy`, run: mm(x, dy, true, false) },
    {
      ...base,
      layer: `${layer} dx = dy.W^T`,
      run: mm(dy, w, false, true),
      dispose: () => tf.dispose([x, w, dy]),
    },
  ];
}

type Which = Array<'fwd' | 'dx' | 'dw'>;
/** [layer, count a step, x shape without the batch, filter shape, stride, padding, kernels timed]. */
type Layer = [string, number, number[], number[], number, Padding, Which];
const ALL: Which = ['fwd', 'dx', 'dw'];

const LAYERS: Record<Case['model'], Layer[]> = {
  cnn: [
    // conv1's forward has 1 input channel (XNNPACK runs it) and its input gradient is never taken.
    ['conv1 3x3 1->32, 28x28', 1, [28, 28, 1], [3, 3, 1, 32], 1, 'valid', ['dw']],
    ['conv2 3x3 32->64, 26x26', 1, [26, 26, 32], [3, 3, 32, 64], 1, 'valid', ALL],
  ],
  resnet8: [
    // The stem's forward has 3 input channels (XNNPACK runs it); its input gradient is the
    // image's, which training no longer computes (lazyConvGradient.ts): timed to show its cost.
    ['stem 3x3 3->16, 32x32', 1, [32, 32, 3], [3, 3, 3, 16], 1, 'same', ['dx', 'dw']],
    ['stage1 3x3 16->16, 32x32', 2, [32, 32, 16], [3, 3, 16, 16], 1, 'same', ALL],
    ['stage2 3x3/2 16->32, 32x32', 1, [32, 32, 16], [3, 3, 16, 32], 2, 'same', ALL],
    ['stage2 3x3 32->32, 16x16', 1, [16, 16, 32], [3, 3, 32, 32], 1, 'same', ALL],
    ['stage2 1x1/2 16->32', 1, [32, 32, 16], [1, 1, 16, 32], 2, 'same', ALL],
    ['stage3 3x3/2 32->64, 16x16', 1, [16, 16, 32], [3, 3, 32, 64], 2, 'same', ALL],
    ['stage3 3x3 64->64, 8x8', 1, [8, 8, 64], [3, 3, 64, 64], 1, 'same', ALL],
    ['stage3 1x1/2 32->64', 1, [16, 16, 32], [1, 1, 32, 64], 2, 'same', ALL],
  ],
};

function cases(batch: number, only: string | undefined): Case[] {
  const list: Case[] = [];
  for (const model of ['cnn', 'resnet8'] as const) {
    if (only && only !== model) continue;
    for (const [layer, count, x, f, stride, pad, which] of LAYERS[model])
      list.push(...convCases(model, layer, count, [batch, ...x], f, stride, pad, which));
    if (model === 'cnn') list.push(...denseCases('cnn', 'dense 9216->128', batch, 9216, 128));
  }
  return list;
}

/**
 * What V8 makes of each build's multiply-adds on this CPU: TurboFan's machine code for every
 * function of the module (node --print-wasm-code, no Liftoff, no lazy compilation), counting
 * fused (vfmadd*ps) and separate (vmulps) multiplies. Undefined where this node prints no code.
 */
function machineCode(build: SimdKernels): { vfmadd: number; vmulps: number } | undefined {
  const modules = JSON.stringify(path.join(__dirname, '..', 'runner', 'backend', 'simd'));
  const script = `
    const dir = ${modules};
    require(dir + '/relaxedSimd.js').relaxedSimdAvailable();
    const w = require(dir + '/gemmWasm.js');
    const b64 = ${JSON.stringify(build)} === 'relaxed-simd' ? w.GEMM_RELAXED_WASM_BASE64 : w.GEMM_WASM_BASE64;
    new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(b64, 'base64')),
      { env: { memory: new WebAssembly.Memory({ initial: 1 }) } });`;
  const r = spawnSync(
    process.execPath,
    ['--no-liftoff', '--no-wasm-lazy-compilation', '--print-wasm-code', '-e', script],
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  if (r.status !== 0 || !r.stdout.includes('kind: wasm function')) return undefined;
  const count = (re: RegExp): number => (r.stdout.match(re) ?? []).length;
  return { vfmadd: count(/\bvfmadd\d+ps\b/g), vmulps: count(/\bv?mulps\b/g) };
}

/** Runs fn with the given build of simd/gemm.c (the AKD_NO_RELAXED_SIMD switch). */
function withBuild<T>(build: SimdKernels, fn: () => T): T {
  const before = process.env.AKD_NO_RELAXED_SIMD;
  if (build === 'simd') process.env.AKD_NO_RELAXED_SIMD = '1';
  else delete process.env.AKD_NO_RELAXED_SIMD;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.AKD_NO_RELAXED_SIMD;
    else process.env.AKD_NO_RELAXED_SIMD = before;
  }
}

interface Row {
  model: string;
  layer: string;
  kernel: string;
  count: number;
  gflop: number;
  /** Least CPU ms per call, by build. */
  ms: Partial<Record<SimdKernels, number>>;
  gflops: Partial<Record<SimdKernels, number>>;
}

async function main(): Promise<void> {
  const batch = Number(arg('batch', '64'));
  const rounds = Number(arg('rounds', '9'));
  const only = process.argv.includes('--only') ? arg('only') : undefined;
  await selectBackend('wasm');
  const backend = tf.backend();
  const builds: SimdKernels[] = relaxedSimdAvailable() ? ['simd', 'relaxed-simd'] : ['simd'];
  for (const b of builds) {
    const gemm = withBuild(b, () => SimdGemm.for(backend));
    if (gemm?.kernels !== b) throw new Error(`the ${b} build of simd/gemm.c did not load`);
  }
  const cpu = cpuDescription();
  process.stderr.write(
    `bench:kernels: ${cpu.model}; load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}\n`,
  );
  const peak = { mulAdd: simdPeakGflops(false), fused: simdPeakGflops(true) };
  const code = Object.fromEntries(builds.map((b) => [b, machineCode(b)]));
  const rows: Row[] = [];
  for (const c of cases(batch, only)) {
    const time = (b: SimdKernels) => () =>
      withBuild(b, () => {
        tf.dispose(c.run());
      });
    for (const b of builds) for (let i = 0; i < 2; i++) time(b)(); // warm: tier-up, work buffers
    const best: Partial<Record<SimdKernels, number>> = {};
    for (let r = 0; r < rounds; r++) {
      for (const b of builds) best[b] = Math.min(best[b] ?? Infinity, bestTimes(time(b), 1).cpuMs);
    }
    const gflop = c.flops / 1e9;
    const gflops: Partial<Record<SimdKernels, number>> = {};
    for (const b of builds) gflops[b] = gflop / (best[b]! / 1000);
    rows.push({ model: c.model, layer: c.layer, kernel: c.kernel, count: c.count, gflop, ms: best, gflops });
    c.dispose();
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  const f = (v: number | undefined, d = 1): string => (v === undefined ? '-' : v.toFixed(d));
  const lines = [
    `${cpu.model}; ${cpu.simd}; load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
    `128-bit wasm SIMD limit on this CPU (bench/simdPeak.ts): ${f(peak.mulAdd)} GFLOP/s as multiply + add, ` +
      `${peak.fused === undefined ? 'relaxed SIMD unavailable' : `${f(peak.fused)} GFLOP/s fused (relaxed_madd)`}`,
    `V8's machine code (--print-wasm-code): ${builds
      .map((b) =>
        code[b]
          ? `${b} build ${code[b]!.vfmadd} fused multiply-adds (vfmadd*ps), ${code[b]!.vmulps} multiplies (mulps)`
          : `${b} build: this node prints no machine code`,
      )
      .join('; ')}`,
    `batch ${batch}, 1 thread; least CPU time of ${rounds} calls`,
    '',
    '| model | layer | kernel | GFLOP | SIMD ms | SIMD GFLOP/s | relaxed ms | relaxed GFLOP/s | relaxed / SIMD time |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.layer}${r.count > 1 ? ` (x${r.count})` : ''} | ${r.kernel} | ${f(r.gflop, 3)} | ${f(r.ms.simd, 2)} | ${f(r.gflops.simd)} | ${f(r.ms['relaxed-simd'], 2)} | ${f(r.gflops['relaxed-simd'])} | ${r.ms['relaxed-simd'] === undefined ? '-' : f(r.ms['relaxed-simd'] / r.ms.simd!, 2)} |`,
    ),
  ];
  for (const model of new Set(rows.map((r) => r.model))) {
    const mine = rows.filter((r) => r.model === model);
    const total = (b: SimdKernels): number | undefined =>
      mine.every((r) => r.ms[b] !== undefined) ? mine.reduce((s, r) => s + r.count * r.ms[b]!, 0) : undefined;
    lines.push(
      `${model}: these kernels take ${f(total('simd'), 1)} ms a step on SIMD, ${f(total('relaxed-simd'), 1)} ms on relaxed SIMD`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  const jsonFile = process.argv.includes('--json') ? arg('json') : undefined;
  if (jsonFile) {
    const doc = {
      cpu,
      loadAverage: os.loadavg(),
      node: process.version,
      batch,
      rounds,
      peak,
      machineCode: code,
      rows,
    };
    fs.writeFileSync(path.resolve(jsonFile), JSON.stringify(doc, null, 2) + '\n');
  }
}

main().catch((e: Error) => {
  process.stderr.write(`kernelBench: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
