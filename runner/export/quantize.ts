/**
 * Static 8-bit quantization of an exported float graph, in ONNX's QDQ form (QuantizeLinear /
 * DequantizeLinear pairs around float ops): ONNX Runtime's CPU provider fuses it into integer
 * kernels (QLinearConv, QGemm, QLinearAdd, QLinearGlobalAveragePool, 8-bit MaxPool, Reshape and
 * Transpose), and TensorRT and OpenVINO read the same form.
 *
 * - Weights: int8, symmetric, one scale per output channel (zero point 0), in 7 bits (-63..63,
 *   ONNX Runtime's "reduce_range"): on x86 CPUs without VNNI the runtime multiplies uint8 x int8
 *   pairs with vpmaddubsw, whose int16 sums saturate when 255 x 127 x 2 > 32767; with 7-bit
 *   weights they cannot (255 x 63 x 2 = 32130), so a file gives the same answers on every x86 CPU.
 * - Biases: int32 with scale = input scale x weight scale (what the integer kernels add).
 * - Activations: uint8, asymmetric, one scale per tensor, from the min/max each tensor took on
 *   the calibration images (the range always includes 0). After a ReLU the range starts at 0, so
 *   the zero point is 0 and the runtime folds the ReLU into the quantization.
 *   uint8 rather than int8 activations ("U8S8", ONNX Runtime's CPU form): on x86 the runtime
 *   turns int8 activations into uint8 itself, but only where a quantized tensor has one
 *   consumer, so a ResNet's block inputs (read by the block and its shortcut) kept 6 of its 9
 *   convolutions in float.
 * - Value-preserving ops (MaxPool, Reshape, Transpose) keep their input's scale, so the runtime
 *   runs them on 8-bit data directly.
 * - The logits stay float32: the last dense layer reads 8-bit data and writes float.
 */
import { Graph } from './graph';
import type { NodeProto, TensorProto } from './onnxProto';
import { DataType, tensorValues } from './onnxProto';

export interface Range {
  min: number;
  max: number;
}

/** Ops whose activation inputs are quantized. */
const QUANTIZED_OPS = new Set([
  'Conv',
  'Gemm',
  'Add',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Reshape',
  'Transpose',
]);
/** Ops whose output has exactly their input's values (so the same scale and zero point). */
const SAME_SCALE_OPS = new Set(['MaxPool', 'Reshape', 'Transpose']);
/** Ops with a weight (input 1) and an optional bias (input 2). */
const WEIGHTED_OPS = new Set(['Conv', 'Gemm']);

/** The weights' largest magnitude: 7 bits (see above). */
const INT8_MAX = 63;
const UINT8_MAX = 255;

interface QParams {
  scale: number;
  zeroPoint: number;
}

/** The activation tensors the quantized graph reads as 8-bit integers, in graph order. */
function quantizedActivations(graph: Graph): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (t: string): void => {
    if (!seen.has(t) && !graph.initializers.has(t)) {
      seen.add(t);
      out.push(t);
    }
  };
  for (const n of graph.nodes) {
    if (!QUANTIZED_OPS.has(n.opType)) continue;
    if (n.opType === 'Add') {
      // Only sums of two activations (a residual): a float constant added stays float.
      if (n.input.every((t) => !graph.initializers.has(t))) n.input.forEach(add);
    } else add(n.input[0]);
  }
  return out;
}

/** The tensors whose ranges calibration must measure (the others inherit their input's scale). */
export function tensorsToCalibrate(graph: Graph): string[] {
  const q = new Set(quantizedActivations(graph));
  return [...q].filter((t) => {
    const p = graph.producer(t);
    return !(p && SAME_SCALE_OPS.has(p.opType) && q.has(p.input[0]));
  });
}

function activationParams(r: Range): QParams {
  const lo = Math.min(r.min, 0);
  const hi = Math.max(r.max, 0);
  let scale = Math.fround((hi - lo) / UINT8_MAX);
  if (!(scale > 0) || !Number.isFinite(scale)) scale = 1; // a tensor that was always 0
  const zeroPoint = Math.max(0, Math.min(UINT8_MAX, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Round half to even, as QuantizeLinear does. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Rewrites `graph` (in place) into its QDQ 8-bit form with the calibrated `ranges`
 * (for every tensor of `tensorsToCalibrate`).
 */
export function quantizeGraph(graph: Graph, ranges: Map<string, Range>): void {
  const activations = quantizedActivations(graph);
  const params = new Map<string, QParams>();
  for (const t of activations) {
    const p = graph.producer(t);
    const inherited = p && SAME_SCALE_OPS.has(p.opType) ? params.get(p.input[0]) : undefined;
    if (inherited) {
      params.set(t, inherited);
      continue;
    }
    const r = ranges.get(t);
    if (!r) throw new Error(`internal: no calibration range for ${t}`);
    params.set(t, activationParams(r));
  }

  const qdq = new Map<string, NodeProto[]>(); // after the producer of t (or first, for the graph input)
  const dequantized = new Map<string, string>();
  for (const t of activations) {
    const { scale, zeroPoint } = params.get(t)!;
    const s = graph.constant(`${t}.scale`, Float32Array.of(scale), []);
    const z = graph.shared(`zero_point_${zeroPoint}`, Uint8Array.of(zeroPoint), []);
    const q = graph.makeNode('QuantizeLinear', [t, s, z], {}, `${t}_q`, false);
    const dq = graph.makeNode('DequantizeLinear', [q.output[0], s, z], {}, `${t}_dq`, false);
    qdq.set(t, [q, dq]);
    dequantized.set(t, dq.output[0]);
  }

  const nodes: NodeProto[] = [];
  const emitAfter = (t: string): void => {
    nodes.push(...(qdq.get(t) ?? []));
  };
  emitAfter(graph.input.name);
  for (const n of graph.nodes) {
    const reads = (i: number): boolean =>
      QUANTIZED_OPS.has(n.opType) && (n.opType === 'Add' ? dequantized.has(n.input[i]) : i === 0);
    const x = params.get(n.input[0]);
    n.input = n.input.map((t, i) => (reads(i) && dequantized.has(t) ? dequantized.get(t)! : t));
    if (WEIGHTED_OPS.has(n.opType) && x) nodes.push(...quantizeWeights(graph, n, x.scale));
    nodes.push(n);
    n.output.forEach(emitAfter);
  }
  graph.nodes = nodes;
}

/** int8 per-output-channel weights and int32 bias behind DequantizeLinear nodes; returns those nodes. */
function quantizeWeights(graph: Graph, n: NodeProto, inputScale: number): NodeProto[] {
  const out: NodeProto[] = [];
  const weight = initializer(graph, n.input[1]);
  const w = tensorValues(weight) as Float32Array;
  const channels = weight.dims[0]; // Conv [out, in, kh, kw]; Gemm with transB=1 [out, in]
  const per = w.length / channels;
  const scales = new Float32Array(channels);
  const q = new Int8Array(w.length);
  for (let c = 0; c < channels; c++) {
    let absMax = 0;
    for (let k = 0; k < per; k++) absMax = Math.max(absMax, Math.abs(w[c * per + k]));
    const scale = absMax > 0 ? Math.fround(absMax / INT8_MAX) : 1;
    scales[c] = scale;
    for (let k = 0; k < per; k++)
      q[c * per + k] = Math.max(-INT8_MAX, Math.min(INT8_MAX, roundEven(w[c * per + k] / scale)));
  }
  graph.initializers.delete(weight.name);
  const wq = graph.constant(`${weight.name}.int8`, q, weight.dims);
  const ws = graph.constant(`${weight.name}.scale`, scales, [channels]);
  const wz = graph.shared(`int8_zeros_${channels}`, new Int8Array(channels), [channels]);
  const wdq = graph.makeNode('DequantizeLinear', [wq, ws, wz], { axis: 0 }, `${weight.name}_dq`, false);
  out.push(wdq);
  n.input[1] = wdq.output[0];

  if (n.input[2]) {
    const bias = initializer(graph, n.input[2]);
    const b = tensorValues(bias) as Float32Array;
    const bs = new Float32Array(channels);
    const bq = new Int32Array(channels);
    for (let c = 0; c < channels; c++) {
      bs[c] = Math.fround(inputScale * scales[c]);
      bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundEven(b[c] / bs[c])));
    }
    graph.initializers.delete(bias.name);
    const bqName = graph.constant(`${bias.name}.int32`, bq, [channels]);
    const bsName = graph.constant(`${bias.name}.scale`, bs, [channels]);
    const bzName = graph.shared(`int32_zeros_${channels}`, new Int32Array(channels), [channels]);
    const bdq = graph.makeNode(
      'DequantizeLinear',
      [bqName, bsName, bzName],
      { axis: 0 },
      `${bias.name}_dq`,
      false,
    );
    out.push(bdq);
    n.input[2] = bdq.output[0];
  }
  return out;
}

function initializer(graph: Graph, name: string): TensorProto {
  const t = graph.initializers.get(name);
  if (!t || t.dataType !== DataType.FLOAT) throw new Error(`internal: ${name} is not a float initializer`);
  return t;
}
