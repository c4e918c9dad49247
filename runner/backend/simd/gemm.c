/*
 * Anneal KD: blocked single-precision matrix products for the TF.js wasm backend, in wasm SIMD.
 *
 * Why: tfjs-backend-wasm trains through XNNPACK's *forward* kernels. The filter gradient of a
 * convolution composed from them runs at a third of the forward speed, and transposed matmuls
 * need explicit transposes. These kernels compute both directly, near wasm SIMD's peak.
 *
 * How: GotoBLAS-style blocking. A block of op(A) is packed into 4-row panels and a block of
 * op(B) into 8-column panels, so the 4x8 micro-kernel streams two contiguous panels from L1 and
 * keeps its 8 accumulators in registers (4x8 uses 11 of x64's 16 vector registers; V8 needs the
 * rest). The convolution filter gradient needs no packing: in one filter row, 4 consecutive taps
 * read 4 consecutive floats of an input row, which all move by sw*CI per output pixel, so the
 * same register tile reduces over chunks of pixels reading dy in place and x's rows in place
 * (or zero-padded into the work buffer). Wide layers, whose chunks outgrow L1, pack A panels
 * straight from the input image instead (im2col inside the packing, never materialised). The
 * input gradient is an indirect GEMM: the same register tile reads its 4 rows through pointers
 * into dy, one stride phase of dx at a time, so strided layers skip the zeros of a dilated dy.
 * The forward convolution is the same indirect GEMM over x (with a bias + ReLU epilogue); both
 * run ~1.4x XNNPACK's forward convolution here. At the end, memory-bound kernels whose wasm
 * versions are scalar loops or many small kernels: Adam's update, MaxPoolGrad, FusedBatchNorm,
 * and batchnorm in training mode (moments, normalization, moving averages; its gradient).
 *
 * Memory: this module imports the TF.js wasm instance's own memory and works on its tensors in
 * place. It therefore must not own any memory: no globals, no static data, no stack arrays
 * (build.sh checks the binary has no data segment and never touches the stack pointer). All
 * scratch space is the `work` buffer the caller allocates (WORK_FLOATS floats).
 */
#include <wasm_simd128.h>

#define MR 4
#define NR 8
#define KC 256
#define MC 64
#define NC 256
/* Ap: MC x KC, Bp: KC x NC, one MR x NR edge tile. */
#define WORK_FLOATS (MC * KC + KC * NC + MR * NR)

__attribute__((export_name("work_floats"))) int work_floats(void) { return WORK_FLOATS; }

/*
 * The 4x8 register tile every product here is built on: 8 accumulators (4 rows of 2 vectors).
 * It is the widest tile V8 keeps in x64's 16 vector registers (V8's wasm SIMD uses xmm0-15 only,
 * also on AVX-512 CPUs): TurboFan issues all of an iteration's loads (2 B vectors, one splat per
 * row) before its arithmetic, so accumulators + loads must fit in 15; 4x8 needs 14. Measured with
 * fused multiply-adds (no temporary): 5x8 (17) and 6x8 (20) spill accumulators in the inner loop
 * and run the convolutions at half speed. Always inlined, so the struct lives in registers
 * (build.sh checks no stack frame is ever made).
 */
typedef struct { v128_t r0a, r0b, r1a, r1b, r2a, r2b, r3a, r3b; } tile4x8;

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/*
 * acc + a * b in the products' inner loops: one fused multiply-add (f32x4.relaxed_madd; V8 emits
 * vfmadd231ps where the CPU has FMA3) in the relaxed-SIMD build (build.sh: -DAKD_RELAXED_SIMD
 * -mrelaxed-simd), a multiply and an add in the plain one. Only here: every other kernel keeps
 * separately rounded operations (Adam matches TF.js bit for bit), and -ffp-contract=off stops
 * the compiler from fusing anything itself.
 */
#ifdef AKD_RELAXED_SIMD
#define MADD(acc, a, b) wasm_f32x4_relaxed_madd(a, b, acc)
#else
#define MADD(acc, a, b) wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#endif

ALWAYS_INLINE tile4x8 tile_zero(void) {
  const v128_t z = wasm_f32x4_splat(0.0f);
  return (tile4x8){z, z, z, z, z, z, z, z};
}

ALWAYS_INLINE tile4x8 tile_load(const float *c, int ldc) {
  return (tile4x8){wasm_v128_load(c), wasm_v128_load(c + 4), wasm_v128_load(c + ldc), wasm_v128_load(c + ldc + 4),
                   wasm_v128_load(c + 2 * ldc), wasm_v128_load(c + 2 * ldc + 4), wasm_v128_load(c + 3 * ldc),
                   wasm_v128_load(c + 3 * ldc + 4)};
}

/*
 * t += sum over k < len of (p0[k*as], p1[k*as], p2[k*as], p3[k*as]) (x) b[k*NR .. k*NR+7]: rows
 * from a packed panel (p_r = a + r, as = MR) or from 4 pointers into an image (as = 1).
 */
ALWAYS_INLINE tile4x8 tile_fma(tile4x8 t, const float *p0, const float *p1, const float *p2, const float *p3, int as,
                               const float *b, int len) {
  for (int k = 0; k < len; k++) {
    const v128_t b0 = wasm_v128_load(b);
    const v128_t b1 = wasm_v128_load(b + 4);
    v128_t av = wasm_v128_load32_splat(p0);
    t.r0a = MADD(t.r0a, av, b0);
    t.r0b = MADD(t.r0b, av, b1);
    av = wasm_v128_load32_splat(p1);
    t.r1a = MADD(t.r1a, av, b0);
    t.r1b = MADD(t.r1b, av, b1);
    av = wasm_v128_load32_splat(p2);
    t.r2a = MADD(t.r2a, av, b0);
    t.r2b = MADD(t.r2b, av, b1);
    av = wasm_v128_load32_splat(p3);
    t.r3a = MADD(t.r3a, av, b0);
    t.r3b = MADD(t.r3b, av, b1);
    p0 += as; p1 += as; p2 += as; p3 += as;
    b += NR;
  }
  return t;
}

/*
 * Writes rows < h and columns < w of t to c (row stride ldc): whole when 4x8, else through the
 * MR x NR `tile` scratch, so nothing outside the h x w block is touched.
 */
ALWAYS_INLINE void tile_store(tile4x8 t, float *c, int ldc, int h, int w, float *tile) {
  const int full = h == MR && w == NR;
  float *d = full ? c : tile;
  const int ld = full ? ldc : NR;
  wasm_v128_store(d, t.r0a); wasm_v128_store(d + 4, t.r0b);
  wasm_v128_store(d + ld, t.r1a); wasm_v128_store(d + ld + 4, t.r1b);
  wasm_v128_store(d + 2 * ld, t.r2a); wasm_v128_store(d + 2 * ld + 4, t.r2b);
  wasm_v128_store(d + 3 * ld, t.r3a); wasm_v128_store(d + 3 * ld + 4, t.r3b);
  if (!full) {
    for (int i = 0; i < h; i++) for (int q = 0; q < w; q++) c[i * ldc + q] = tile[i * NR + q];
  }
}

/*
 * C[0..3][0..7] (row stride ldc) = (add ? C : 0) + sum_k a[k][0..3] (x) b[k][0..7].
 * a: kc x 4 packed, b: kc x 8 packed.
 */
ALWAYS_INLINE void micro_4x8(int kc, const float *a, const float *b, float *c, int ldc, int add) {
  tile4x8 t = add ? tile_load(c, ldc) : tile_zero();
  t = tile_fma(t, a, a + 1, a + 2, a + 3, MR, b, kc);
  tile_store(t, c, ldc, MR, NR, 0);
}

/* Packs B(k, n) = b[k*bks + n*bns] for k < kc, n < nc into NR-column panels, zero-padded. */
static void pack_b(int kc, int nc, const float *b, int bks, int bns, float *bp) {
  for (int j = 0; j < nc; j += NR) {
    const int w = nc - j < NR ? nc - j : NR;
    const float *src = b + j * bns;
    if (w == NR && bns == 1) {
      for (int k = 0; k < kc; k++) {
        wasm_v128_store(bp, wasm_v128_load(src));
        wasm_v128_store(bp + 4, wasm_v128_load(src + 4));
        src += bks;
        bp += NR;
      }
    } else if (w == NR && bks == 1) {
      /* Transposed B (a dense layer's dx = dy . W^T): 8 columns are 8 rows along k; read 4 k of
         each and transpose two 4x4 blocks in registers (element by element, the CNN's dy . W^T
         took 4.5 ms instead of 3.9). */
      int k = 0;
      for (; k + 4 <= kc; k += 4) {
        for (int half = 0; half < 2; half++) {
          const float *r = src + k + 4 * half * bns;
          const v128_t x0 = wasm_v128_load(r), x1 = wasm_v128_load(r + bns);
          const v128_t x2 = wasm_v128_load(r + 2 * bns), x3 = wasm_v128_load(r + 3 * bns);
          const v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
          const v128_t t1 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
          const v128_t t2 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
          const v128_t t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
          float *d = bp + 4 * half;
          wasm_v128_store(d, wasm_i64x2_shuffle(t0, t1, 0, 2));
          wasm_v128_store(d + NR, wasm_i64x2_shuffle(t0, t1, 1, 3));
          wasm_v128_store(d + 2 * NR, wasm_i64x2_shuffle(t2, t3, 0, 2));
          wasm_v128_store(d + 3 * NR, wasm_i64x2_shuffle(t2, t3, 1, 3));
        }
        bp += 4 * NR;
      }
      for (; k < kc; k++) {
        for (int c = 0; c < NR; c++) bp[c] = src[k + c * bns];
        bp += NR;
      }
    } else {
      for (int k = 0; k < kc; k++) {
        int c = 0;
        for (; c < w; c++) bp[c] = src[c * bns];
        for (; c < NR; c++) bp[c] = 0.0f;
        src += bks;
        bp += NR;
      }
    }
  }
}

/* Packs A(m, k) = a[m*ams + k*aks] for m < mc, k < kc into MR-row panels, zero-padded. */
static void pack_a(int mc, int kc, const float *a, int ams, int aks, float *ap) {
  for (int i = 0; i < mc; i += MR) {
    const int h = mc - i < MR ? mc - i : MR;
    const float *src = a + i * ams;
    if (h == MR && ams == 1) {
      for (int k = 0; k < kc; k++) {
        wasm_v128_store(ap, wasm_v128_load(src));
        src += aks;
        ap += MR;
      }
    } else if (h == MR && aks == 1) {
      /* Row-major A: read 4 rows along k, 4 k at a time, and transpose 4x4 in registers. */
      const float *r0 = src, *r1 = src + ams, *r2 = src + 2 * ams, *r3 = src + 3 * ams;
      int k = 0;
      for (; k + 4 <= kc; k += 4) {
        const v128_t x0 = wasm_v128_load(r0 + k), x1 = wasm_v128_load(r1 + k);
        const v128_t x2 = wasm_v128_load(r2 + k), x3 = wasm_v128_load(r3 + k);
        const v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
        const v128_t t1 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
        const v128_t t2 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
        const v128_t t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
        wasm_v128_store(ap, wasm_i64x2_shuffle(t0, t1, 0, 2));
        wasm_v128_store(ap + 4, wasm_i64x2_shuffle(t0, t1, 1, 3));
        wasm_v128_store(ap + 8, wasm_i64x2_shuffle(t2, t3, 0, 2));
        wasm_v128_store(ap + 12, wasm_i64x2_shuffle(t2, t3, 1, 3));
        ap += 4 * MR;
      }
      for (; k < kc; k++) {
        ap[0] = r0[k]; ap[1] = r1[k]; ap[2] = r2[k]; ap[3] = r3[k];
        ap += MR;
      }
    } else {
      for (int k = 0; k < kc; k++) {
        int r = 0;
        for (; r < h; r++) ap[r] = src[r * ams];
        for (; r < MR; r++) ap[r] = 0.0f;
        src += aks;
        ap += MR;
      }
    }
  }
}

/*
 * The packed-panel product C[mc x nc] (+)= Ap . Bp; edge tiles go through `tile` (MR x NR
 * floats of the work buffer) and only their valid part is written.
 */
static void macro(int mc, int nc, int kc, const float *ap, const float *bp, float *c, int ldc, int add,
                  float *tile) {
  for (int j = 0; j < nc; j += NR) {
    const int w = nc - j < NR ? nc - j : NR;
    for (int i = 0; i < mc; i += MR) {
      const int h = mc - i < MR ? mc - i : MR;
      const float *a = ap + i * kc;
      const float *b = bp + j * kc;
      float *cij = c + i * ldc + j;
      if (h == MR && w == NR) {
        micro_4x8(kc, a, b, cij, ldc, add);
      } else {
        micro_4x8(kc, a, b, tile, NR, 0);
        for (int r = 0; r < h; r++) {
          for (int q = 0; q < w; q++) cij[r * ldc + q] = (add ? cij[r * ldc + q] : 0.0f) + tile[r * NR + q];
        }
      }
    }
  }
}

/*
 * C[M x N] (row stride ldc) = (accumulate ? C : 0) + op(A) . op(B), with
 * op(A)(m, k) = a[m*ams + k*aks] and op(B)(k, n) = b[k*bks + n*bns]: any transposition of
 * either operand is just a choice of strides.
 */
__attribute__((export_name("sgemm")))
void sgemm(int M, int N, int K, const float *a, int ams, int aks, const float *b, int bks, int bns,
           float *c, int ldc, int accumulate, float *work) {
  float *ap = work, *bp = work + MC * KC, *tile = work + MC * KC + KC * NC;
  if (K == 0) {
    if (!accumulate) for (int m = 0; m < M; m++) for (int n = 0; n < N; n++) c[m * ldc + n] = 0.0f;
    return;
  }
  for (int nb = 0; nb < N; nb += NC) {
    const int nc = N - nb < NC ? N - nb : NC;
    for (int kb = 0; kb < K; kb += KC) {
      const int kc = K - kb < KC ? K - kb : KC;
      pack_b(kc, nc, b + kb * bks + nb * bns, bks, bns, bp);
      for (int mb = 0; mb < M; mb += MC) {
        const int mc = M - mb < MC ? M - mb : MC;
        pack_a(mc, kc, a + mb * ams + kb * aks, ams, aks, ap);
        macro(mc, nc, kc, ap, bp, c + mb * ldc + nb, ldc, accumulate || kb > 0, tile);
      }
    }
  }
}

/*
 * im2col inside the packing: A(m, k) = x[n, oh*sh + kh - pt, ow*sw + kw - pl, ci] (0 outside the
 * image), m = (kh*KW + kw)*CI + ci, k = (n*OH + oh)*OW + ow, for m in [m0, m0+mc), k in
 * [k0, k0+kc), packed into MR-row panels like pack_a.
 */
static void pack_patches(int mc, int kc, int m0, int k0, const float *x, int H, int W, int CI, int OH, int OW,
                         int KW, int sh, int sw, int pt, int pl, float *ap) {
  const int panels = (mc + MR - 1) / MR;
  /* Zero the pad rows of the last panel once; the loop below never writes them. */
  if (mc % MR) {
    float *last = ap + (panels - 1) * kc * MR;
    for (int k = 0; k < kc; k++) for (int r = mc % MR; r < MR; r++) last[k * MR + r] = 0.0f;
  }
  int n = k0 / (OH * OW), oh = (k0 / OW) % OH, ow = k0 % OW;
  const int vec = CI % MR == 0 && m0 % MR == 0;
  for (int k = 0; k < kc; k++) {
    const int ih0 = oh * sh - pt, iw0 = ow * sw - pl;
    const float *img = x + (long)n * H * W * CI;
    int ci = m0 % CI, kw = (m0 / CI) % KW, kh = m0 / (CI * KW);
    float *dst = ap + k * MR;
    for (int m = 0; m < mc;) {
      const int ih = ih0 + kh, iw = iw0 + kw;
      const int inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
      const float *src = img + (ih * W + iw) * CI;
      if (vec) {
        /* 4 consecutive channels of one tap: one vector into one panel row. */
        for (; ci < CI && m < mc; ci += MR, m += MR) {
          float *d = dst + (m / MR) * kc * MR;
          wasm_v128_store(d, inside ? wasm_v128_load(src + ci) : wasm_f32x4_splat(0.0f));
        }
      } else {
        for (; ci < CI && m < mc; ci++, m++) dst[(m / MR) * kc * MR + m % MR] = inside ? src[ci] : 0.0f;
      }
      ci = 0;
      if (++kw == KW) { kw = 0; kh++; }
    }
    if (++ow == OW) { ow = 0; if (++oh == OH) { oh = 0; n++; } }
  }
}

/*
 * Conv2DBackpropFilter, NHWC: dw[kh, kw, ci, co] = sum_{n, oh, ow} x[n, oh*sh+kh-pt, ow*sw+kw-pl, ci]
 * * dy[n, oh, ow, co]; as a matrix product dw[M = KH*KW*CI][CO] = patches^T . dy[N*OH*OW][CO].
 * Run for wide layers only: conv2d_filter_grad_direct below is faster wherever its chunks fit L1.
 */
__attribute__((export_name("conv2d_filter_grad")))
void conv2d_filter_grad(const float *x, const float *dy, float *dw, int N, int H, int W, int CI, int OH, int OW,
                        int CO, int KH, int KW, int sh, int sw, int pt, int pl, float *work) {
  float *ap = work, *bp = work + MC * KC, *tile = work + MC * KC + KC * NC;
  const int M = KH * KW * CI, K = N * OH * OW;
  if (K == 0) {
    for (int i = 0; i < M * CO; i++) dw[i] = 0.0f;
    return;
  }
  for (int nb = 0; nb < CO; nb += NC) {
    const int nc = CO - nb < NC ? CO - nb : NC;
    for (int kb = 0; kb < K; kb += KC) {
      const int kc = K - kb < KC ? K - kb : KC;
      pack_b(kc, nc, dy + (long)kb * CO + nb, CO, 1, bp);
      for (int mb = 0; mb < M; mb += MC) {
        const int mc = M - mb < MC ? M - mb : MC;
        pack_patches(mc, kc, mb, kb, x, H, W, CI, OH, OW, KW, sh, sw, pt, pl, ap);
        macro(mc, nc, kc, ap, bp, dw + mb * CO + nb, CO, kb > 0, tile);
      }
    }
  }
}

/*
 * Conv2DBackpropFilter without im2col (conv2d_filter_grad_direct below). For a filter row kh
 * and an output row (n, oh), the taps m = (kh*KW + kw)*CI + ci of one filter row read the
 * input row ih = oh*sh + kh - pt at float (ow*sw - pl)*CI + m % (KW*CI): consecutive m are
 * consecutive floats, and each ow moves all of them by sw*CI. So dw (rows m, columns co, its own
 * layout) is a product whose A operand is read in place from x's rows (4 taps splatted) and
 * whose B operand is dy (8 channels of a pixel, one vector load each half): micro_4x8's register
 * tile, reduced over the pixels of a chunk and accumulated into dw itself.
 */
#define FG_CHUNK 8192 /* floats of x rows + dy rows a chunk aims at: a 32 KB L1 (Zen 3/4; 48 KB was 2-7% slower there) */
#define FG_PIXELS 32   /* least pixels a chunk reduces over, so a large dw is not reloaded too often */

/* The first n (clamped to 0..4) floats at p, zero-extended; reads only those floats. */
static inline __attribute__((always_inline)) v128_t fg_load(const float *p, int n) {
  if (n >= 4) return wasm_v128_load(p);
  if (n <= 0) return wasm_f32x4_splat(0.0f);
  v128_t v = n == 1 ? wasm_v128_load32_zero(p) : wasm_v128_load64_zero(p);
  if (n == 3) v = wasm_v128_load32_lane(p + 2, v, 2);
  return v;
}

/* Stores the first n (clamped to 0..4) lanes of v at p. */
static inline __attribute__((always_inline)) void fg_store(float *p, v128_t v, int n) {
  if (n >= 4) { wasm_v128_store(p, v); return; }
  if (n <= 0) return;
  if (n == 1) { wasm_v128_store32_lane(p, v, 0); return; }
  wasm_v128_store64_lane(p, v, 0);
  /* Lane 2 moved to lane 0 first: clang 19 merged "lane 0 or lane 2" into a store through a
     stack slot, which this module may not have (build.sh). */
  if (n == 3) wasm_v128_store32_lane(p + 2, wasm_i64x2_shuffle(v, v, 1, 1), 0);
}

/*
 * dw rows m0..m0+h-1 (h <= 4; c = &dw[m0][co0], row stride CO) by channels co0..co0+w-1 (w <= 8)
 * += the sum over the chunk's pixels (image j < nb, row i < rows, ow < OW) of
 * x_r[j*xis + i*xrs + ow*xs] * dy[pixel][co0 + .]; d = the chunk's first dy pixel + co0 (its
 * pixels are contiguous, CO floats apart). x_r = p0..p3; rows >= h repeat p0 (read, never
 * stored). contig: p_r = p0 + r. full: w == 8, w4: w == 4 (whole-vector dy loads).
 */
static inline __attribute__((always_inline)) void fg_tile(const int contig, const int full, const int w4,
                                                          const float *p0, const float *p1, const float *p2,
                                                          const float *p3, int xs, int xrs, int xis,
                                                          const float *d, int nb, int rows, int OW, int CO,
                                                          float *c, int h, int w) {
  const int n0 = full ? 4 : w4 ? 4 : w, n1 = full ? 4 : w4 ? 0 : w - 4;
  const int two = full || (!w4 && w > 4);
  const v128_t z = wasm_f32x4_splat(0.0f);
  v128_t c00 = fg_load(c, n0), c01 = two ? fg_load(c + 4, n1) : z;
  v128_t c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  if (h > 1) { c10 = fg_load(c + CO, n0); if (two) c11 = fg_load(c + CO + 4, n1); }
  if (h > 2) { c20 = fg_load(c + 2 * CO, n0); if (two) c21 = fg_load(c + 2 * CO + 4, n1); }
  if (h > 3) { c30 = fg_load(c + 3 * CO, n0); if (two) c31 = fg_load(c + 3 * CO + 4, n1); }
  for (int j = 0; j < nb; j++) {
    for (int i = 0; i < rows; i++) {
      const int o = j * xis + i * xrs;
      const float *q0 = p0 + o, *q1 = p1 + o, *q2 = p2 + o, *q3 = p3 + o;
      for (int ow = 0; ow < OW; ow++) {
        const v128_t b0 = fg_load(d, n0);
        const v128_t b1 = two ? fg_load(d + 4, n1) : z;
        v128_t av = wasm_v128_load32_splat(q0);
        c00 = MADD(c00, av, b0);
        if (two) c01 = MADD(c01, av, b1);
        av = wasm_v128_load32_splat(contig ? q0 + 1 : q1);
        c10 = MADD(c10, av, b0);
        if (two) c11 = MADD(c11, av, b1);
        av = wasm_v128_load32_splat(contig ? q0 + 2 : q2);
        c20 = MADD(c20, av, b0);
        if (two) c21 = MADD(c21, av, b1);
        av = wasm_v128_load32_splat(contig ? q0 + 3 : q3);
        c30 = MADD(c30, av, b0);
        if (two) c31 = MADD(c31, av, b1);
        q0 += xs;
        if (!contig) { q1 += xs; q2 += xs; q3 += xs; }
        d += CO;
      }
    }
  }
  fg_store(c, c00, n0); if (two) fg_store(c + 4, c01, n1);
  if (h > 1) { fg_store(c + CO, c10, n0); if (two) fg_store(c + CO + 4, c11, n1); }
  if (h > 2) { fg_store(c + 2 * CO, c20, n0); if (two) fg_store(c + 2 * CO + 4, c21, n1); }
  if (h > 3) { fg_store(c + 3 * CO, c30, n0); if (two) fg_store(c + 3 * CO + 4, c31, n1); }
}

/*
 * Conv2DBackpropFilter, NHWC (conv2d_filter_grad's dw) as the direct product above, over chunks
 * of output rows: R rows of one image, or nb whole images, so that the chunk's x and dy rows stay
 * in L1 (FG_CHUNK) while every 4x8 tile of dw passes over them, but at least FG_PIXELS pixels (dw
 * is reloaded once per chunk). Convolutions without padding whose taps all fall inside x read x
 * in place; otherwise each chunk's input rows are first copied into the work buffer, zero-padded
 * to the (OW-1)*sw + KW columns and the rows the taps read, so the tiles never test a border.
 * Returns 0, having written nothing, when the KH input rows of one output row do not fit the
 * work buffer.
 */
__attribute__((export_name("conv2d_filter_grad_direct")))
int conv2d_filter_grad_direct(const float *x, const float *dy, float *dw, int N, int H, int W, int CI, int OH,
                              int OW, int CO, int KH, int KW, int sh, int sw, int pt, int pl, float *work) {
  const int M = KH * KW * CI, KWC = KW * CI, Wp = (OW - 1) * sw + KW;
  const int inplace = pt == 0 && pl == 0 && (OH - 1) * sh + KH <= H && Wp <= W;
  const int prow = inplace ? W * CI : Wp * CI; /* floats from one input row to the next */
  const int imgrows = (OH - 1) * sh + KH;      /* padded input rows of one image's output rows */
  const int xs = sw * CI, xrs = sh * prow, xis = inplace ? H * W * CI : imgrows * prow;
  if (N <= 0 || OH <= 0 || OW <= 0 || M * CO <= 0) {
    for (int i = 0; i < M * CO; i++) dw[i] = 0.0f;
    return 1;
  }
  if (!inplace && KH * prow > WORK_FLOATS) return 0;
  /* Chunk: R output rows (of one image), or nb whole images when R reaches OH. */
  int R = (FG_CHUNK - (KH - sh) * prow) / (sh * prow + OW * CO);
  if (R * OW < FG_PIXELS) R = (FG_PIXELS + OW - 1) / OW;
  int nb = 1;
  if (R >= OH) {
    nb = R / OH;
    R = OH;
    if (nb > N) nb = N;
  }
  if (!inplace) {
    /* The padded copy must fit the work buffer (KH*prow does: R = 1 does). */
    if (nb * xis > WORK_FLOATS) nb = WORK_FLOATS / xis;
    if (nb < 1) nb = 1;
    if (nb == 1 && ((R - 1) * sh + KH) * prow > WORK_FLOATS) R = (WORK_FLOATS / prow - KH) / sh + 1;
  }
  for (int i = 0; i < M * CO; i++) dw[i] = 0.0f;
  for (int n0 = 0; n0 < N; n0 += nb) {
    const int nn = N - n0 < nb ? N - n0 : nb;
    for (int oh0 = 0; oh0 < OH; oh0 += R) {
      const int rows = OH - oh0 < R ? OH - oh0 : R;
      const float *xb;
      if (inplace) {
        xb = x + ((n0 * H + oh0 * sh) * W) * CI;
      } else {
        /* Image j's padded row k (at work + j*xis + k*prow) = input row oh0*sh + k - pt, from
           column -pl. */
        const int left = pl < Wp ? pl : Wp;
        for (int j = 0; j < nn; j++) {
          for (int k = 0; k < (rows - 1) * sh + KH; k++) {
            const int ih = oh0 * sh + k - pt;
            float *dst = work + j * xis + k * prow;
            const int cols = ih < 0 || ih >= H ? 0 : Wp - left < W ? Wp - left : W;
            int i = 0;
            for (; i < left * CI; i++) dst[i] = 0.0f;
            if (cols > 0) {
              const float *src = x + (((n0 + j) * H + ih) * W) * CI - left * CI;
              const int end = (left + cols) * CI;
              for (; i + 4 <= end; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
              for (; i < end; i++) dst[i] = src[i];
            }
            for (; i < prow; i++) dst[i] = 0.0f;
          }
        }
        xb = work;
      }
      const float *dyp = dy + (n0 * OH + oh0) * OW * CO;
      for (int m0 = 0; m0 < M; m0 += MR) {
        const int h = M - m0 < MR ? M - m0 : MR;
        /* Tap m reads padded row m / KWC from float m % KWC; rows past M repeat m0. */
        const int m1 = h > 1 ? m0 + 1 : m0, m2 = h > 2 ? m0 + 2 : m0, m3 = h > 3 ? m0 + 3 : m0;
        const float *p0 = xb + (m0 / KWC) * prow + m0 % KWC;
        const float *p1 = xb + (m1 / KWC) * prow + m1 % KWC;
        const float *p2 = xb + (m2 / KWC) * prow + m2 % KWC;
        const float *p3 = xb + (m3 / KWC) * prow + m3 % KWC;
        const int contig = h == MR && m0 % KWC + MR <= KWC;
        for (int co0 = 0; co0 < CO; co0 += NR) {
          const int w = CO - co0 < NR ? CO - co0 : NR;
          float *c = dw + m0 * CO + co0;
          const float *d = dyp + co0;
          if (contig && w == NR) fg_tile(1, 1, 0, p0, p0, p0, p0, xs, xrs, xis, d, nn, rows, OW, CO, c, MR, NR);
          else if (contig && w == 4) fg_tile(1, 0, 1, p0, p0, p0, p0, xs, xrs, xis, d, nn, rows, OW, CO, c, MR, 4);
          else if (contig) fg_tile(1, 0, 0, p0, p0, p0, p0, xs, xrs, xis, d, nn, rows, OW, CO, c, MR, w);
          else if (w == NR) fg_tile(0, 1, 0, p0, p1, p2, p3, xs, xrs, xis, d, nn, rows, OW, CO, c, h, NR);
          else fg_tile(0, 0, 0, p0, p1, p2, p3, xs, xrs, xis, d, nn, rows, OW, CO, c, h, w);
        }
      }
    }
  }
  return 1;
}

/*
 * The epilogue of a dense layer, in place on c[M x N]: c += bias (one value per column; bias 0 =
 * none), then max(c, 0) if relu. (_FusedMatMul = sgemm + this.)
 */
__attribute__((export_name("bias_act")))
void bias_act(float *c, int M, int N, const float *bias, int relu) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int m = 0; m < M; m++) {
    float *row = c + m * N;
    int n = 0;
    for (; n + 4 <= N; n += 4) {
      v128_t v = wasm_v128_load(row + n);
      if (bias) v = wasm_f32x4_add(v, wasm_v128_load(bias + n));
      if (relu) v = wasm_f32x4_pmax(zero, v);
      wasm_v128_store(row + n, v);
    }
    for (; n < N; n++) {
      float v = row[n] + (bias ? bias[n] : 0.0f);
      row[n] = relu && !(v > 0.0f) ? 0.0f : v;
    }
  }
}

/*
 * One dx tile of conv2d_input_grad: 4 pixels (n, ih, iw + j*sw), j < 4, by the 8 channels of
 * one ci panel (bp = that panel). The 4 pixels share their phase r = (iw + pl) % sw, so the same
 * taps kw = r + t*sw reach them, and tap t sends pixel j the dy pixel ow0 - t + j: the taps of
 * one filter row read consecutive dy pixels. The panel stores each phase's taps in reverse t
 * order, so away from the borders one filter row is a single product over T*CO contiguous dy
 * floats; at the borders each tap is its own product, with the zeroed area standing in for dy
 * pixels outside the image (and for pixels j >= npix). The register tile is micro_4x8's, with
 * 4 row pointers into dy instead of a packed A panel (an "indirect GEMM").
 */
ALWAYS_INLINE void input_grad_tile(const float *dyimg, const float *bp, float *c, int ldc, int npix, int nci,
                                   int ih, int iw, int OH, int OW, int CO, int KH, int KW, int sh, int sw,
                                   int pt, int pl, const float *zero, float *tile) {
  tile4x8 acc = tile_zero();
  const int r = (iw + pl) % sw, ow0 = (iw + pl - r) / sw;
  const int T = r < KW ? (KW - r + sw - 1) / sw : 0;
  int first = 0; /* taps of the phases before r in one filter row */
  for (int q = 0; q < r && q < KW; q++) first += (KW - q + sw - 1) / sw;
  const int interior = npix == MR && ow0 - T + 1 >= 0 && ow0 + MR - 1 < OW;
  /* ih + pt - kh is a multiple of sh for these kh, so the division is exact (also when < 0). */
  for (int kh = (ih + pt) % sh; kh < KH; kh += sh) {
    const int oh = (ih + pt - kh) / sh;
    if (oh < 0) break; /* the next taps read rows further up */
    if (oh >= OH) continue;
    const float *row = dyimg + oh * OW * CO;
    const float *brow = bp + (kh * KW + first) * CO * NR;
    for (int t = interior ? 0 : T - 1; t >= 0; t--) {
      /* Interior: all T taps at once from dy pixel ow0 - T + 1; else tap t (stored at T-1-t). */
      const int ow = interior ? ow0 - T + 1 : ow0 - t;
      const int len = interior ? T * CO : CO;
      if (ow + npix <= 0 || ow >= OW) continue;
      const float *p0 = ow >= 0 ? row + ow * CO : zero;
      const float *p1 = npix > 1 && ow + 1 >= 0 && ow + 1 < OW ? row + (ow + 1) * CO : zero;
      const float *p2 = npix > 2 && ow + 2 >= 0 && ow + 2 < OW ? row + (ow + 2) * CO : zero;
      const float *p3 = npix > 3 && ow + 3 >= 0 && ow + 3 < OW ? row + (ow + 3) * CO : zero;
      const float *b = brow + (interior ? 0 : T - 1 - t) * CO * NR;
      acc = tile_fma(acc, p0, p1, p2, p3, 1, b, len);
    }
  }
  tile_store(acc, c, ldc, npix, nci, tile);
}

/*
 * Conv2DBackpropInput, NHWC: dx[n, ih, iw, ci] = sum over taps (kh, kw) and co of
 * dy[n, oh, ow, co] * w[kh, kw, ci, co], where ih = oh*sh + kh - pt and iw = ow*sw + kw - pl.
 * Each dx pixel only takes the taps of its phase (ih + pt) % sh, (iw + pl) % sw (sub-pixel
 * split), so a stride-s gradient does no work on the zeros a dilated-dy convolution would
 * multiply (s^2 the FLOPs). The filter is packed once into 8-channel ci panels [kh][tap][co][8]
 * of the work buffer (as many panels as fit per pass; taps in input_grad_tile's order); every
 * dx element is written exactly once.
 * Returns 0, having written nothing, when one panel does not fit the work buffer.
 */
__attribute__((export_name("conv2d_input_grad")))
int conv2d_input_grad(const float *dy, const float *w, float *dx, int N, int H, int W, int CI, int OH, int OW,
                      int CO, int KH, int KW, int sh, int sw, int pt, int pl, float *work) {
  const int taps = KH * KW, panel = taps * CO * NR, panels = (CI + NR - 1) / NR;
  /* work: CO zeros (the source of taps outside dy), one edge tile, then the filter panels. */
  float *zero = work, *tile = work + ((CO + 3) & ~3), *bp = tile + MR * NR;
  const int group = (WORK_FLOATS - (int)(bp - work)) / panel;
  if (group < 1) return 0;
  for (int co = 0; co < CO; co++) zero[co] = 0.0f;
  const int ldc = sw * CI;
  for (int g0 = 0; g0 < panels; g0 += group) {
    const int gn = panels - g0 < group ? panels - g0 : group;
    /* bp[g][kh][i][co][c] = w[kh][kw(i)][(g0 + g)*8 + c][co], zero past CI. */
    float *d = bp;
    for (int g = 0; g < gn; g++) {
      const int ci0 = (g0 + g) * NR, nci = CI - ci0 < NR ? CI - ci0 : NR;
      for (int tap = 0; tap < taps; tap++) {
        /* Position i of a filter row holds kw = r + t*sw: phases r in order, t descending. */
        const int kh = tap / KW;
        int kw = 0;
        for (int r = 0, i = tap % KW; r < sw && r < KW; r++) {
          const int T = (KW - r + sw - 1) / sw;
          if (i < T) { kw = r + (T - 1 - i) * sw; break; }
          i -= T;
        }
        const float *src = w + ((kh * KW + kw) * CI + ci0) * CO;
        for (int co = 0; co < CO; co++) {
          int c = 0;
          for (; c < nci; c++) d[c] = src[c * CO + co];
          for (; c < NR; c++) d[c] = 0.0f;
          d += NR;
        }
      }
    }
    /* One dx row at a time: the few dy rows it reads stay in cache across the ci panels. */
    for (int n = 0; n < N; n++) {
      const float *dyimg = dy + n * OH * OW * CO;
      for (int ih = 0; ih < H; ih++) {
        float *dxrow = dx + (n * H + ih) * W * CI;
        for (int g = 0; g < gn; g++) {
          const int ci0 = (g0 + g) * NR, nci = CI - ci0 < NR ? CI - ci0 : NR;
          const float *pb = bp + g * panel;
          for (int p = 0; p < sw && p < W; p++) {
            const int count = (W - p + sw - 1) / sw;
            for (int t = 0; t < count; t += MR) {
              const int iw = p + t * sw, npix = count - t < MR ? count - t : MR;
              input_grad_tile(dyimg, pb, dxrow + iw * CI + ci0, ldc, npix, nci, ih, iw, OH, OW, CO, KH, KW, sh,
                              sw, pt, pl, zero, tile);
            }
          }
        }
      }
    }
  }
  return 1;
}

/*
 * One output tile of conv2d: 4 pixels (n, oh, ow + j), j < 4, by the 8 channels of one co panel
 * (bp = that panel, [kh][kw][ci][8], i.e. the filter's own order). For filter row kh, pixel j
 * reads the KW*CI floats of x starting at pixel (ow + j)*sw - pl, contiguous in (kw, ci): away
 * from the borders one filter row is a single product of that length; at the borders each tap is
 * its own product over CI, with the zeroed area standing in for pixels outside x (and for
 * pixels j >= npix). Then the epilogue: + bias (8 values, or none), max(., 0) if relu.
 */
ALWAYS_INLINE void conv_tile(const float *ximg, const float *bp, const float *bias, int relu, float *c, int ldc,
                             int npix, int nco, int oh, int ow, int H, int W, int CI, int KH, int KW, int sh,
                             int sw, int pt, int pl, const float *zero, float *tile) {
  tile4x8 acc = tile_zero();
  const int iw0 = ow * sw - pl;
  const int interior = npix == MR && iw0 >= 0 && iw0 + (MR - 1) * sw + KW <= W;
  for (int kh = 0; kh < KH; kh++) {
    const int ih = oh * sh + kh - pt;
    if (ih < 0) continue;
    if (ih >= H) break;
    const float *row = ximg + ih * W * CI;
    for (int t = 0; t < (interior ? 1 : KW); t++) {
      const int iw = iw0 + t, len = interior ? KW * CI : CI;
      if (iw + (npix - 1) * sw < 0 || iw >= W) continue;
      const float *p0 = iw >= 0 ? row + iw * CI : zero;
      const float *p1 = npix > 1 && iw + sw >= 0 && iw + sw < W ? row + (iw + sw) * CI : zero;
      const float *p2 = npix > 2 && iw + 2 * sw >= 0 && iw + 2 * sw < W ? row + (iw + 2 * sw) * CI : zero;
      const float *p3 = npix > 3 && iw + 3 * sw >= 0 && iw + 3 * sw < W ? row + (iw + 3 * sw) * CI : zero;
      const float *b = bp + (kh * KW + t) * CI * NR;
      acc = tile_fma(acc, p0, p1, p2, p3, 1, b, len);
    }
  }
  if (bias) {
    const v128_t b0 = wasm_v128_load(bias), b1 = wasm_v128_load(bias + 4);
    acc.r0a = wasm_f32x4_add(acc.r0a, b0); acc.r0b = wasm_f32x4_add(acc.r0b, b1);
    acc.r1a = wasm_f32x4_add(acc.r1a, b0); acc.r1b = wasm_f32x4_add(acc.r1b, b1);
    acc.r2a = wasm_f32x4_add(acc.r2a, b0); acc.r2b = wasm_f32x4_add(acc.r2b, b1);
    acc.r3a = wasm_f32x4_add(acc.r3a, b0); acc.r3b = wasm_f32x4_add(acc.r3b, b1);
  }
  if (relu) {
    const v128_t z = wasm_f32x4_splat(0.0f);
    acc.r0a = wasm_f32x4_pmax(z, acc.r0a); acc.r0b = wasm_f32x4_pmax(z, acc.r0b);
    acc.r1a = wasm_f32x4_pmax(z, acc.r1a); acc.r1b = wasm_f32x4_pmax(z, acc.r1b);
    acc.r2a = wasm_f32x4_pmax(z, acc.r2a); acc.r2b = wasm_f32x4_pmax(z, acc.r2b);
    acc.r3a = wasm_f32x4_pmax(z, acc.r3a); acc.r3b = wasm_f32x4_pmax(z, acc.r3b);
  }
  tile_store(acc, c, ldc, npix, nco, tile);
}

/*
 * Conv2D, NHWC, with the FusedConv2D epilogue: y[n, oh, ow, co] = (bias ? bias[co] : 0) +
 * sum over (kh, kw, ci) of x[n, oh*sh + kh - pt, ow*sw + kw - pl, ci] * w[kh, kw, ci, co]
 * (0 outside x), then max(y, 0) if relu. The indirect GEMM of conv2d_input_grad in the forward
 * direction. Returns 0, having written nothing, when one panel does not fit the work buffer.
 */
__attribute__((export_name("conv2d")))
int conv2d(const float *x, const float *w, const float *bias, float *y, int N, int H, int W, int CI, int OH, int OW,
           int CO, int KH, int KW, int sh, int sw, int pt, int pl, int relu, float *work) {
  const int panel = KH * KW * CI * NR, panels = (CO + NR - 1) / NR;
  /* work: CI zeros (the source of taps outside x), the bias padded to whole panels, one edge
     tile, then the filter panels. */
  float *zero = work, *bpad = work + ((CI + 3) & ~3), *tile = bpad + panels * NR, *bp = tile + MR * NR;
  const int group = (WORK_FLOATS - (int)(bp - work)) / panel;
  if (group < 1) return 0;
  for (int ci = 0; ci < CI; ci++) zero[ci] = 0.0f;
  if (bias) for (int co = 0; co < panels * NR; co++) bpad[co] = co < CO ? bias[co] : 0.0f;
  for (int g0 = 0; g0 < panels; g0 += group) {
    const int gn = panels - g0 < group ? panels - g0 : group;
    /* bp[g][kh][kw][ci][c] = w[kh][kw][ci][(g0 + g)*8 + c], zero past CO. */
    float *d = bp;
    for (int g = 0; g < gn; g++) {
      const int co0 = (g0 + g) * NR, nco = CO - co0 < NR ? CO - co0 : NR;
      for (int k = 0; k < KH * KW * CI; k++) {
        const float *src = w + k * CO + co0;
        if (nco == NR) {
          wasm_v128_store(d, wasm_v128_load(src));
          wasm_v128_store(d + 4, wasm_v128_load(src + 4));
        } else {
          int c = 0;
          for (; c < nco; c++) d[c] = src[c];
          for (; c < NR; c++) d[c] = 0.0f;
        }
        d += NR;
      }
    }
    /* One output row at a time: the KH input rows it reads stay in cache across the co panels. */
    for (int n = 0; n < N; n++) {
      const float *ximg = x + n * H * W * CI;
      for (int oh = 0; oh < OH; oh++) {
        float *yrow = y + (n * OH + oh) * OW * CO;
        for (int g = 0; g < gn; g++) {
          const int co0 = (g0 + g) * NR, nco = CO - co0 < NR ? CO - co0 : NR;
          const float *pb = bp + g * panel;
          for (int ow = 0; ow < OW; ow += MR) {
            const int npix = OW - ow < MR ? OW - ow : MR;
            conv_tile(ximg, pb, bias ? bpad + co0 : 0, relu, yrow + ow * CO + co0, CO, npix, nco, oh, ow, H, W, CI,
                      KH, KW, sh, sw, pt, pl, zero, tile);
          }
        }
      }
    }
  }
  return 1;
}

/*
 * Adam's update for one variable, in TF.js 4.22.0's AdamOptimizer order of float32 operations
 * (no FMA in wasm SIMD, so every product and sum rounds as TF.js's separate kernels do):
 *   m' = m*b1 + g*c1;  v' = v*b2 + (g*g)*c2;  w' = ((m'/omb1) / (sqrt(v'/omb2) + eps)) * neglr + w
 * with c1 = 1-b1, c2 = 1-b2, omb1/2 = 1 - beta^t and neglr = -lr as float32. Writes new arrays
 * (the old ones may be aliased by other tensors).
 */
__attribute__((export_name("adam")))
void adam(const float *w, const float *m, const float *v, const float *g, float *nw, float *nm, float *nv, int n,
          float b1, float c1, float b2, float c2, float omb1, float omb2, float eps, float neglr) {
  const v128_t vb1 = wasm_f32x4_splat(b1), vc1 = wasm_f32x4_splat(c1), vb2 = wasm_f32x4_splat(b2);
  const v128_t vc2 = wasm_f32x4_splat(c2), vo1 = wasm_f32x4_splat(omb1), vo2 = wasm_f32x4_splat(omb2);
  const v128_t veps = wasm_f32x4_splat(eps), vlr = wasm_f32x4_splat(neglr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t gi = wasm_v128_load(g + i);
    const v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vb1), wasm_f32x4_mul(gi, vc1));
    const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), vc2));
    const v128_t step = wasm_f32x4_div(wasm_f32x4_div(mi, vo1), wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vi, vo2)), veps));
    wasm_v128_store(nm + i, mi);
    wasm_v128_store(nv + i, vi);
    wasm_v128_store(nw + i, wasm_f32x4_add(wasm_f32x4_mul(step, vlr), wasm_v128_load(w + i)));
  }
  for (; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + (gi * gi) * c2;
    nm[i] = mi;
    nv[i] = vi;
    nw[i] = ((mi / omb1) / (__builtin_sqrtf(vi / omb2) + eps)) * neglr + w[i];
  }
}

/*
 * MaxPoolGrad, NHWC: each window's gradient dy goes to the first position (row-major in the
 * window, padding excluded) where x equals the window's maximum y, as the cpu backend does.
 * dx is zeroed first; windows may overlap (gradients add).
 */
__attribute__((export_name("max_pool_grad")))
void max_pool_grad(const float *x, const float *y, const float *dy, float *dx, int N, int H, int W, int C, int OH,
                   int OW, int KH, int KW, int sh, int sw, int pt, int pl) {
  const long total = (long)N * H * W * C;
  long i = 0;
  for (; i + 4 <= total; i += 4) wasm_v128_store(dx + i, wasm_f32x4_splat(0.0f));
  for (; i < total; i++) dx[i] = 0.0f;
  for (int n = 0; n < N; n++) {
    const float *xn = x + (long)n * H * W * C;
    float *dxn = dx + (long)n * H * W * C;
    for (int oh = 0; oh < OH; oh++) {
      const int h0 = oh * sh - pt;
      const int kh0 = h0 < 0 ? -h0 : 0, kh1 = H - h0 < KH ? H - h0 : KH;
      for (int ow = 0; ow < OW; ow++) {
        const long o = (((long)n * OH + oh) * OW + ow) * C;
        const int w0 = ow * sw - pl;
        const int kw0 = w0 < 0 ? -w0 : 0, kw1 = W - w0 < KW ? W - w0 : KW;
        int c = 0;
        /* 4 channels at a time: `done` marks lanes whose first maximum was found. */
        for (; c + 4 <= C; c += 4) {
          const v128_t yv = wasm_v128_load(y + o + c), g = wasm_v128_load(dy + o + c);
          v128_t done = wasm_i32x4_splat(0);
          for (int kh = kh0; kh < kh1; kh++) {
            for (int kw = kw0; kw < kw1; kw++) {
              const long p = ((long)(h0 + kh) * W + (w0 + kw)) * C + c;
              const v128_t hit = wasm_v128_andnot(wasm_f32x4_eq(wasm_v128_load(xn + p), yv), done);
              wasm_v128_store(dxn + p, wasm_f32x4_add(wasm_v128_load(dxn + p), wasm_v128_and(hit, g)));
              done = wasm_v128_or(done, hit);
            }
          }
        }
        for (; c < C; c++) {
          int found = 0;
          for (int kh = kh0; kh < kh1 && !found; kh++) {
            for (int kw = kw0; kw < kw1; kw++) {
              const long p = ((long)(h0 + kh) * W + (w0 + kw)) * C + c;
              if (xn[p] == y[o + c]) { dxn[p] += dy[o + c]; found = 1; break; }
            }
          }
        }
      }
    }
  }
}

/*
 * FusedBatchNorm (inference formula, also what training runs with the batch's moments):
 * out = (x - mean) * (scale / sqrt(variance + eps)) + offset, per channel of the last axis; each
 * of mean, variance, offset, scale has C values or is absent (offset 0, scale 1; pass 0).
 * `a` (C floats of scratch) holds scale / sqrt(variance + eps).
 */
__attribute__((export_name("batch_norm")))
void batch_norm(const float *x, const float *mean, const float *variance, const float *offset, const float *scale,
                float eps, float *out, int rows, int C, float *a) {
  for (int c = 0; c < C; c++) a[c] = (scale ? scale[c] : 1.0f) / __builtin_sqrtf(variance[c] + eps);
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * C;
    float *o = out + (long)r * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t v = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + c), wasm_v128_load(mean + c)), wasm_v128_load(a + c));
      if (offset) v = wasm_f32x4_add(v, wasm_v128_load(offset + c));
      wasm_v128_store(o + c, v);
    }
    for (; c < C; c++) o[c] = (xr[c] - mean[c]) * a[c] + (offset ? offset[c] : 0.0f);
  }
}

/*
 * Batchnorm in training mode over the last axis of a rows x C matrix (tf.layers.batchNormalization
 * with axis -1): the batch moments, the normalization and the moving averages in one kernel, the
 * gradient in another, where tfjs-layers runs tf.moments, tf.batchNorm and their tape gradients as
 * dozens of small kernels. Sums are taken per channel: f32 partial sums over blocks of BN_ROWS
 * rows in registers (SIMD across channels, a block's rows stay in L1 across channel groups),
 * block totals in double, so 65,536+ rows lose nothing to float32 accumulation.
 */
#define BN_ROWS 64
enum { BN_SUM, BN_CENTERED, BN_GRAD };

/* acc[0..3] += the 4 lanes of v, in double. */
static inline void bn_acc(double *acc, v128_t v) {
  wasm_v128_store(acc, wasm_f64x2_add(wasm_v128_load(acc), wasm_f64x2_promote_low_f32x4(v)));
  wasm_v128_store(acc + 2, wasm_f64x2_add(wasm_v128_load(acc + 2),
                                          wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3))));
}

/*
 * Rows [r0, r1) of channels [c, c + 4*nv) (nv <= 4 vectors), into s and q (doubles, per channel):
 *   BN_SUM: s += x;  BN_CENTERED: s += x - m, q += (x - m)^2;  BN_GRAD: s += dy, q += dy * (x - m).
 * kind and nv are constants at every call, so the partial sums live in registers.
 */
static inline __attribute__((always_inline)) void bn_block(const int kind, const int nv, const float *x,
                                                           const float *dy, const float *m, int r0, int r1, int C,
                                                           int c, double *s, double *q) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  v128_t mv[4], ps[4], pq[4];
  for (int j = 0; j < nv; j++) {
    mv[j] = kind == BN_SUM ? zero : wasm_v128_load(m + c + 4 * j);
    ps[j] = pq[j] = zero;
  }
  for (int r = r0; r < r1; r++) {
    const float *xr = x + r * C + c;
    for (int j = 0; j < nv; j++) {
      const v128_t v = wasm_v128_load(xr + 4 * j);
      if (kind == BN_SUM) {
        ps[j] = wasm_f32x4_add(ps[j], v);
      } else if (kind == BN_CENTERED) {
        const v128_t d = wasm_f32x4_sub(v, mv[j]);
        ps[j] = wasm_f32x4_add(ps[j], d);
        pq[j] = wasm_f32x4_add(pq[j], wasm_f32x4_mul(d, d));
      } else {
        const v128_t g = wasm_v128_load(dy + r * C + c + 4 * j);
        ps[j] = wasm_f32x4_add(ps[j], g);
        pq[j] = wasm_f32x4_add(pq[j], wasm_f32x4_mul(g, wasm_f32x4_sub(v, mv[j])));
      }
    }
  }
  for (int j = 0; j < nv; j++) {
    bn_acc(s + c + 4 * j, ps[j]);
    if (kind != BN_SUM) bn_acc(q + c + 4 * j, pq[j]);
  }
}

/* s (and q) = the per-channel sums of bn_block's `kind` over all rows; s, q: C doubles each. */
static inline __attribute__((always_inline)) void bn_sums(const int kind, const float *x, const float *dy,
                                                          const float *m, int rows, int C, double *s, double *q) {
  for (int c = 0; c < C; c++) s[c] = q[c] = 0.0;
  for (int r0 = 0; r0 < rows; r0 += BN_ROWS) {
    const int r1 = rows - r0 < BN_ROWS ? rows : r0 + BN_ROWS;
    int c = 0;
    for (; c + 16 <= C; c += 16) bn_block(kind, 4, x, dy, m, r0, r1, C, c, s, q);
    for (; c + 4 <= C; c += 4) bn_block(kind, 1, x, dy, m, r0, r1, C, c, s, q);
    for (; c < C; c++) {
      float ps = 0.0f, pq = 0.0f;
      for (int r = r0; r < r1; r++) {
        const float v = x[r * C + c];
        if (kind == BN_SUM) {
          ps += v;
        } else if (kind == BN_CENTERED) {
          const float d = v - m[c];
          ps += d;
          pq += d * d;
        } else {
          const float g = dy[r * C + c];
          ps += g;
          pq += g * (v - m[c]);
        }
      }
      s[c] += ps;
      q[c] += pq;
    }
  }
}

/*
 * Forward: per channel the batch mean and biased variance (what tf.moments gives; the variance in
 * two passes, centred on the float mean and corrected by the centred sum), then
 *   y = (x - mean) * (gamma / sqrt(var + eps)) + beta     (batch_norm's formula)
 *   invstd = 1 / sqrt(var + eps)                           (for the backward)
 *   nmean = mmean - (mmean - mean) * decay, nvar likewise  (tfjs-layers' doMovingAverage, same
 *                                                           float32 operations)
 * gamma, beta may be 0 (1 and 0). work: 2*C doubles + C floats.
 */
__attribute__((export_name("bn_train_forward")))
void bn_train_forward(const float *x, const float *gamma, const float *beta, const float *mmean, const float *mvar,
                      float eps, float decay, int rows, int C, float *y, float *mean, float *invstd, float *nmean,
                      float *nvar, float *work) {
  double *s = (double *)work, *q = s + C;
  float *a = (float *)(q + C);
  bn_sums(BN_SUM, x, 0, 0, rows, C, s, q);
  for (int c = 0; c < C; c++) mean[c] = (float)(s[c] / rows);
  bn_sums(BN_CENTERED, x, 0, mean, rows, C, s, q);
  for (int c = 0; c < C; c++) {
    const double d = s[c] / rows;
    double v = q[c] / rows - d * d;
    if (v < 0.0) v = 0.0; /* rounding, for a (near) constant channel */
    const float var = (float)v;
    invstd[c] = (float)(1.0 / __builtin_sqrt((double)(var + eps)));
    a[c] = (gamma ? gamma[c] : 1.0f) / __builtin_sqrtf(var + eps);
    nmean[c] = mmean[c] - (mmean[c] - mean[c]) * decay;
    nvar[c] = mvar[c] - (mvar[c] - var) * decay;
  }
  for (int r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    float *o = y + r * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v128_t v = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + c), wasm_v128_load(mean + c)), wasm_v128_load(a + c));
      if (beta) v = wasm_f32x4_add(v, wasm_v128_load(beta + c));
      wasm_v128_store(o + c, v);
    }
    for (; c < C; c++) o[c] = (xr[c] - mean[c]) * a[c] + (beta ? beta[c] : 0.0f);
  }
}

/*
 * Backward of bn_train_forward's y through the batch moments (the total derivative the tape takes
 * through tf.moments and tf.batchNorm), with xhat = (x - mean) * invstd and M = rows:
 *   dbeta = sum dy,  dgamma = sum dy * xhat,
 *   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma) = dy * k1 - ((x - mean) * k3 + k2)
 * with k1 = gamma * invstd, k2 = k1 * dbeta / M, k3 = k1 * invstd * dgamma / M (in double).
 * gamma may be 0 (1). work: 2*C doubles + 3*C floats.
 */
__attribute__((export_name("bn_train_backward")))
void bn_train_backward(const float *x, const float *dy, const float *gamma, const float *mean, const float *invstd,
                       int rows, int C, float *dx, float *dgamma, float *dbeta, float *work) {
  double *s = (double *)work, *q = s + C;
  float *k1 = (float *)(q + C), *k2 = k1 + C, *k3 = k2 + C;
  bn_sums(BN_GRAD, x, dy, mean, rows, C, s, q);
  for (int c = 0; c < C; c++) {
    const double is = invstd[c], k = (gamma ? gamma[c] : 1.0) * is;
    const double db = s[c], dg = q[c] * is;
    dbeta[c] = (float)db;
    dgamma[c] = (float)dg;
    k1[c] = (float)k;
    k2[c] = (float)(k * db / rows);
    k3[c] = (float)(k * is * dg / rows);
  }
  for (int r = 0; r < rows; r++) {
    const float *xr = x + r * C, *g = dy + r * C;
    float *o = dx + r * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      const v128_t xm = wasm_f32x4_sub(wasm_v128_load(xr + c), wasm_v128_load(mean + c));
      const v128_t corr = wasm_f32x4_add(wasm_f32x4_mul(xm, wasm_v128_load(k3 + c)), wasm_v128_load(k2 + c));
      wasm_v128_store(o + c, wasm_f32x4_sub(wasm_f32x4_mul(wasm_v128_load(g + c), wasm_v128_load(k1 + c)), corr));
    }
    for (; c < C; c++) o[c] = g[c] * k1[c] - ((xr[c] - mean[c]) * k3[c] + k2[c]);
  }
}
