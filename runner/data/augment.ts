/**
 * Augmentation of training batches: random crop with zero padding and horizontal flip, as the
 * Annealing-KD reference code trains on CIFAR (RandomCrop(32, padding=4), RandomHorizontalFlip).
 *
 * Deterministic: a sample's crop offset and flip depend only on (seed, phase, epoch, sample
 * index), never on the batch it lands in or the replica that computes it, so single-thread and
 * data-parallel training see the same images and a resumed run replays the same batches.
 * No TensorFlow import: it works in place on the host-side batch (NHWC, channel fastest).
 */
import { augments, type AugmentConfig } from '../protocol/configTypes';

export interface AugmentSpec {
  config: AugmentConfig;
  /** [height, width, channels]. */
  inputShape: number[];
  /** Per channel: the normalised value of a raw 0 pixel (what zero padding pads with). */
  padValues: ArrayLike<number>;
  seed: number;
  phase: string;
}

/** FNV-1a of a string (the phase name), 32 bits. */
function hashText(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** A 32-bit integer mix (the finaliser of MurmurHash3): every input bit reaches every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The draws for one sample: crop offsets in [0, 2*pad] and the flip bit. */
export function sampleDraw(
  key: number,
  epoch: number,
  sample: number,
  pad: number,
): { dy: number; dx: number; flip: boolean } {
  const h1 = mix(key ^ mix(epoch + 0x9e3779b9));
  const h = mix(h1 ^ mix(sample + 0x7f4a7c15));
  const span = 2 * pad + 1;
  const h2 = mix(h ^ 0x5bd1e995);
  return { dy: h % span, dx: h2 % span, flip: (mix(h2) & 1) === 1 };
}

export class Augmenter {
  private readonly key: number;
  private readonly pad: number;
  private readonly flip: boolean;
  private readonly h: number;
  private readonly w: number;
  private readonly c: number;
  private readonly scratch: Float32Array;

  constructor(private readonly spec: AugmentSpec) {
    const [h, w, c] = spec.inputShape;
    this.h = h;
    this.w = w;
    this.c = c ?? 1;
    this.pad = spec.config.randomCrop ?? 0;
    this.flip = spec.config.horizontalFlip === true;
    this.key = mix((spec.seed >>> 0) ^ mix(hashText(spec.phase)));
    this.scratch = new Float32Array(h * w * this.c);
  }

  /**
   * Augments in place the rows of `x` (rows.length samples, NHWC, channel fastest) whose
   * training-set indices are `ids`, for epoch `epoch` (0-based within the phase).
   */
  apply(x: Float32Array, ids: ArrayLike<number>, epoch: number): void {
    const { h, w, c, pad } = this;
    const size = h * w * c;
    const rowLen = w * c;
    const src = this.scratch;
    const padValues = this.spec.padValues;
    for (let i = 0; i < ids.length; i++) {
      const d = sampleDraw(this.key, epoch, ids[i], pad);
      const flip = this.flip && d.flip;
      const oy = pad > 0 ? d.dy - pad : 0;
      const ox = pad > 0 ? d.dx - pad : 0;
      if (oy === 0 && ox === 0 && !flip) continue;
      const base = i * size;
      src.set(x.subarray(base, base + size));
      for (let y = 0; y < h; y++) {
        const sy = y + oy;
        const outRow = base + y * rowLen;
        if (sy < 0 || sy >= h) {
          for (let xx = 0; xx < w; xx++)
            for (let ch = 0; ch < c; ch++) x[outRow + xx * c + ch] = padValues[ch];
          continue;
        }
        for (let xx = 0; xx < w; xx++) {
          // Crop first (output pixel xx reads padded column xx + ox), then mirror the crop.
          const sx = (flip ? w - 1 - xx : xx) + ox;
          const o = outRow + xx * c;
          if (sx < 0 || sx >= w) {
            for (let ch = 0; ch < c; ch++) x[o + ch] = padValues[ch];
          } else {
            const s = sy * rowLen + sx * c;
            for (let ch = 0; ch < c; ch++) x[o + ch] = src[s + ch];
          }
        }
      }
    }
  }
}

/** The augmenter of a phase, or undefined when the config augments nothing. */
export function augmenterFor(spec: AugmentSpec): Augmenter | undefined {
  return augments(spec.config) ? new Augmenter(spec) : undefined;
}
