/**
 * Mini-batches drawn from host-side typed arrays. The order of an epoch depends only on
 * (seed, phase, epoch), so a run resumed mid-epoch replays exactly the same batches.
 */

export interface HostSplit {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export interface Batch {
  x: Float32Array;
  y: Int32Array;
  /** Sample indices in the split (to look up per-sample targets such as teacher logits). */
  indices: Int32Array;
  size: number;
}

/** mulberry32: small, fast, good enough for shuffling. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function epochOrder(n: number, seed: number, phase: string, epoch: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = rng((seed ^ hashString(phase)) + Math.imul(epoch + 1, 2654435761));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

export function batchCount(n: number, batchSize: number): number {
  return Math.ceil(n / batchSize);
}

/** Gather batch `b` of an epoch's order into fresh contiguous arrays. */
export function gatherBatch(
  split: HostSplit,
  sampleSize: number,
  order: Int32Array,
  b: number,
  batchSize: number,
): Batch {
  const start = b * batchSize;
  const end = Math.min(order.length, start + batchSize);
  const size = end - start;
  const x = new Float32Array(size * sampleSize);
  const y = new Int32Array(size);
  const indices = order.subarray(start, end);
  for (let i = 0; i < size; i++) {
    const s = indices[i];
    x.set(split.x.subarray(s * sampleSize, (s + 1) * sampleSize), i * sampleSize);
    y[i] = split.y[s];
  }
  return { x, y, indices, size };
}

/** Rows of a row-major [n, width] table for the given indices (teacher logits per sample). */
export function gatherRows(table: Float32Array, width: number, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length * width);
  for (let i = 0; i < indices.length; i++) {
    const s = indices[i];
    out.set(table.subarray(s * width, (s + 1) * width), i * width);
  }
  return out;
}
