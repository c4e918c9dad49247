/** Reading ONNX files back in the tests: op types after ONNX Runtime's own graph optimizations, errors, runs. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../../runner/export/onnxProto';

/**
 * The op types ONNX Runtime actually runs (its optimized graph, level "extended": the QDQ
 * fusions, without the CPU-specific NCHWc layout rewrite), "domain:op" outside the default domain.
 */
export async function optimizedOpTypes(model: Uint8Array | string): Promise<Map<string, number>> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'akd-ort-opt-')), 'optimized.onnx');
  try {
    const bytes = typeof model === 'string' ? fs.readFileSync(model) : model;
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'extended',
      optimizedModelFilePath: out,
    });
    await session.release();
    const counts = new Map<string, number>();
    for (const n of decodeModel(fs.readFileSync(out)).graph.node) {
      const key = n.domain ? `${n.domain}:${n.opType}` : n.opType;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

/** Logits of raw uint8 NHWC images fed as float32, in one batch. */
export async function runOnnx(
  model: Uint8Array | string,
  pixels: Uint8Array | Float32Array,
  shape: number[],
): Promise<{ logits: Float32Array; dims: number[] }> {
  const bytes = typeof model === 'string' ? fs.readFileSync(model) : model;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ pixels: new ort.Tensor('float32', Float32Array.from(pixels), shape) });
    return { logits: out.logits.data as Float32Array, dims: out.logits.dims.map(Number) };
  } finally {
    await session.release();
  }
}

/** max |a - b| / max |b|: relative to the reference's scale (elementwise ratios blow up near 0). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / (m || 1);
}

export function argmaxRows(logits: ArrayLike<number>, classes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < logits.length / classes; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out.push(best);
  }
  return out;
}
