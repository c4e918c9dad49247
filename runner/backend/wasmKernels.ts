/**
 * Training kernels for the TF.js wasm backend.
 *
 * tfjs-backend-wasm 4.22.0 runs forward passes fast (XNNPACK) but is weak at training. Measured
 * on the teacher CNN step (batch 128; see each kernel's comment):
 * - Conv2DBackpropFilter is not registered at all: any CNN gradient throws;
 * - Conv2DBackpropInput is a scalar loop (~700 ms for one 3x3 64->32 layer);
 * - BatchMatMul with transposeA/transposeB skips XNNPACK (309 ms vs 7 ms), and dense-layer
 *   gradients always use transposed matmuls;
 * - MaxPoolGrad is a scalar loop (~80 ms) and drops gradients of windows hanging over the edge;
 * - Sum/Mean over leading axes (bias gradients, batchnorm) transpose first; Tile (batchnorm
 *   gradient) is a per-element loop; Identity (the engine's saved-tensor clones) copies.
 * The replacements below express these through wasm's fast kernels (Conv2D, AvgPool, MaxPool,
 * Transpose, PadV2, elementwise ops), so `tf.layers`, `model.fit`, `tf.grads` and
 * `optimizer.minimize` train unchanged.
 *
 * VERSION PIN: this relies on kernel-registry internals of @tensorflow/tfjs 4.22.0 /
 * @tensorflow/tfjs-backend-wasm 4.22.0: the wasm kernel functions accept plain TensorInfo inputs
 * ({dataId, shape, dtype}), return TensorInfos created with `backend.makeOutput` (refCount 1) or
 * reshape-style aliases (refCount incremented), and are released with `backend.disposeData`.
 * The composite kernels below call the original wasm kernel functions directly (as the wasm
 * backend's own composite kernels do) instead of going through the engine, so no tensors are
 * tracked, nothing is recorded on the gradient tape and every intermediate is freed here.
 * test/unit/backend/wasmKernels.test.ts checks them numerically against the cpu backend and
 * counts wasm data ids across training steps.
 */
import tfjs = require('@tensorflow/tfjs');
import { SimdGemm } from './simd/gemmModule';
import { installLazyConvGradient } from './lazyConvGradient';

type TensorInfo = tfjs.TensorInfo;
type Backend = tfjs.KernelBackend;
type Attrs = tfjs.NamedAttrMap;
type Padding = 'valid' | 'same' | number | tfjs.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil';
type KernelFn = (args: { inputs: tfjs.NamedTensorInfoMap; backend: Backend; attrs?: Attrs }) => TensorInfo;

const BACKEND = 'wasm';
/** Marks configs registered by this module, so registration is idempotent. */
const MARK = '__annealKdTrainingKernel';

/** Kernels we build on, captured before we replace anything (so a replacement never calls itself). */
interface BaseKernels {
  Conv2D: KernelFn;
  Transpose: KernelFn;
  PadV2: KernelFn;
  Slice: KernelFn;
  Reshape: KernelFn;
  Reverse: KernelFn;
  BatchMatMul: KernelFn;
  MaxPool: KernelFn;
  MaxPoolGrad: KernelFn;
  Neg: KernelFn;
  Step: KernelFn;
  Sub: KernelFn;
  Add: KernelFn;
  Maximum: KernelFn;
  Sum: KernelFn;
  Mean: KernelFn;
  AvgPool: KernelFn;
  Identity: KernelFn;
  Tile: KernelFn;
  Fill: KernelFn;
  Multiply: KernelFn;
  Relu: KernelFn;
  DepthwiseConv2dNative: KernelFn;
  FusedDepthwiseConv2D: KernelFn;
}

type OurConfig = tfjs.KernelConfig & { [MARK]?: boolean; original?: tfjs.KernelConfig };

/** The wasm package's own kernel (the one we replaced, if we did). */
function baseKernel(name: string): KernelFn {
  const registered = tfjs.getKernel(name, BACKEND) as OurConfig | undefined;
  const cfg = registered?.[MARK] ? registered.original : registered;
  if (cfg == null) {
    throw new Error(`wasm kernel '${name}' is not registered: load @tensorflow/tfjs-backend-wasm first`);
  }
  return cfg.kernelFunc as unknown as KernelFn;
}

/**
 * Runs wasm kernel functions and remembers every output, so `release` frees all intermediates
 * (on success and on error) except the one returned to the engine.
 */
class Scratch {
  private readonly made: TensorInfo[] = [];
  constructor(readonly backend: Backend) {}

  run(fn: KernelFn, inputs: tfjs.NamedTensorInfoMap, attrs: Attrs = {}): TensorInfo {
    const out = fn({ inputs, backend: this.backend, attrs });
    this.made.push(out);
    return out;
  }

  /** Takes ownership of a TensorInfo made outside `run` (e.g. one of a multi-output kernel). */
  adopt(t: TensorInfo): TensorInfo {
    this.made.push(t);
    return t;
  }

  /** Frees intermediates early (big loops); undefined entries are skipped. */
  free(...ts: Array<TensorInfo | undefined>): void {
    for (const t of ts) {
      const i = t ? this.made.indexOf(t) : -1;
      if (i >= 0) {
        this.backend.disposeData(t!.dataId);
        this.made.splice(i, 1);
      }
    }
  }

  /** Frees everything made here except `keep` (which the engine will own). */
  release(keep?: TensorInfo): void {
    for (const t of this.made) {
      if (t !== keep) this.backend.disposeData(t.dataId);
    }
    this.made.length = 0;
  }
}

/** Runs `body` with a Scratch, frees its intermediates, returns the result to the engine. */
function composite(backend: Backend, body: (s: Scratch) => TensorInfo): TensorInfo {
  const s = new Scratch(backend);
  let out: TensorInfo | undefined;
  try {
    out = body(s);
    return out;
  } finally {
    s.release(out);
  }
}

/**
 * wasm's Slice is JavaScript copying one innermost run at a time (a [128,32,32,16] -> 31x31 crop
 * takes 12 ms in 16-float runs): merge the trailing dims taken whole into one longer run first.
 */
function slice(s: Scratch, k: BaseKernels, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const shape = x.shape;
  let d = shape.length - 1;
  while (d > 0 && begin[d] === 0 && size[d] === shape[d]) d--;
  if (d === shape.length - 1) return s.run(k.Slice, { x }, { begin, size });
  const inner = shape.slice(d + 1).reduce((p, v) => p * v, 1);
  const flat = s.run(k.Reshape, { x }, { shape: [...shape.slice(0, d), shape[d] * inner] });
  const out = s.run(
    k.Slice,
    { x: flat },
    { begin: [...begin.slice(0, d), begin[d] * inner], size: [...size.slice(0, d), size[d] * inner] },
  );
  return s.run(k.Reshape, { x: out }, { shape: size });
}

/**
 * Pads (positive amounts) or crops (negative amounts) each dimension; `spec[i] = [before, after]`.
 * Returns x itself when nothing changes.
 */
function padOrCrop(
  s: Scratch,
  k: BaseKernels,
  x: TensorInfo,
  spec: Array<[number, number]>,
  padValue = 0,
): TensorInfo {
  let cur = x;
  if (spec.some(([b, a]) => b < 0 || a < 0)) {
    const begin = spec.map(([b]) => Math.max(0, -b));
    const size = spec.map(([b, a], i) => cur.shape[i] - Math.max(0, -b) - Math.max(0, -a));
    cur = slice(s, k, cur, begin, size);
  }
  if (spec.some(([b, a]) => b > 0 || a > 0)) {
    const paddings = spec.map(([b, a]) => [Math.max(0, b), Math.max(0, a)]);
    cur = s.run(k.PadV2, { x: cur }, { paddings, constantValue: padValue });
  }
  return cur;
}

function checkNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm supports dataFormat 'NHWC' only (got '${String(dataFormat)}')`);
  }
}

function checkNoDilation(kernel: string, attrs: Attrs): void {
  const d = (attrs as { dilations?: number | number[] }).dilations;
  if (d != null && (Array.isArray(d) ? d.some((v) => v !== 1) : d !== 1)) {
    throw new Error(`${kernel} on wasm supports dilations 1 only (got ${JSON.stringify(d)})`);
  }
}

/** A stride-1 NHWC wasm Conv2D (XNNPACK) with explicit padding. */
function conv1(
  s: Scratch,
  k: BaseKernels,
  x: TensorInfo,
  filter: TensorInfo,
  pad: tfjs.backend_util.ExplicitPadding,
  dilations: [number, number] = [1, 1],
): TensorInfo {
  const attrs = { strides: [1, 1], pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined };
  return s.run(k.Conv2D, { x, filter }, attrs as unknown as Attrs);
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: Padding,
  dimRoundingMode: RoundingMode | undefined,
): tfjs.backend_util.Conv2DInfo {
  return tfjs.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
}

/**
 * The geometry of a convolution gradient kernel (Conv2DBackpropFilter/Input), after the checks
 * both need: NHWC, no dilation, and dy of the conv's output size.
 */
function gradientConvInfo(
  kernel: string,
  attrs: Attrs | undefined,
  xShape: number[],
  filterShape: number[],
  dy: TensorInfo,
): tfjs.backend_util.Conv2DInfo {
  const a = attrs as unknown as tfjs.Conv2DBackpropInputAttrs;
  checkNHWC(kernel, a.dataFormat);
  checkNoDilation(kernel, attrs ?? {});
  const info = convInfo(xShape, filterShape, a.strides, a.pad, a.dimRoundingMode);
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth) {
    throw new Error(
      `${kernel}: dy shape ${dy.shape} does not match output ${info.outHeight}x${info.outWidth}`,
    );
  }
  return info;
}

/**
 * dW[i,j,ci,co] = sum_{n,p,q} xPadded[n, p*sh+i, q*sw+j, ci] * dy[n,p,q,co] is itself a conv
 * over (n,p,q), so XNNPACK's fast conv does the work, in one of two orientations:
 * - "dy as filter": x^T [Cin,H,W,N] (batch Cin, channels N) conv dy^T [Ho,Wo,N,Cout] with
 *   dilation = stride -> [Cin,fh,fw,Cout]. Works for any stride.
 * - "x as filter" (stride 1 only): dy^T [Cout,Ho,Wo,N] padded by fh-1-top conv x^T [H,W,N,Cin]
 *   -> [Cout,fh,fw,Cin] with the taps in reverse order. Same sums, same order (bit-identical).
 * XNNPACK repacks the filter on every call and streams it per tile of output rows, so the
 * orientation that packs the smaller tensor wins (measured: 128x26x26x32 -> 64 valid 3x3 takes
 * 136 ms as "x as filter" vs 193 ms; 'same' convs with Cin <= Cout 10-35% faster; small-x
 * cases like 8x8x64 'valid' up to 2x slower, so pick by size).
 */
function conv2DBackpropFilter(k: BaseKernels): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { filterShape } = attrs as unknown as tfjs.Conv2DBackpropFilterAttrs;
    const info = gradientConvInfo('Conv2DBackpropFilter', attrs, x.shape, filterShape, dy);
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
    const { outHeight: ho, outWidth: wo, inHeight: h, inWidth: w, padInfo } = info;
    const gemm = x.dtype === 'float32' && dy.dtype === 'float32' ? SimdGemm.for(backend) : null;
    if (gemm) {
      const ci = info.inChannels;
      const co = info.outChannels;
      const dw = makeConst(backend, [fh, fw, ci, co]);
      // simd/gemm.c's direct product reads dy and x's rows where they are (no im2col; padded layers
      // copy a chunk's rows, zero-padded, to the work buffer): ResNet-8's nine filter gradients at
      // batch 64 take 29 ms instead of 51, the CNN's two 23 instead of 32. Its chunks of >= 32
      // pixels must fit L1, so for wide layers the packed GEMM (im2col panels) keeps up or wins
      // (3x3 64->512 on 4x4: 5.5 ms vs 6.7; 256->256: a tie) and runs them.
      if (co <= 192 && ci + co <= 384 && gemm.conv2dFilterGradDirect(x, dy, dw, info)) return dw;
      gemm.conv2dFilterGrad(x, dy, dw, info);
      return dw;
    }
    const size = (t: TensorInfo): number => t.shape.reduce((p, v) => p * v, 1);
    const xAsFilter = sh === 1 && sw === 1 && size(x) <= size(dy);
    if (fh === 1 && fw === 1 && padInfo.top === 0 && padInfo.left === 0 && x.dtype === 'float32') {
      return composite(backend, (s) => filterGrad1x1(s, k, info, x, dy));
    }
    return composite(backend, (s) => {
      if (xAsFilter) {
        // out[co, fh-1-i, fw-1-j, ci] = sum_{n,u,v} dyP[co, fh-1-i+u, fw-1-j+v, n] * x[n,u,v,ci]
        // with dy shifted by fh-1-top (negative: cropped) and extended to H+fh-1 rows.
        const top = fh - 1 - padInfo.top;
        const bottom = h + fh - 1 - top - ho;
        const left = fw - 1 - padInfo.left;
        const right = w + fw - 1 - left - wo;
        const dyt = s.run(k.Transpose, { x: dy }, { perm: [3, 1, 2, 0] });
        const dyc = padOrCrop(s, k, dyt, [
          [0, 0],
          [Math.min(0, top), Math.min(0, bottom)],
          [Math.min(0, left), Math.min(0, right)],
          [0, 0],
        ]);
        const pad: tfjs.backend_util.ExplicitPadding = [
          [0, 0],
          [Math.max(0, top), Math.max(0, bottom)],
          [Math.max(0, left), Math.max(0, right)],
          [0, 0],
        ];
        const xt = s.run(k.Transpose, { x }, { perm: [1, 2, 0, 3] });
        const out = conv1(s, k, dyc, xt, pad);
        checkShape(out, fh, fw);
        const rev = s.run(k.Reverse, { x: out }, { dims: [1, 2] });
        return s.run(k.Transpose, { x: rev }, { perm: [1, 2, 3, 0] });
      }
      // Rows/cols of padded x the forward pass actually read; crop x to that, and pad through
      // the conv's own padding (XNNPACK pads implicitly: no padded copy of x).
      const bottom = (ho - 1) * sh + fh - padInfo.top - h;
      const right = (wo - 1) * sw + fw - padInfo.left - w;
      if (h + Math.min(0, bottom) <= 0 || w + Math.min(0, right) <= 0) {
        // The taps only ever read padding (e.g. a left pad wider than the columns read): dw = 0.
        // (Cropped to nothing, XNNPACK's conv returned garbage.)
        return s.adopt(
          makeConst(
            backend,
            [fh, fw, info.inChannels, info.outChannels],
            new Float32Array(fh * fw * info.inChannels * info.outChannels),
          ),
        );
      }
      // (Cropped after the transpose: runs of N floats instead of Cin floats to copy.)
      const xt = s.run(k.Transpose, { x }, { perm: [3, 1, 2, 0] });
      const xc = padOrCrop(s, k, xt, [
        [0, 0],
        [0, Math.min(0, bottom)],
        [0, Math.min(0, right)],
        [0, 0],
      ]);
      const dyt = s.run(k.Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
      const pad: tfjs.backend_util.ExplicitPadding = [
        [0, 0],
        [padInfo.top, Math.max(0, bottom)],
        [padInfo.left, Math.max(0, right)],
        [0, 0],
      ];
      const dw = conv1(s, k, xc, dyt, pad, [sh, sw]);
      checkShape(dw, fh, fw);
      return s.run(k.Transpose, { x: dw }, { perm: [1, 2, 0, 3] });
    });
  };
}

/**
 * 1x1 filters (ResNet's projection shortcuts): dW[0,0,ci,co] = sum_m xs[m,ci] * dy[m,co] with
 * xs = x sampled at the stride, as [M, Cin], M = N*Ho*Wo: one matmul xs^T.dy. As a conv it was a
 * "filter" of N*Ho*Wo taps (128x32x32x16 -> 32, stride 2: 39 ms vs 3 ms forward); as a matmul a
 * few ms. Needs zero top/left padding (always so for 1x1 'same'/'valid').
 */
function filterGrad1x1(
  s: Scratch,
  k: BaseKernels,
  info: tfjs.backend_util.Conv2DInfo,
  x: TensorInfo,
  dy: TensorInfo,
): TensorInfo {
  const {
    strideHeight: sh,
    strideWidth: sw,
    outHeight: ho,
    outWidth: wo,
    inHeight: h,
    inWidth: w,
    batchSize: n,
  } = info;
  const cin = info.inChannels;
  const cout = info.outChannels;
  let xs = x;
  if (sh > 1 || sw > 1) {
    // Rows/cols [0, ho*sh) / [0, wo*sw) (crop, or zero-pad rows never sampled), then take index 0 of each stride block.
    const xc = padOrCrop(s, k, x, [
      [0, 0],
      [0, ho * sh - h],
      [0, wo * sw - w],
      [0, 0],
    ]);
    const x5 = s.run(k.Reshape, { x: xc }, { shape: [n * ho, sh, wo, sw * cin] });
    xs = slice(s, k, x5, [0, 0, 0, 0], [n * ho, 1, wo, cin]);
  }
  const m = n * ho * wo;
  const xm = s.run(k.Reshape, { x: xs }, { shape: [1, m, cin] });
  const xt = swapLastTwo(s, k, xm);
  const dym = s.run(k.Reshape, { x: dy }, { shape: [1, m, cout] });
  const dw = s.run(k.BatchMatMul, { a: xt, b: dym }, { transposeA: false, transposeB: false });
  return s.run(k.Reshape, { x: dw }, { shape: [1, 1, cin, cout] });
}

function checkShape(t: TensorInfo, fh: number, fw: number): void {
  if (t.shape[1] !== fh || t.shape[2] !== fw) {
    throw new Error(`Conv2DBackpropFilter: internal shape ${t.shape} != filter ${fh}x${fw}`);
  }
}

/**
 * With the SIMD module: simd/gemm.c's indirect GEMM, split by stride phase so a stride-2 layer
 * does no work on zeros (64x24x24x64 -> 3x3x32: 26 ms vs 36 ms; ResNet-8's nine: 32 ms vs 68 ms).
 * Otherwise dx = 'valid' conv of dy dilated by the stride (zeros inserted) and padded by
 * filter-1-pad, with the filter reversed spatially and its in/out channels swapped: XNNPACK's
 * conv instead of wasm's scalar loop (128x24x24x64 -> 3x3x32: 72 ms vs ~700 ms); for stride s
 * the zeros cost s^2 the FLOPs.
 */
function conv2DBackpropInput(k: BaseKernels): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { inputShape } = attrs as unknown as tfjs.Conv2DBackpropInputAttrs;
    const info = gradientConvInfo('Conv2DBackpropInput', attrs, inputShape, filter.shape, dy);
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
    const { outHeight: ho, outWidth: wo, inHeight: h, inWidth: w, padInfo, batchSize: n } = info;
    const cout = info.outChannels;
    const gemm =
      dy.dtype === 'float32' &&
      filter.dtype === 'float32' &&
      n * h * w * info.inChannels > 0 &&
      n * ho * wo * cout > 0
        ? SimdGemm.for(backend)
        : null;
    if (gemm) {
      const dx = makeConst(backend, [n, h, w, info.inChannels]);
      if (gemm.conv2dInputGrad(dy, filter, dx, info)) return dx;
      backend.disposeData(dx.dataId);
    }
    return composite(backend, (s) => {
      // Dilate: [N,Ho,Wo,C] -> [N,Ho*sh,Wo*sw,C] with dy at multiples of the stride, via
      // reshape / pad-after / reshape per axis (4-D only; sh-1 trailing zero rows are
      // accounted for in the padding below).
      let d = dy;
      if (sh > 1) {
        d = s.run(k.Reshape, { x: d }, { shape: [n, ho, 1, wo * cout] });
        d = s.run(
          k.PadV2,
          { x: d },
          {
            paddings: [
              [0, 0],
              [0, 0],
              [0, sh - 1],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
        d = s.run(k.Reshape, { x: d }, { shape: [n, ho * sh, wo, cout] });
      }
      const hd = ho * sh;
      if (sw > 1) {
        d = s.run(k.Reshape, { x: d }, { shape: [n * hd, wo, 1, cout] });
        d = s.run(
          k.PadV2,
          { x: d },
          {
            paddings: [
              [0, 0],
              [0, 0],
              [0, sw - 1],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
        d = s.run(k.Reshape, { x: d }, { shape: [n, hd, wo * sw, cout] });
      }
      const wd = wo * sw;
      // Padded length must be h + fh - 1 so the 'valid' conv yields exactly h rows.
      const top = fh - 1 - padInfo.top;
      const bottom = h + fh - 1 - top - hd;
      const left = fw - 1 - padInfo.left;
      const right = w + fw - 1 - left - wd;
      // Negative amounts (explicit padding wider than the filter, or trailing dilation zeros) crop.
      const dc = padOrCrop(s, k, d, [
        [0, 0],
        [Math.min(0, top), Math.min(0, bottom)],
        [Math.min(0, left), Math.min(0, right)],
        [0, 0],
      ]);
      const pad: tfjs.backend_util.ExplicitPadding = [
        [0, 0],
        [Math.max(0, top), Math.max(0, bottom)],
        [Math.max(0, left), Math.max(0, right)],
        [0, 0],
      ];
      const fr = s.run(k.Reverse, { x: filter }, { dims: [0, 1] });
      const ft = s.run(k.Transpose, { x: fr }, { perm: [0, 1, 3, 2] });
      const dx = conv1(s, k, dc, ft, pad);
      if (dx.shape[1] !== h || dx.shape[2] !== w) {
        throw new Error(`Conv2DBackpropInput: internal shape ${dx.shape} != input ${h}x${w}`);
      }
      return dx;
    });
  };
}

/**
 * Conv2D and FusedConv2D (bias + ReLU epilogue) on simd/gemm.c's indirect GEMM: ~1.4x XNNPACK
 * on the CNN and ResNet layers (64x26x26x32 -> 3x3x64: 23 ms vs 31 ms). The original kernel runs
 * everything else, so its semantics (and errors) stay: another activation, PReLU weights, a bias
 * that is not [outChannels], a dataFormat other than 'NHWC', dilations, non-float32, no SIMD
 * module, and fewer than 4 input channels (XNNPACK is as fast there: ResNet's 3-channel stem).
 */
function conv2D(original: KernelFn, fused: boolean): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const a = attrs as unknown as tfjs.FusedConv2DAttrs;
    const activation = fused ? a.activation : 'linear';
    const d = a.dilations as number | number[] | undefined;
    const ok =
      x!.dtype === 'float32' &&
      filter!.dtype === 'float32' &&
      x!.shape.length === 4 &&
      filter!.shape.length === 4 &&
      x!.shape[3] >= 4 &&
      x!.shape[3] === filter!.shape[2] &&
      a.dataFormat === 'NHWC' &&
      (d === 1 || (Array.isArray(d) && d.length === 2 && d[0] === 1 && d[1] === 1)) &&
      (activation === 'linear' || activation === 'relu') &&
      preluActivationWeights == null &&
      (bias == null ||
        (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === filter!.shape[3]));
    const gemm = ok ? SimdGemm.for(backend) : null;
    if (!gemm) return original(args);
    const info = convInfo(x!.shape, filter!.shape, a.strides, a.pad, a.dimRoundingMode);
    if (info.outShape.some((v) => v <= 0) || x!.shape.some((v) => v <= 0)) return original(args);
    const y = makeConst(backend, info.outShape);
    if (gemm.conv2d(x!, filter!, bias, y, info, activation === 'relu')) return y;
    backend.disposeData(y.dataId);
    return original(args);
  };
}

/**
 * Swaps the last two dims. wasm's Transpose has a 2-D path that scatters writes with a stride
 * of the row count, which is slow for tall matrices (9216x128: 8.3 ms; 73728x64: 83 ms); split
 * into [.., R/d, d, C] its N-D path gathers instead (1.4 ms; 7.7 ms). Wide ones stay 2-D.
 */
function swapLastTwo(s: Scratch, k: BaseKernels, t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  const [rows, cols] = [t.shape[r - 2], t.shape[r - 1]];
  const d = rows > cols ? [128, 64, 32, 16, 8].find((v) => rows % v === 0 && rows > v) : undefined;
  if (d === undefined) {
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return s.run(k.Transpose, { x: t }, { perm });
  }
  const batch = t.shape.slice(0, -2);
  const b = batch.reduce((p, v) => p * v, 1);
  const t4 = s.run(k.Reshape, { x: t }, { shape: [b, rows / d, d, cols] });
  const tt = s.run(k.Transpose, { x: t4 }, { perm: [0, 3, 1, 2] });
  return s.run(k.Reshape, { x: tt }, { shape: [...batch, cols, rows] });
}

/**
 * BatchMatMul with transposeA/transposeB runs a slow path on wasm (x^T.dy for a 128x9216 dense
 * input: 309 ms vs 7 ms): transpose explicitly, then run the fast non-transposed matmul.
 */
function batchMatMul(k: BaseKernels): KernelFn {
  return ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tfjs.BatchMatMulAttrs;
    const gemm = a.dtype === 'float32' && b.dtype === 'float32' ? SimdGemm.for(backend) : null;
    const direct = gemm ? simdBatchMatMul(gemm, backend, a, b, transposeA, transposeB) : null;
    if (direct) return direct;
    if (!transposeA && !transposeB) return k.BatchMatMul({ inputs, backend, attrs });
    return composite(backend, (s) => {
      const a2 = transposeA ? swapLastTwo(s, k, a) : a;
      const b2 = transposeB ? swapLastTwo(s, k, b) : b;
      return s.run(k.BatchMatMul, { a: a2, b: b2 }, { transposeA: false, transposeB: false });
    });
  };
}

/**
 * BatchMatMul on simd/gemm.c: a transposition is only a choice of strides, so no transposed copy
 * is made (dense-layer gradients are always transposed products). Batch dims must be equal or 1
 * (broadcast); null for anything else (then the composite path runs).
 */
function simdBatchMatMul(
  gemm: SimdGemm,
  backend: Backend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const [m, k] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [k2, n] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  if (k !== k2)
    throw new Error(`BatchMatMul: inner dimensions ${k} and ${k2} differ (${a.shape} x ${b.shape})`);
  const outer = tfjs.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const count = (s: number[]): number => s.reduce((p, v) => p * v, 1);
  const batches = count(outer);
  const aBatches = count(a.shape.slice(0, -2));
  const bBatches = count(b.shape.slice(0, -2));
  if ((aBatches !== batches && aBatches !== 1) || (bBatches !== batches && bBatches !== 1)) return null;
  const out = makeConst(backend, [...outer, m, n]);
  for (let i = 0; i < batches; i++) {
    gemm.sgemm(
      m,
      n,
      k,
      {
        t: a,
        offset: (aBatches === 1 ? 0 : i) * m * k,
        rowStride: transposeA ? 1 : k,
        colStride: transposeA ? m : 1,
      },
      {
        t: b,
        offset: (bBatches === 1 ? 0 : i) * k * n,
        rowStride: transposeB ? 1 : n,
        colStride: transposeB ? k : 1,
      },
      out,
      i * m * n,
      n,
    );
  }
  return out;
}

/**
 * _FusedMatMul (tf.layers' dense layers: matmul + bias + activation) on simd/gemm.c with its
 * epilogue; measured on the MLP student's 128x784 . 784x32 with bias and ReLU: 0.12 ms vs
 * XNNPACK's 0.22 ms. Other activations, PReLU weights or a bias that is not one value per
 * column run the original kernel. (The original is wrong with transposed operands in
 * tfjs-backend-wasm 4.22.0: [7,5].[10,5]^T + bias is off by up to 3.4, [300,7]^T.[300,9] with
 * ReLU by 32%; without the SIMD module transposed cases run as matmul, Add, Relu instead.)
 */
function fusedMatMul(original: KernelFn, k: BaseKernels, matMul: KernelFn): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const { transposeA, transposeB, activation } = attrs as unknown as {
      transposeA: boolean;
      transposeB: boolean;
      activation: string;
    };
    const gemm = a!.dtype === 'float32' && b!.dtype === 'float32' ? SimdGemm.for(backend) : null;
    const biasOk = bias == null || (bias.dtype === 'float32' && bias.shape.length === 1);
    const ours =
      preluActivationWeights == null && biasOk && (activation === 'linear' || activation === 'relu');
    if (!gemm && ours && (transposeA || transposeB)) {
      return composite(backend, (s) => {
        const mm = s.run(matMul, { a: a!, b: b! }, { transposeA, transposeB });
        const withBias = bias ? s.run(k.Add, { a: mm, b: bias }) : mm;
        return activation === 'relu' ? s.run(k.Relu, { x: withBias }) : withBias;
      });
    }
    if (!gemm || !ours) return original(args);
    const n = transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
    if (bias != null && bias.shape[0] !== n) return original(args);
    const out = simdBatchMatMul(gemm, backend, a!, b!, transposeA, transposeB);
    if (!out) return original(args);
    const rows = out.shape.slice(0, -1).reduce((p, v) => p * v, 1);
    gemm.biasAct(out, rows, n, bias, activation === 'relu');
    return out;
  };
}

/**
 * Leading-axes reduction shared by Sum and Mean, or null when another case (then the original
 * kernel runs): x [d0..dL-1, rest] summed/averaged over axes 0..L-1, as [M, C] with M = d0*..*dL-1.
 */
function leadingAxes(x: TensorInfo, axis: number | number[]): { m: number; c: number; l: number } | null {
  const rank = x.shape.length;
  const axes = tfjs.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  const l = axes.length;
  if (x.dtype !== 'float32' || l === 0 || l === rank || !axes.every((v, i) => v === i)) return null;
  const m = x.shape.slice(0, l).reduce((p, v) => p * v, 1);
  const c = x.shape.slice(l).reduce((p, v) => p * v, 1);
  return m >= 2 && m * c >= 4096 ? { m, c, l } : null;
}

/**
 * Mean/Sum over leading axes (batchnorm moments and gradients, conv bias gradients: [N,H,W,C]
 * over [0,1,2]). wasm's reductions transpose the reduced axes to the end first (8.7 ms for
 * 128x24x24x64); an XNNPACK average pool over the whole [1,M,1,C] view takes 1 ms. Sum is that
 * mean times M (one extra rounding). Other reductions use the original kernels.
 */
function leadingReduce(k: BaseKernels, op: 'Sum' | 'Mean'): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as tfjs.SumAttrs;
    const lead = leadingAxes(x, axis);
    if (!lead) return k[op](args);
    const { m, c, l } = lead;
    return composite(backend, (s) => {
      const x4 = s.run(k.Reshape, { x }, { shape: [1, m, 1, c] });
      let out = s.run(k.AvgPool, { x: x4 }, {
        filterSize: [m, 1],
        strides: [1, 1],
        pad: 'valid',
        dimRoundingMode: undefined,
      } as unknown as Attrs);
      if (op === 'Sum') {
        out = s.run(k.Multiply, { a: out, b: s.adopt(makeConst(backend, [1], new Float32Array([m]))) });
      }
      const shape = keepDims ? x.shape.map((v, i) => (i < l ? 1 : v)) : x.shape.slice(l);
      return s.run(k.Reshape, { x: out }, { shape });
    });
  };
}

/**
 * MaxPoolGrad. wasm's own kernel is a scalar loop (~80 ms for a 128x24x24x64 batch) and drops the
 * gradient of windows that hang over the bottom/right edge ('same' padding, odd sizes), so every
 * float32 case comes here. Exact float arithmetic, with the cpu kernel's tie rule (the first
 * maximum of a window in row-major order gets the gradient; padding never does):
 *   score = w * [x == y]  as  w - w*step(y - x),  w = kh*kw - (position in the window) > 0
 *   best  = max of score over the window   (the weight of the first maximum)
 *   dx    = sum over windows of dy * [score == best]  as  dy - dy*step(best - score)
 * x is padded with -Infinity (step(y - -Inf) = 1: never a maximum). Not handled: +-Infinity or NaN
 * inputs. (wasm's MaxPoolWithArgmax can't be used instead: it returns index 0 for windows whose
 * maximum is <= 0.)
 */
function maxPoolGrad(k: BaseKernels): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, input, output } = inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
    const a = attrs as unknown as tfjs.MaxPoolGradAttrs;
    const info = tfjs.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    if (input.dtype !== 'float32' || info.outHeight <= 0 || info.outWidth <= 0) return k.MaxPoolGrad(args);
    const gemm = dy.dtype === 'float32' && output.dtype === 'float32' ? SimdGemm.for(backend) : null;
    if (gemm) {
      // One pass in simd/gemm.c (the CNN's 2x2 pool gradient: 6.5 ms composite -> ~1 ms).
      const dx = makeConst(backend, input.shape);
      gemm.maxPoolGrad(input, output, dy, dx, info);
      return dx;
    }
    const nonOverlapping = info.filterHeight === info.strideHeight && info.filterWidth === info.strideWidth;
    return composite(backend, (s) =>
      (nonOverlapping ? maxPoolGradTiled : maxPoolGradGeneral)(s, k, info, dy, input, output),
    );
  };
}

/**
 * Windows tile the (padded/cropped) input exactly: the whole computation runs on 5-D views
 * [N*Ho, kh, Wo, kw, C] of x against [N*Ho, 1, Wo, 1, C] views of y and dy (broadcasting), so it
 * is 9 full-size XNNPACK-speed ops.
 */
function maxPoolGradTiled(
  s: Scratch,
  k: BaseKernels,
  info: tfjs.backend_util.Conv2DInfo,
  dy: TensorInfo,
  input: TensorInfo,
  output: TensorInfo,
): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, padInfo } = info;
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, inChannels: c } = info;
  const hc = ho * kh;
  const wc = wo * kw;
  // Grid of the windows in x's coordinates: rows [-top, hc - top). Pad with -Inf / crop unused rows.
  const spec: Array<[number, number]> = [
    [0, 0],
    [padInfo.top, hc - padInfo.top - h],
    [padInfo.left, wc - padInfo.left - w],
    [0, 0],
  ];
  const xc = padOrCrop(s, k, input, spec, -Infinity);
  const b5 = [n * ho, 1, wo, 1, c];
  const x5 = s.run(k.Reshape, { x: xc }, { shape: [n * ho, kh, wo, kw, c] });
  const y5 = s.run(k.Reshape, { x: output }, { shape: b5 });
  const dy5 = s.run(k.Reshape, { x: dy }, { shape: b5 });
  const wv = new Float32Array(kh * kw).map((_, i) => kh * kw - i);
  const wt = s.run(
    k.Reshape,
    { x: s.adopt(makeConst(s.backend, [kh * kw], wv)) },
    { shape: [1, kh, 1, kw, 1] },
  );
  const negW = s.run(k.Neg, { x: wt });
  const notMax = s.run(k.Step, { x: s.run(k.Sub, { a: y5, b: x5 }) }, { alpha: 0 });
  const score = s.run(k.Add, { a: s.run(k.Multiply, { a: notMax, b: negW }), b: wt });
  const best = s.run(k.MaxPool, { x: s.run(k.Reshape, { x: score }, { shape: [n, hc, wc, c] }) }, {
    filterSize: [kh, kw],
    strides: [kh, kw],
    pad: 'valid',
    dimRoundingMode: undefined,
  } as unknown as Attrs);
  const best5 = s.run(k.Reshape, { x: best }, { shape: b5 });
  const notFirst = s.run(k.Step, { x: s.run(k.Sub, { a: best5, b: score }) }, { alpha: 0 });
  const dx5 = s.run(k.Sub, { a: dy5, b: s.run(k.Multiply, { a: notFirst, b: dy5 }) });
  const dx = s.run(k.Reshape, { x: dx5 }, { shape: [n, hc, wc, c] });
  return padOrCrop(
    s,
    k,
    dx,
    spec.map(([b, e]) => [-b, -e] as [number, number]),
  );
}

/**
 * Overlapping (or gapped) windows: one strided view of x per window position (kh*kw of them,
 * [N,Ho,Wo,C] each), the same arithmetic, then each position's gradient is dilated back by the
 * stride, shifted into place and summed.
 */
function maxPoolGradGeneral(
  s: Scratch,
  k: BaseKernels,
  info: tfjs.backend_util.Conv2DInfo,
  dy: TensorInfo,
  input: TensorInfo,
  output: TensorInfo,
): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, inChannels: c } = info;
  // Padded extent so that rows [i, i + ho*sh) exist for every window row i < kh.
  const hp = kh - 1 + ho * sh;
  const wp = kw - 1 + wo * sw;
  const spec: Array<[number, number]> = [
    [0, 0],
    [padInfo.top, hp - padInfo.top - h],
    [padInfo.left, wp - padInfo.left - w],
    [0, 0],
  ];
  const xp = padOrCrop(s, k, input, spec, -Infinity);
  const konst = (v: number): TensorInfo => s.adopt(makeConst(s.backend, [1], new Float32Array([v])));

  const scores: TensorInfo[] = [];
  let best: TensorInfo | undefined;
  for (let i = 0; i < kh; i++) {
    let rows = slice(s, k, xp, [0, i, 0, 0], [n, ho * sh, wp, c]);
    if (sh > 1) {
      rows = s.run(k.Reshape, { x: rows }, { shape: [n * ho, sh, wp * c] });
      rows = slice(s, k, rows, [0, 0, 0], [n * ho, 1, wp * c]);
    }
    rows = s.run(k.Reshape, { x: rows }, { shape: [n, ho, wp, c] });
    for (let j = 0; j < kw; j++) {
      let v = slice(s, k, rows, [0, 0, j, 0], [n, ho, wo * sw, c]);
      if (sw > 1) {
        v = s.run(k.Reshape, { x: v }, { shape: [n * ho * wo, sw, c] });
        v = slice(s, k, v, [0, 0, 0], [n * ho * wo, 1, c]);
      }
      v = s.run(k.Reshape, { x: v }, { shape: [n, ho, wo, c] });
      const wgt = kh * kw - (i * kw + j);
      const notMax = s.run(k.Step, { x: s.run(k.Sub, { a: output, b: v }) }, { alpha: 0 });
      const score = s.run(k.Add, { a: s.run(k.Multiply, { a: notMax, b: konst(-wgt) }), b: konst(wgt) });
      scores.push(score);
      best = best ? s.run(k.Maximum, { a: best, b: score }) : score;
    }
  }

  let acc: TensorInfo | undefined;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const notFirst = s.run(k.Step, { x: s.run(k.Sub, { a: best!, b: scores[i * kw + j] }) }, { alpha: 0 });
      let g = s.run(k.Sub, { a: dy, b: s.run(k.Multiply, { a: notFirst, b: dy }) });
      // Dilate by the stride (zeros between), then shift to window position (i, j).
      if (sw > 1) {
        g = s.run(k.Reshape, { x: g }, { shape: [n * ho * wo, 1, c] });
        g = s.run(
          k.PadV2,
          { x: g },
          {
            paddings: [
              [0, 0],
              [0, sw - 1],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
      }
      if (sh > 1) {
        g = s.run(k.Reshape, { x: g }, { shape: [n * ho, 1, wo * sw * c] });
        g = s.run(
          k.PadV2,
          { x: g },
          {
            paddings: [
              [0, 0],
              [0, sh - 1],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
      }
      g = s.run(k.Reshape, { x: g }, { shape: [n, ho * sh, wo * sw, c] });
      const placed = s.run(
        k.PadV2,
        { x: g },
        {
          paddings: [
            [0, 0],
            [i, hp - i - ho * sh],
            [j, wp - j - wo * sw],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      const sum = acc ? s.run(k.Add, { a: acc, b: placed }) : placed;
      s.free(acc, placed === sum ? undefined : placed);
      acc = sum;
    }
  }
  return padOrCrop(
    s,
    k,
    acc!,
    spec.map(([b, e]) => [-b, -e] as [number, number]),
  );
}

/**
 * FusedBatchNorm (batchnorm layers in inference mode, and in training where fusedBatchNorm.ts's
 * fused op does not apply): wasm's kernel is a scalar loop (9 calls of a ResNet-8 step: 19 ms);
 * simd/gemm.c's one SIMD pass when mean and variance (and offset, scale if given) hold one value
 * per channel of the last axis, else the original.
 */
function fusedBatchNorm(original: KernelFn): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>;
    const { varianceEpsilon } = attrs as unknown as tfjs.FusedBatchNormAttrs;
    const c = x!.shape[x!.shape.length - 1];
    const perChannel = (t: TensorInfo | undefined): boolean =>
      t == null || (t.dtype === 'float32' && t.shape.reduce((p, v) => p * v, 1) === c);
    const gemm =
      x!.dtype === 'float32' && x!.shape.length >= 1 && c > 0 && c <= SimdGemm.BN_MAX_CHANNELS
        ? SimdGemm.for(backend)
        : null;
    if (!gemm || mean == null || variance == null || ![mean, variance, offset, scale].every(perChannel)) {
      return original(args);
    }
    const out = makeConst(backend, x!.shape);
    gemm.batchNorm(x!, mean, variance, offset, scale, varianceEpsilon, out);
    return out;
  };
}

/**
 * Identity (tf.clone, and the engine's copies of tensors saved for the gradient: ~30 per CNN
 * step) copies the data on wasm; tensors are immutable, so alias it with a reference count as
 * the cpu backend and wasm's own Reshape do.
 */
function identity(k: BaseKernels): KernelFn {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return k.Identity(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** A new float32 wasm tensor holding `values`, or uninitialised (refCount 1; the caller disposes it). */
function makeConst(backend: Backend, shape: number[], values?: Float32Array): TensorInfo {
  return (
    backend as unknown as {
      makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: Float32Array): TensorInfo;
    }
  ).makeOutput(shape, 'float32', undefined, values);
}

/**
 * Tile via a broadcasting Multiply by ones: x reshaped to [1,s0,1,s1,...] times ones [r0,1,r1,1,...]
 * (size-1 dims dropped, neighbours merged). wasm's Tile is a per-element index loop (~50 ms to
 * tile a [1,1,1,32] batchnorm scale to [32,32,32,32] in the FusedBatchNorm gradient); the
 * broadcast runs in well under 1 ms. Exact (x * 1 == x, including -0, Inf and NaN).
 */
function tile(k: BaseKernels): KernelFn {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: TensorInfo };
    const { reps } = attrs as unknown as tfjs.TileAttrs;
    const outShape = x.shape.map((d, i) => d * reps[i]);
    // Alternating runs of tiled (R) and original (S) dims.
    const dims: Array<{ kind: 'R' | 'S'; size: number }> = [];
    const push = (kind: 'R' | 'S', size: number): void => {
      if (size === 1) return;
      const last = dims[dims.length - 1];
      if (last?.kind === kind) last.size *= size;
      else dims.push({ kind, size });
    };
    x.shape.forEach((d, i) => {
      push('R', reps[i]);
      push('S', d);
    });
    const simple =
      x.dtype === 'float32' &&
      dims.length >= 1 &&
      dims.length <= 4 &&
      outShape.every((d) => d > 0) &&
      dims.some((d) => d.kind === 'R');
    if (!simple) return k.Tile(args);
    return composite(backend, (s) => {
      const xr = s.run(k.Reshape, { x }, { shape: dims.map((d) => (d.kind === 'S' ? d.size : 1)) });
      const ones = s.run(
        k.Fill,
        {},
        { shape: dims.map((d) => (d.kind === 'R' ? d.size : 1)), value: 1, dtype: 'float32' },
      );
      const prod = s.run(k.Multiply, { a: xr, b: ones });
      return s.run(k.Reshape, { x: prod }, { shape: outShape });
    });
  };
}

/**
 * x (any rank >= 2) op v, where v broadcasts along the last axis only (shape [C] or [1,..,1,C]):
 * batchnorm's forward and gradient do this on every activation. wasm's broadcasting binary ops
 * take a generic index path (128x32x32x16 times [16]: 1.7-3 ms vs 0.6 ms same-shape); a 1x1
 * depthwise conv (XNNPACK) over x viewed as [1,1,M,C] does it in 0.4 ms:
 *   Multiply: filter v;  Add: filter 1, bias v;  Sub: filter 1, bias -v (x - v) or filter -1, bias v (v - x).
 * Exact: x*1 == x, and x*v (+0) matches the elementwise product. Other shapes use the original kernels.
 */
function channelBroadcast(k: BaseKernels, op: 'Multiply' | 'Add' | 'Sub'): KernelFn {
  const size = (t: TensorInfo): number => t.shape.reduce((p, v) => p * v, 1);
  const isChannelVector = (v: TensorInfo, c: number): boolean =>
    v.shape.length >= 1 && v.shape[v.shape.length - 1] === c && v.shape.slice(0, -1).every((d) => d === 1);
  return (args) => {
    const { inputs, backend } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const big = a.shape.length >= b.shape.length ? a : b;
    const vec = big === a ? b : a;
    const c = big.shape[big.shape.length - 1];
    const ok =
      a.dtype === 'float32' &&
      b.dtype === 'float32' &&
      big.shape.length >= 2 &&
      c > 1 &&
      size(big) >= 4096 &&
      vec.shape.length <= big.shape.length &&
      isChannelVector(vec, c) &&
      size(vec) === c;
    if (!ok) return k[op](args);
    const m = size(big) / c;
    return composite(backend, (s) => {
      const x4 = s.run(k.Reshape, { x: big }, { shape: [1, 1, m, c] });
      const conv = {
        strides: [1, 1],
        pad: 'valid',
        dilations: [1, 1],
        dataFormat: 'NHWC',
        dimRoundingMode: undefined,
      };
      let out: TensorInfo;
      if (op === 'Multiply') {
        const f = s.run(k.Reshape, { x: vec }, { shape: [1, 1, c, 1] });
        out = s.run(k.DepthwiseConv2dNative, { x: x4, filter: f }, conv as unknown as Attrs);
      } else {
        const negateX = op === 'Sub' && big === b;
        const negateV = op === 'Sub' && big === a;
        const f = s.adopt(makeConst(backend, [1, 1, c, 1], new Float32Array(c).fill(negateX ? -1 : 1)));
        // The bias must be stored as rank 1 (the wasm kernel checks the data's own shape, which a
        // reshape does not change): a sum over the leading size-1 axes makes a rank-1 copy.
        const v1 =
          vec.shape.length === 1
            ? vec
            : s.run(k.Sum, { x: vec }, { axis: vec.shape.slice(0, -1).map((_, i) => i), keepDims: false });
        const bias = negateV ? s.run(k.Neg, { x: v1 }) : v1;
        out = s.run(k.FusedDepthwiseConv2D, { x: x4, filter: f, bias }, {
          ...conv,
          activation: 'linear',
          leakyreluAlpha: 0,
        } as unknown as Attrs);
      }
      return s.run(k.Reshape, { x: out }, { shape: big.shape });
    });
  };
}

function makeBaseKernels(): BaseKernels {
  const names: Array<keyof BaseKernels> = [
    'Conv2D',
    'Transpose',
    'PadV2',
    'Slice',
    'Reshape',
    'Reverse',
    'BatchMatMul',
    'MaxPool',
    'MaxPoolGrad',
    'Neg',
    'Step',
    'Sub',
    'Add',
    'Maximum',
    'Sum',
    'Mean',
    'AvgPool',
    'Identity',
    'Tile',
    'Fill',
    'Multiply',
    'Relu',
    'DepthwiseConv2dNative',
    'FusedDepthwiseConv2D',
  ];
  const k = {} as BaseKernels;
  for (const name of names) k[name] = baseKernel(name);
  return k;
}

function isOurs(name: string): boolean {
  return (tfjs.getKernel(name, BACKEND) as OurConfig | undefined)?.[MARK] === true;
}

/** Replaces (or adds) a wasm kernel; keeps the original's setup/dispose (they init its wasm bindings). */
function install(name: string, kernelFunc: KernelFn): void {
  const original = tfjs.getKernel(name, BACKEND);
  if (original != null) tfjs.unregisterKernel(name, BACKEND);
  const cfg: OurConfig = {
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: kernelFunc as unknown as tfjs.KernelFunc,
    setupFunc: original?.setupFunc,
    disposeFunc: original?.disposeFunc,
    [MARK]: true,
    original,
  };
  tfjs.registerKernel(cfg);
}

/** Kernel names this module registers for 'wasm'. */
export const WASM_TRAINING_KERNELS = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  '_FusedMatMul',
  'MaxPoolGrad',
  'FusedBatchNorm',
  'Tile',
  'Sum',
  'Mean',
  'Identity',
  'Multiply',
  'Add',
  'Sub',
] as const;

/**
 * Registers the training kernels for the 'wasm' backend, and skips the input gradient of
 * convolutions whose input nobody differentiates (lazyConvGradient.ts). Idempotent. Works before
 * or after `tf.setBackend('wasm')`. Loads @tensorflow/tfjs-backend-wasm if it is not loaded yet.
 */
export function registerWasmTrainingKernels(): void {
  installLazyConvGradient();
  if (WASM_TRAINING_KERNELS.every(isOurs)) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-wasm');
  const k = makeBaseKernels();
  const matMul = batchMatMul(k);
  const impl: Record<(typeof WASM_TRAINING_KERNELS)[number], KernelFn> = {
    Conv2D: conv2D(k.Conv2D, false),
    FusedConv2D: conv2D(baseKernel('FusedConv2D'), true),
    Conv2DBackpropFilter: conv2DBackpropFilter(k),
    Conv2DBackpropInput: conv2DBackpropInput(k),
    BatchMatMul: matMul,
    _FusedMatMul: fusedMatMul(baseKernel('_FusedMatMul'), k, matMul),
    FusedBatchNorm: fusedBatchNorm(baseKernel('FusedBatchNorm')),
    MaxPoolGrad: maxPoolGrad(k),
    Tile: tile(k),
    Sum: leadingReduce(k, 'Sum'),
    Mean: leadingReduce(k, 'Mean'),
    Identity: identity(k),
    Multiply: channelBroadcast(k, 'Multiply'),
    Add: channelBroadcast(k, 'Add'),
    Sub: channelBroadcast(k, 'Sub'),
  };
  for (const name of WASM_TRAINING_KERNELS) {
    if (!isOurs(name)) install(name, impl[name]);
  }
}
