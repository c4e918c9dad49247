/**
 * Running exported files in ONNX Runtime (onnxruntime-node, CPU execution provider): the test
 * accuracy and logits that verify an export, and the activation ranges that calibrate int8.
 * onnxruntime-node is loaded on first use, so the other akd commands never pay for it.
 */
import type * as Ort from 'onnxruntime-node';
import { floatValueInfo, type Graph } from './graph';
import { INPUT_NAME, OUTPUT_NAME } from './layersToOnnx';
import { encodeModel } from './onnxProto';
import type { Range } from './quantize';

let ortModule: typeof Ort | undefined;

/** onnxruntime-node, or a one-line reason it cannot load. */
export function ort(): typeof Ort {
  if (ortModule) return ortModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as typeof Ort;
  } catch (e) {
    const first = String((e as Error).message).split('\n')[0];
    throw new Error(
      `onnxruntime-node cannot load, so the export cannot be verified (${first}); reinstall it with npm ci`,
      { cause: e },
    );
  }
  return ortModule;
}

export function runtimeName(): string {
  return `onnxruntime-node ${ort().env.versions.node} (CPU)`;
}

export interface Images {
  /** uint8 pixels, NHWC, `n` images of `shape`. */
  pixels: Uint8Array;
  labels?: Int32Array;
  n: number;
  shape: [number, number, number];
}

const BATCH = 500;

export async function createSession(
  bytes: Uint8Array,
  options: Ort.InferenceSession.SessionOptions = {},
): Promise<Ort.InferenceSession> {
  return ort().InferenceSession.create(bytes, { executionProviders: ['cpu'], ...options });
}

/** Feeds the images batch by batch (raw pixels as float32); `onBatch` gets each batch's outputs. */
async function forEachBatch(
  session: Ort.InferenceSession,
  images: Images,
  fetches: string[],
  onBatch: (outputs: Ort.InferenceSession.OnnxValueMapType, start: number, size: number) => void,
): Promise<void> {
  const px = images.shape[0] * images.shape[1] * images.shape[2];
  for (let start = 0; start < images.n; start += BATCH) {
    const size = Math.min(BATCH, images.n - start);
    const x = Float32Array.from(images.pixels.subarray(start * px, (start + size) * px));
    const feeds = { [INPUT_NAME]: new (ort().Tensor)('float32', x, [size, ...images.shape]) };
    const outputs = await session.run(feeds, fetches);
    onBatch(outputs, start, size);
    for (const v of Object.values(outputs)) v.dispose();
  }
}

export interface Evaluation {
  /** Fraction of `images` whose arg-max logit is the label. */
  accuracy: number;
  /** The logits of the first `keepLogits` images, row-major. */
  logits: Float32Array;
  classes: number;
}

export async function evaluate(
  session: Ort.InferenceSession,
  images: Images,
  keepLogits: number,
): Promise<Evaluation> {
  let correct = 0;
  let classes = 0;
  let kept = new Float32Array(0);
  await forEachBatch(session, images, [OUTPUT_NAME], (out, start, size) => {
    const t = out[OUTPUT_NAME];
    const data = t.data as Float32Array;
    classes = Number(t.dims[1]);
    if (kept.length === 0) kept = new Float32Array(Math.min(keepLogits, images.n) * classes);
    for (let i = 0; i < size; i++) {
      const row = data.subarray(i * classes, (i + 1) * classes);
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
      if (images.labels && best === images.labels[start + i]) correct++;
      if (start + i < keepLogits) kept.set(row, (start + i) * classes);
    }
  });
  return { accuracy: images.n > 0 ? correct / images.n : NaN, logits: kept, classes };
}

/** Min and max of each tensor over the calibration images, running the float graph with them as extra outputs. */
export async function calibrate(
  graph: Graph,
  tensors: string[],
  images: Images,
): Promise<Map<string, Range>> {
  const model = graph.toModel({ name: 'calibration', docString: '', metadata: {}, producerVersion: '' });
  const outputs = new Set(model.graph.output.map((o) => o.name));
  for (const t of tensors) if (!outputs.has(t)) model.graph.output.push(floatValueInfo(t));
  const session = await createSession(encodeModel(model));
  const ranges = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  try {
    await forEachBatch(session, images, tensors, (out) => {
      for (const t of tensors) {
        const data = out[t].data as Float32Array;
        const r = ranges.get(t)!;
        for (let i = 0; i < data.length; i++) {
          const v = data[i];
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
      }
    });
  } finally {
    await session.release();
  }
  return ranges;
}
