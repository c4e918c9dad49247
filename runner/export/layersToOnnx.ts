/**
 * A TF.js layers model (what the runner trains: MLP, CNN, CIFAR-style ResNet; or a checkpoint
 * teacher made of the same layers) as a float32 ONNX graph that takes raw pixels:
 *
 *   pixels  float32 [N, H, W, C], NHWC, values 0..255, N dynamic
 *     -> the data pipeline's normalisation, (x / 255 - mean[c]) / std[c]
 *     -> the layers (convolutions in ONNX's NCHW: one Transpose after the input; flattening
 *        reads TF's H, W, C order by permuting the next dense layer's rows, not the data)
 *   logits  float32 [N, classes]
 *
 * Batchnorm following a convolution or dense layer is folded into its weights and bias.
 */
import type * as tf from '@tensorflow/tfjs';
import { Graph, floatValueInfo } from './graph';
import type { PixelNormalization } from '../data/dataset';

export const INPUT_NAME = 'pixels';
export const OUTPUT_NAME = 'logits';
export const BATCH_DIM = 'N';

/** A layer the exporter cannot translate: the message names the layer and why. */
export class UnsupportedModelError extends Error {}

type Layout = 'nhwc' | 'nchw' | 'flat';

interface Value {
  name: string;
  layout: Layout;
  /** 4-D values: height, width, channels. */
  hwc?: [number, number, number];
  /** A flat value whose elements are in C, H, W order (flattened from NCHW); TF's order is H, W, C. */
  chwOf?: [number, number, number];
}

interface LayerWeights {
  [suffix: string]: { values: Float32Array; shape: number[] };
}

function weightsOf(layer: tf.layers.Layer): LayerWeights {
  const out: LayerWeights = {};
  const tensors = layer.getWeights();
  layer.weights.forEach((w, i) => {
    // originalName is "<layer>/<kind>" (kernel, bias, gamma, beta, moving_mean, moving_variance);
    // `name` may carry a uniquifying suffix when models were loaded twice in one process.
    const kind = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    out[kind] = { values: tensors[i].dataSync() as Float32Array, shape: tensors[i].shape };
  });
  return out;
}

interface LayerConfig {
  activation?: string;
  padding?: string;
  strides?: number[] | number;
  kernelSize?: number[] | number;
  poolSize?: number[] | number;
  dilationRate?: number[] | number;
  dataFormat?: string;
  axis?: number | number[];
  epsilon?: number;
  useBias?: boolean;
  groups?: number;
}

const pair = (v: number[] | number | undefined, fallback: number): [number, number] =>
  v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];

/** ONNX pads [top, left, bottom, right] and the output size for TF's 'same'/'valid' padding. */
export function convGeometry(
  size: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
  padding: string,
): { pads: number[]; out: [number, number] } {
  const begin: number[] = [];
  const end: number[] = [];
  const out: number[] = [];
  for (let d = 0; d < 2; d++) {
    const span = (kernel[d] - 1) * dilation[d] + 1;
    if (padding === 'same') {
      const o = Math.ceil(size[d] / strides[d]);
      const total = Math.max((o - 1) * strides[d] + span - size[d], 0);
      // TF puts the odd pixel at the end (bottom/right), as ONNX's SAME_UPPER.
      begin.push(Math.floor(total / 2));
      end.push(total - Math.floor(total / 2));
      out.push(o);
    } else if (padding === 'valid') {
      begin.push(0);
      end.push(0);
      out.push(Math.ceil((size[d] - span + 1) / strides[d]));
    } else {
      throw new UnsupportedModelError(`padding "${padding}"`);
    }
  }
  return { pads: [...begin, ...end], out: [out[0], out[1]] };
}

/** Export options: the normalisation the run's data pipeline applied to pixels. */
export interface ConvertOptions {
  inputShape: [number, number, number];
  normalization: PixelNormalization;
}

export function layersToOnnx(model: tf.LayersModel, opts: ConvertOptions): Graph {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new UnsupportedModelError(
      `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs (one of each is supported)`,
    );
  const [h, w, c] = opts.inputShape;
  const graph = new Graph(
    floatValueInfo(
      INPUT_NAME,
      [BATCH_DIM, h, w, c],
      `raw pixels, float32 0..255, NHWC [N, ${h}, ${w}, ${c}] (the normalisation is part of the graph)`,
    ),
  );
  const input = normalize(graph, opts);
  const values = new Map<string, Value>();
  const layers = model.layers;
  // How many layers read each layer's output: batchnorm is folded only into a sole consumer's producer.
  const consumers = new Map<string, tf.layers.Layer[]>();
  for (const layer of layers) {
    for (const from of inboundOf(layer))
      consumers.set(from.name, [...(consumers.get(from.name) ?? []), layer]);
  }
  const folded = new Set<string>();
  const transposed = new Map<string, Value>();

  const toLayout = (v: Value, layout: 'nchw' | 'nhwc'): Value => {
    if (v.layout === layout) return v;
    if (v.layout === 'flat') throw new UnsupportedModelError('a 4-D layer after a flattened tensor');
    const key = `${v.name}->${layout}`;
    let t = transposed.get(key);
    if (!t) {
      const perm = layout === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1];
      t = { name: graph.node('Transpose', [v.name], { perm }, `${v.name}_${layout}`), layout, hwc: v.hwc };
      transposed.set(key, t);
    }
    return t;
  };

  for (const layer of layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as LayerConfig;
    const where = `layer "${layer.name}" (${cls})`;
    try {
      if (cls === 'InputLayer') {
        values.set(layer.name, input);
        continue;
      }
      if (layer.inboundNodes.length !== 1) throw new UnsupportedModelError('a layer used more than once');
      const ins = inboundOf(layer).map((l) => {
        const v = l.getClassName() === 'InputLayer' && !values.has(l.name) ? input : values.get(l.name);
        if (!v) throw new Error(`internal: ${where} reads "${l.name}", which is not converted yet`);
        return v;
      });
      if (folded.has(layer.name)) {
        values.set(layer.name, ins[0]);
        continue;
      }
      const outShape = layer.outputShape as (number | null)[];
      const next = consumers.get(layer.name) ?? [];
      const foldable =
        next.length === 1 && next[0].getClassName() === 'BatchNormalization' ? next[0] : undefined;
      let out: Value;
      switch (cls) {
        case 'Conv2D': {
          if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast')
            throw new UnsupportedModelError('channelsFirst');
          if ((cfg.groups ?? 1) !== 1) throw new UnsupportedModelError('grouped convolution');
          const x = toLayout(ins[0], 'nchw');
          const wts = weightsOf(layer);
          const [kh, kw, cin, cout] = wts.kernel.shape;
          const kernel = new Float32Array(cout * cin * kh * kw);
          for (let y = 0; y < kh; y++)
            for (let xx = 0; xx < kw; xx++)
              for (let i = 0; i < cin; i++)
                for (let o = 0; o < cout; o++)
                  kernel[((o * cin + i) * kh + y) * kw + xx] =
                    wts.kernel.values[((y * kw + xx) * cin + i) * cout + o];
          let bias = wts.bias?.values;
          let activation = cfg.activation ?? 'linear';
          if (activation === 'linear' && foldable && bnAxisIsChannels(foldable)) {
            bias = foldBatchNorm(foldable, kernel, cout, bias);
            folded.add(foldable.name);
          }
          const hw: [number, number] = [x.hwc![0], x.hwc![1]];
          const geo = convGeometry(
            hw,
            [kh, kw],
            pair(cfg.strides, 1),
            pair(cfg.dilationRate, 1),
            cfg.padding ?? 'valid',
          );
          const inputs = [x.name, graph.constant(`${layer.name}.weight`, kernel, [cout, cin, kh, kw])];
          if (bias) inputs.push(graph.constant(`${layer.name}.bias`, bias, [cout]));
          let name = graph.node(
            'Conv',
            inputs,
            {
              kernel_shape: [kh, kw],
              strides: pair(cfg.strides, 1),
              dilations: pair(cfg.dilationRate, 1),
              pads: geo.pads,
              group: 1,
            },
            layer.name,
          );
          name = activate(graph, name, activation, layer.name);
          activation = 'linear';
          out = { name, layout: 'nchw', hwc: [geo.out[0], geo.out[1], cout] };
          break;
        }
        case 'Dense': {
          const x = ins[0];
          if (x.layout !== 'flat') throw new UnsupportedModelError('a dense layer on a 4-D tensor');
          const wts = weightsOf(layer);
          const [nin, nout] = wts.kernel.shape;
          // Gemm with transB = 1: weights stored [out, in], the per-channel axis 0 when quantized.
          const weight = new Float32Array(nout * nin);
          const row = rowOrder(x, nin);
          for (let i = 0; i < nin; i++)
            for (let o = 0; o < nout; o++) weight[o * nin + row[i]] = wts.kernel.values[i * nout + o];
          let bias = wts.bias?.values ?? new Float32Array(nout);
          if ((cfg.activation ?? 'linear') === 'linear' && foldable && bnAxisIsChannels(foldable)) {
            bias = foldBatchNorm(foldable, weight, nout, bias);
            folded.add(foldable.name);
          }
          const name = graph.node(
            'Gemm',
            [
              x.name,
              graph.constant(`${layer.name}.weight`, weight, [nout, nin]),
              graph.constant(`${layer.name}.bias`, bias, [nout]),
            ],
            { transB: 1 },
            layer.name,
          );
          out = { name: activate(graph, name, cfg.activation ?? 'linear', layer.name), layout: 'flat' };
          break;
        }
        case 'BatchNormalization': {
          // Not after a conv/dense layer: a per-channel multiply-add.
          if (!bnAxisIsChannels(layer))
            throw new UnsupportedModelError('batchnorm over an axis other than channels');
          const x = ins[0].layout === 'nhwc' ? toLayout(ins[0], 'nchw') : ins[0];
          const ch = x.layout === 'flat' ? (outShape[outShape.length - 1] as number) : x.hwc![2];
          const { scale, shift } = batchNormAffine(layer, ch);
          const dims = x.layout === 'flat' ? [ch] : [1, ch, 1, 1];
          const mul = graph.node(
            'Mul',
            [x.name, graph.constant(`${layer.name}.scale`, scale, dims)],
            {},
            `${layer.name}_scale`,
          );
          const add = graph.node(
            'Add',
            [mul, graph.constant(`${layer.name}.shift`, shift, dims)],
            {},
            layer.name,
          );
          out = { ...x, name: add };
          break;
        }
        case 'Activation':
        case 'ReLU':
          out = {
            ...ins[0],
            name: activate(
              graph,
              ins[0].name,
              cls === 'ReLU' ? 'relu' : (cfg.activation ?? 'linear'),
              layer.name,
              true,
            ),
          };
          break;
        case 'MaxPooling2D':
        case 'AveragePooling2D': {
          const x = toLayout(ins[0], 'nchw');
          const k = pair(cfg.poolSize, 2);
          const strides = pair(cfg.strides ?? cfg.poolSize, 2);
          const geo = convGeometry([x.hwc![0], x.hwc![1]], k, strides, [1, 1], cfg.padding ?? 'valid');
          const op = cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
          const attrs: Record<string, number[] | number> = { kernel_shape: k, strides, pads: geo.pads };
          if (op === 'AveragePool') attrs.count_include_pad = 0; // TF averages over the real pixels only
          out = {
            name: graph.node(op, [x.name], attrs, layer.name),
            layout: 'nchw',
            hwc: [geo.out[0], geo.out[1], x.hwc![2]],
          };
          break;
        }
        case 'GlobalAveragePooling2D': {
          const x = toLayout(ins[0], 'nchw');
          const pooled = graph.node('GlobalAveragePool', [x.name], {}, layer.name);
          out = { name: flatten(graph, pooled, `${layer.name}_flat`), layout: 'flat' };
          break;
        }
        case 'Flatten': {
          const x = ins[0];
          if (x.layout === 'flat') out = x;
          else if (x.layout === 'nhwc') out = { name: flatten(graph, x.name, layer.name), layout: 'flat' };
          else if (next.length > 0 && next.every((l) => l.getClassName() === 'Dense'))
            // The dense layers after it take their rows in C, H, W order: no transpose of the data.
            out = { name: flatten(graph, x.name, layer.name), layout: 'flat', chwOf: x.hwc };
          else out = { name: flatten(graph, toLayout(x, 'nhwc').name, layer.name), layout: 'flat' };
          break;
        }
        case 'Add': {
          const target: Layout = ins.some((v) => v.layout === 'nchw') ? 'nchw' : ins[0].layout;
          const xs = ins.map((v) => (target === 'flat' ? v : toLayout(v, target)));
          if (target === 'flat' && xs.some((v) => JSON.stringify(v.chwOf) !== JSON.stringify(xs[0].chwOf)))
            throw new UnsupportedModelError('adding flattened tensors of different element orders');
          let sum = xs[0].name;
          for (let i = 1; i < xs.length; i++)
            sum = graph.node(
              'Add',
              [sum, xs[i].name],
              {},
              i === xs.length - 1 ? layer.name : `${layer.name}_${i}`,
            );
          out = { ...xs[0], name: sum };
          break;
        }
        case 'Dropout':
        case 'SpatialDropout2D':
          out = ins[0];
          break;
        default:
          throw new UnsupportedModelError('this layer type has no ONNX translation in akd export');
      }
      values.set(layer.name, out);
    } catch (e) {
      if (e instanceof UnsupportedModelError && !e.message.startsWith('layer "'))
        throw new UnsupportedModelError(`${where}: ${e.message}`);
      throw e;
    }
  }

  const last = values.get(layers[layers.length - 1].name);
  const classes = (model.outputs[0].shape as (number | null)[]).at(-1) as number;
  if (!last || last.layout !== 'flat' || last.chwOf)
    throw new UnsupportedModelError('the model must end in a dense layer that outputs [N, classes] logits');
  graph.rename(last.name, OUTPUT_NAME);
  graph.output = floatValueInfo(OUTPUT_NAME, [BATCH_DIM, classes], `logits [N, ${classes}] (no softmax)`);
  return graph;
}

function inboundOf(layer: tf.layers.Layer): tf.layers.Layer[] {
  return layer.inboundNodes.flatMap((n) => n.inboundLayers);
}

function bnAxisIsChannels(layer: tf.layers.Layer): boolean {
  const axis = (layer.getConfig() as LayerConfig).axis ?? -1;
  const rank = (layer.outputShape as (number | null)[]).length;
  const a = Array.isArray(axis) ? axis : [axis];
  return a.length === 1 && (a[0] === -1 || a[0] === rank - 1);
}

/** Batchnorm at inference: y = x * scale + shift, per channel (computed in double precision). */
function batchNormAffine(
  layer: tf.layers.Layer,
  channels: number,
): { scale: Float32Array; shift: Float32Array } {
  const w = weightsOf(layer);
  const eps = (layer.getConfig() as LayerConfig).epsilon ?? 1e-3;
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    const gamma = w.gamma ? w.gamma.values[ch] : 1;
    const beta = w.beta ? w.beta.values[ch] : 0;
    const s = gamma / Math.sqrt(w.moving_variance.values[ch] + eps);
    scale[ch] = s;
    shift[ch] = beta - w.moving_mean.values[ch] * s;
  }
  return { scale, shift };
}

/** Folds batchnorm into weights laid out [out, ...] (scaled in place); returns the new bias. */
function foldBatchNorm(
  bn: tf.layers.Layer,
  weight: Float32Array,
  channels: number,
  bias: Float32Array | undefined,
): Float32Array {
  const { scale, shift } = batchNormAffine(bn, channels);
  const per = weight.length / channels;
  const out = new Float32Array(channels);
  for (let o = 0; o < channels; o++) {
    for (let k = 0; k < per; k++) weight[o * per + k] *= scale[o];
    out[o] = (bias ? bias[o] : 0) * scale[o] + shift[o];
  }
  return out;
}

/** For each TF input row of a dense layer, its position in the ONNX tensor. */
function rowOrder(x: Value, nin: number): Int32Array {
  const order = new Int32Array(nin);
  if (!x.chwOf) {
    for (let i = 0; i < nin; i++) order[i] = i;
    return order;
  }
  const [h, w, c] = x.chwOf;
  if (h * w * c !== nin) throw new Error(`internal: flattened ${h}x${w}x${c} feeds ${nin} rows`);
  for (let y = 0; y < h; y++)
    for (let xx = 0; xx < w; xx++)
      for (let ch = 0; ch < c; ch++) order[(y * w + xx) * c + ch] = (ch * h + y) * w + xx;
  return order;
}

/** The activation as its own node, named after the layer (`own`: an Activation layer) or `<layer>_relu`. */
function activate(graph: Graph, x: string, activation: string, base: string, own = false): string {
  if (activation === 'linear') return x;
  if (activation === 'relu') return graph.node('Relu', [x], {}, own ? base : `${base}_relu`);
  throw new UnsupportedModelError(`activation "${activation}" (linear and relu are exported)`);
}

/** [N, ...] -> [N, rest], the batch kept symbolic. */
function flatten(graph: Graph, x: string, base: string): string {
  const shape = graph.constant(`${base}.shape`, BigInt64Array.from([0n, -1n]), [2]);
  return graph.node('Reshape', [x, shape], {}, base);
}

/** pixels -> (pixels / 255 - mean) / std, per channel, exactly as runner/data does in float32. */
function normalize(graph: Graph, opts: ConvertOptions): Value {
  const { mean, std } = opts.normalization;
  const c = opts.inputShape[2];
  let x = graph.node(
    'Div',
    [INPUT_NAME, graph.constant('pixel_scale', Float32Array.of(255), [])],
    {},
    'scaled',
  );
  if (mean.some((m) => m !== 0))
    x = graph.node('Sub', [x, graph.constant('pixel_mean', Float32Array.from(mean), [c])], {}, 'centered');
  if (std.some((s) => s !== 1))
    x = graph.node('Div', [x, graph.constant('pixel_std', Float32Array.from(std), [c])], {}, 'normalized');
  return { name: x, layout: 'nhwc', hwc: opts.inputShape };
}
