/**
 * Loads gemm.c's wasm module (see build.sh) into one TF.js wasm backend instance: it imports that
 * instance's memory, so it reads and writes tensors where they live (no copies), and owns a
 * scratch buffer malloc'd once from that heap. One per backend instance, i.e. per thread.
 *
 * gemm.c is built twice: with relaxed SIMD (the products' multiply-adds as f32x4.relaxed_madd,
 * one fused instruction where the CPU has FMA) and on plain wasm SIMD. The relaxed one runs
 * wherever the engine takes it (relaxedSimd.ts turns Node 20's flag on in-process).
 */
import tfjs = require('@tensorflow/tfjs');
import { GEMM_RELAXED_WASM_BASE64, GEMM_WASM_BASE64 } from './gemmWasm';
import { relaxedSimdAvailable } from './relaxedSimd';

/** The slice of the WebAssembly API used here (the project's lib has no DOM types). */
interface WasmMemory {
  buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The slice of tfjs-backend-wasm's BackendWasm (4.22.0) this module needs. */
interface WasmBackendInternals {
  wasm: { asm?: { memory?: WasmMemory }; _malloc(bytes: number): number };
  getMemoryOffset(dataId: object): number;
}

interface GemmExports {
  work_floats(): number;
  sgemm(
    m: number,
    n: number,
    k: number,
    a: number,
    ams: number,
    aks: number,
    b: number,
    bks: number,
    bns: number,
    c: number,
    ldc: number,
    accumulate: number,
    work: number,
  ): void;
  conv2d_filter_grad(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    work: number,
  ): void;
  conv2d_filter_grad_direct(
    x: number,
    dy: number,
    dw: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    work: number,
  ): number;
  bias_act(c: number, m: number, n: number, bias: number, relu: number): void;
  adam(
    w: number,
    m: number,
    v: number,
    g: number,
    nw: number,
    nm: number,
    nv: number,
    n: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    omb1: number,
    omb2: number,
    eps: number,
    neglr: number,
  ): void;
  max_pool_grad(
    x: number,
    y: number,
    dy: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    c: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
  ): void;
  batch_norm(
    x: number,
    mean: number,
    variance: number,
    offset: number,
    scale: number,
    eps: number,
    out: number,
    rows: number,
    c: number,
    a: number,
  ): void;
  bn_train_forward(
    x: number,
    gamma: number,
    beta: number,
    mmean: number,
    mvar: number,
    eps: number,
    decay: number,
    rows: number,
    c: number,
    y: number,
    mean: number,
    invstd: number,
    nmean: number,
    nvar: number,
    work: number,
  ): void;
  bn_train_backward(
    x: number,
    dy: number,
    gamma: number,
    mean: number,
    invstd: number,
    rows: number,
    c: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    work: number,
  ): void;
  conv2d_input_grad(
    dy: number,
    filter: number,
    dx: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    work: number,
  ): number;
  conv2d(
    x: number,
    filter: number,
    bias: number,
    y: number,
    n: number,
    h: number,
    w: number,
    ci: number,
    oh: number,
    ow: number,
    co: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    pt: number,
    pl: number,
    relu: number,
    work: number,
  ): number;
}

/** Offsets are in floats from the tensor's start; strides in floats. */
export interface Operand {
  t: tfjs.TensorInfo;
  offset?: number;
  rowStride: number;
  colStride: number;
}

/** Which build of gemm.c runs: relaxed SIMD (fused multiply-adds) or plain wasm SIMD. */
export type SimdKernels = 'relaxed-simd' | 'simd';

/**
 * The build SimdGemm.for loads in this process: relaxed SIMD where the engine runs it, unless
 * AKD_NO_RELAXED_SIMD is set (A/B benchmarks; tests run both); null when AKD_NO_SIMD_GEMM turns
 * the module off (the composite kernels run).
 */
export function simdKernelsWanted(): SimdKernels | null {
  if (process.env.AKD_NO_SIMD_GEMM) return null;
  return !process.env.AKD_NO_RELAXED_SIMD && relaxedSimdAvailable() ? 'relaxed-simd' : 'simd';
}

export class SimdGemm {
  private constructor(
    private readonly backend: WasmBackendInternals,
    private readonly fns: GemmExports,
    private readonly work: number,
    /** The build of gemm.c this instance runs. */
    readonly kernels: SimdKernels,
  ) {}

  /** Byte address of a tensor's data (plus `floats` floats) in the shared memory. */
  private addr(t: tfjs.TensorInfo, floats = 0): number {
    return this.backend.getMemoryOffset(t.dataId) + 4 * floats;
  }

  /** c[m x n] (row stride ldc) = (accumulate ? c : 0) + op(a) . op(b); strides pick the transposition. */
  sgemm(
    m: number,
    n: number,
    k: number,
    a: Operand,
    b: Operand,
    c: tfjs.TensorInfo,
    cOffset: number,
    ldc: number,
    accumulate = false,
  ): void {
    this.fns.sgemm(
      m,
      n,
      k,
      this.addr(a.t, a.offset),
      a.rowStride,
      a.colStride,
      this.addr(b.t, b.offset),
      b.rowStride,
      b.colStride,
      this.addr(c, cOffset),
      ldc,
      accumulate ? 1 : 0,
      this.work,
    );
  }

  /**
   * Adam's step on one float32 variable w with moments m, v and gradient g into new tensors nw,
   * nm, nv (same size n), in TF.js's float32 operation order; the constants as TF.js rounds them.
   */
  adam(
    w: tfjs.TensorInfo,
    m: tfjs.TensorInfo,
    v: tfjs.TensorInfo,
    g: tfjs.TensorInfo,
    nw: tfjs.TensorInfo,
    nm: tfjs.TensorInfo,
    nv: tfjs.TensorInfo,
    c: {
      beta1: number;
      beta2: number;
      oneMinusAccBeta1: number;
      oneMinusAccBeta2: number;
      epsilon: number;
      learningRate: number;
    },
  ): void {
    const n = w.shape.reduce((p, d) => p * d, 1);
    const f = Math.fround;
    this.fns.adam(
      this.addr(w),
      this.addr(m),
      this.addr(v),
      this.addr(g),
      this.addr(nw),
      this.addr(nm),
      this.addr(nv),
      n,
      f(c.beta1),
      f(1 - c.beta1),
      f(c.beta2),
      f(1 - c.beta2),
      f(c.oneMinusAccBeta1),
      f(c.oneMinusAccBeta2),
      f(c.epsilon),
      f(-c.learningRate),
    );
  }

  /** MaxPoolGrad (NHWC) into dx: each window's dy to the first position holding its maximum y. */
  maxPoolGrad(
    x: tfjs.TensorInfo,
    y: tfjs.TensorInfo,
    dy: tfjs.TensorInfo,
    dx: tfjs.TensorInfo,
    info: tfjs.backend_util.Conv2DInfo,
  ): void {
    this.fns.max_pool_grad(
      this.addr(x),
      this.addr(y),
      this.addr(dy),
      this.addr(dx),
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outHeight,
      info.outWidth,
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
    );
  }

  /** FusedBatchNorm over the last axis (C values per operand; offset/scale optional). */
  batchNorm(
    x: tfjs.TensorInfo,
    mean: tfjs.TensorInfo,
    variance: tfjs.TensorInfo,
    offset: tfjs.TensorInfo | undefined,
    scale: tfjs.TensorInfo | undefined,
    epsilon: number,
    out: tfjs.TensorInfo,
  ): void {
    const c = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((p, d) => p * d, 1) / c;
    this.fns.batch_norm(
      this.addr(x),
      this.addr(mean),
      this.addr(variance),
      offset ? this.addr(offset) : 0,
      scale ? this.addr(scale) : 0,
      epsilon,
      this.addr(out),
      rows,
      c,
      this.work,
    );
  }

  /** Most channels the training batchnorm kernels take (their per-channel sums live in the work buffer). */
  static readonly BN_MAX_CHANNELS = 4096;

  /**
   * Batchnorm forward in training mode over the last axis (C = BN_MAX_CHANNELS at most): the batch
   * mean and biased variance, y = (x - mean) * gamma / sqrt(var + eps) + beta, invstd =
   * 1 / sqrt(var + eps), and the moving averages m - (m - value) * decay of movingMean/Variance
   * into newMean/newVariance. gamma/beta optional (1/0); every per-channel operand has C floats.
   */
  batchNormTrain(
    x: tfjs.TensorInfo,
    gamma: tfjs.TensorInfo | undefined,
    beta: tfjs.TensorInfo | undefined,
    movingMean: tfjs.TensorInfo,
    movingVariance: tfjs.TensorInfo,
    epsilon: number,
    decay: number,
    out: {
      y: tfjs.TensorInfo;
      mean: tfjs.TensorInfo;
      invstd: tfjs.TensorInfo;
      newMean: tfjs.TensorInfo;
      newVariance: tfjs.TensorInfo;
    },
  ): void {
    const c = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((p, d) => p * d, 1) / c;
    this.fns.bn_train_forward(
      this.addr(x),
      gamma ? this.addr(gamma) : 0,
      beta ? this.addr(beta) : 0,
      this.addr(movingMean),
      this.addr(movingVariance),
      epsilon,
      decay,
      rows,
      c,
      this.addr(out.y),
      this.addr(out.mean),
      this.addr(out.invstd),
      this.addr(out.newMean),
      this.addr(out.newVariance),
      this.work,
    );
  }

  /**
   * The gradient of batchNormTrain's y through the batch moments: dx (x's shape), dgamma and dbeta
   * (C floats each) from x, dy and the forward's mean and invstd; gamma optional (1).
   */
  batchNormTrainGrad(
    x: tfjs.TensorInfo,
    dy: tfjs.TensorInfo,
    gamma: tfjs.TensorInfo | undefined,
    mean: tfjs.TensorInfo,
    invstd: tfjs.TensorInfo,
    dx: tfjs.TensorInfo,
    dgamma: tfjs.TensorInfo,
    dbeta: tfjs.TensorInfo,
  ): void {
    const c = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((p, d) => p * d, 1) / c;
    this.fns.bn_train_backward(
      this.addr(x),
      this.addr(dy),
      gamma ? this.addr(gamma) : 0,
      this.addr(mean),
      this.addr(invstd),
      rows,
      c,
      this.addr(dx),
      this.addr(dgamma),
      this.addr(dbeta),
      this.work,
    );
  }

  /** In place on c [m x n]: add `bias` (one value per column) if given, then ReLU if asked. */
  biasAct(c: tfjs.TensorInfo, m: number, n: number, bias: tfjs.TensorInfo | undefined, relu: boolean): void {
    this.fns.bias_act(this.addr(c), m, n, bias ? this.addr(bias) : 0, relu ? 1 : 0);
  }

  /** dw [kh,kw,ci,co] of a NHWC conv with input x [n,h,w,ci] and output gradient dy [n,oh,ow,co]. */
  conv2dFilterGrad(
    x: tfjs.TensorInfo,
    dy: tfjs.TensorInfo,
    dw: tfjs.TensorInfo,
    info: tfjs.backend_util.Conv2DInfo,
  ): void {
    this.fns.conv2d_filter_grad(
      this.addr(x),
      this.addr(dy),
      this.addr(dw),
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outHeight,
      info.outWidth,
      info.outChannels,
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
      this.work,
    );
  }

  /**
   * The same dw without im2col: x's rows and dy read in place (or x's rows of a chunk zero-padded
   * into the work buffer). False (dw untouched) when one output row's padded input rows do not fit.
   */
  conv2dFilterGradDirect(
    x: tfjs.TensorInfo,
    dy: tfjs.TensorInfo,
    dw: tfjs.TensorInfo,
    info: tfjs.backend_util.Conv2DInfo,
  ): boolean {
    return (
      this.fns.conv2d_filter_grad_direct(
        this.addr(x),
        this.addr(dy),
        this.addr(dw),
        info.batchSize,
        info.inHeight,
        info.inWidth,
        info.inChannels,
        info.outHeight,
        info.outWidth,
        info.outChannels,
        info.filterHeight,
        info.filterWidth,
        info.strideHeight,
        info.strideWidth,
        info.padInfo.top,
        info.padInfo.left,
        this.work,
      ) !== 0
    );
  }

  /**
   * dx [n,h,w,ci] of a NHWC conv with filter [kh,kw,ci,co] and output gradient dy [n,oh,ow,co].
   * False (dx untouched) when one 8-channel panel of the filter does not fit the work buffer.
   */
  conv2dInputGrad(
    dy: tfjs.TensorInfo,
    filter: tfjs.TensorInfo,
    dx: tfjs.TensorInfo,
    info: tfjs.backend_util.Conv2DInfo,
  ): boolean {
    return (
      this.fns.conv2d_input_grad(
        this.addr(dy),
        this.addr(filter),
        this.addr(dx),
        info.batchSize,
        info.inHeight,
        info.inWidth,
        info.inChannels,
        info.outHeight,
        info.outWidth,
        info.outChannels,
        info.filterHeight,
        info.filterWidth,
        info.strideHeight,
        info.strideWidth,
        info.padInfo.top,
        info.padInfo.left,
        this.work,
      ) !== 0
    );
  }

  /**
   * y [n,oh,ow,co] = conv of x [n,h,w,ci] (NHWC) with filter [kh,kw,ci,co], plus `bias` (one value
   * per co) if given, then ReLU if asked. False (y untouched) when one 8-channel panel of the
   * filter does not fit the work buffer.
   */
  conv2d(
    x: tfjs.TensorInfo,
    filter: tfjs.TensorInfo,
    bias: tfjs.TensorInfo | undefined,
    y: tfjs.TensorInfo,
    info: tfjs.backend_util.Conv2DInfo,
    relu: boolean,
  ): boolean {
    return (
      this.fns.conv2d(
        this.addr(x),
        this.addr(filter),
        bias ? this.addr(bias) : 0,
        this.addr(y),
        info.batchSize,
        info.inHeight,
        info.inWidth,
        info.inChannels,
        info.outHeight,
        info.outWidth,
        info.outChannels,
        info.filterHeight,
        info.filterWidth,
        info.strideHeight,
        info.strideWidth,
        info.padInfo.top,
        info.padInfo.left,
        relu ? 1 : 0,
        this.work,
      ) !== 0
    );
  }

  private static readonly instances = new WeakMap<object, Map<SimdKernels, SimdGemm | null>>();

  /**
   * The module bound to this backend, or null where it cannot run (the multi-threaded wasm build,
   * whose memory is shared; a TF.js whose internals moved; AKD_NO_SIMD_GEMM): callers keep their
   * composite kernels. The build is simdKernelsWanted()'s, read on every call, so the
   * environment switches take effect at once (each build is instantiated once per backend).
   */
  static for(backend: tfjs.KernelBackend): SimdGemm | null {
    const kernels = simdKernelsWanted();
    if (kernels === null) return null;
    let perBackend = SimdGemm.instances.get(backend);
    if (!perBackend) SimdGemm.instances.set(backend, (perBackend = new Map()));
    const known = perBackend.get(kernels);
    if (known !== undefined) return known;
    let made: SimdGemm | null = null;
    const b = backend as unknown as WasmBackendInternals;
    const memory = b.wasm?.asm?.memory;
    if (memory && typeof memory.grow === 'function' && !(memory.buffer instanceof SharedArrayBuffer)) {
      const base64 = kernels === 'relaxed-simd' ? GEMM_RELAXED_WASM_BASE64 : GEMM_WASM_BASE64;
      const instance = new WASM.Instance(new WASM.Module(Buffer.from(base64, 'base64')), { env: { memory } });
      const fns = instance.exports as unknown as GemmExports;
      // Never freed: one ~330 KB buffer per build for the backend's lifetime.
      const work = b.wasm._malloc(4 * fns.work_floats());
      if (work !== 0) made = new SimdGemm(b, fns, work, kernels);
    }
    perBackend.set(kernels, made);
    return made;
  }
}
