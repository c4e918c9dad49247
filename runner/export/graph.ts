/**
 * A small in-memory ONNX graph: nodes in topological order, initializers, one input and one
 * output. The converter builds it, the quantizer rewrites it, `toModel` turns it into a
 * ModelProto. Names are unique by construction.
 */
import {
  AttributeType,
  DataType,
  leBytes,
  type AttributeProto,
  type Dimension,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnxProto';

/** The operator set the exported files declare: per-axis QuantizeLinear/DequantizeLinear need 13. */
export const OPSET = 13;
/** IR version 8 (ONNX 1.10): what ONNX Runtime >= 1.10 and most edge runtimes read. */
export const IR_VERSION = 8;

export type Attr = number | number[] | string | { floats: number[] } | { float: number };

function attribute(name: string, value: Attr): AttributeProto {
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

export class Graph {
  nodes: NodeProto[] = [];
  readonly initializers = new Map<string, TensorProto>();
  private readonly used = new Set<string>();
  private readonly sharedConstants = new Map<string, string>();

  constructor(
    readonly input: ValueInfoProto,
    public output?: ValueInfoProto,
  ) {
    this.used.add(input.name);
  }

  /** A name not used yet, from `base`. */
  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let name = clean;
    for (let k = 2; this.used.has(name); k++) name = `${clean}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Add an initializer; returns its name. */
  constant(
    base: string,
    values: Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array,
    dims: number[],
  ): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== values.length)
      throw new Error(`internal: constant ${base} has ${values.length} values for dims [${dims.join(', ')}]`);
    const name = this.fresh(base);
    this.initializers.set(name, { name, dims, dataType: dataTypeOf(values), rawData: leBytes(values) });
    return name;
  }

  /**
   * A small constant shared by every node that needs the same values (zero points): one
   * initializer instead of one per tensor. `name` is used when it is first created.
   */
  shared(name: string, values: Uint8Array | Int8Array | Int32Array, dims: number[]): string {
    const key = `${values.constructor.name}[${dims.join(',')}]:${values.join(',')}`;
    let found = this.sharedConstants.get(key);
    if (!found) {
      found = this.constant(name, values, dims);
      this.sharedConstants.set(key, found);
    }
    return found;
  }

  /** Append a node with one output; returns the output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, base?: string): string {
    const n = this.makeNode(opType, inputs, attrs, base);
    this.nodes.push(n);
    return n.output[0];
  }

  /**
   * A node with one fresh output, not placed in the graph yet (the quantizer places its own, and
   * leaves its QuantizeLinear/DequantizeLinear nodes unnamed: node names are optional in ONNX and
   * would be a good part of a small int8 file).
   */
  makeNode(
    opType: string,
    inputs: string[],
    attrs: Record<string, Attr> = {},
    base?: string,
    named = true,
  ): NodeProto {
    const output = this.fresh(base ?? opType.toLowerCase());
    return {
      name: named ? output : '',
      opType,
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    };
  }

  /** Rename a tensor everywhere (e.g. the last node's output becomes "logits"). */
  rename(from: string, to: string): void {
    if (from === to) return;
    // Whatever already has the name moves aside first.
    if (this.used.has(to)) this.rename(to, this.fresh(to));
    this.used.add(to);
    for (const n of this.nodes) {
      n.input = n.input.map((x) => (x === from ? to : x));
      n.output = n.output.map((x) => (x === from ? to : x));
      if (n.name === from) n.name = to;
    }
  }

  /** The node producing a tensor, if any (graph inputs and initializers have none). */
  producer(tensor: string): NodeProto | undefined {
    return this.nodes.find((n) => n.output.includes(tensor));
  }

  consumers(tensor: string): NodeProto[] {
    return this.nodes.filter((n) => n.input.includes(tensor));
  }

  toModel(opts: {
    name: string;
    docString: string;
    metadata: Record<string, string>;
    producerVersion: string;
  }): ModelProto {
    if (!this.output) throw new Error('internal: the graph has no output');
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'anneal-kd',
      producerVersion: opts.producerVersion,
      docString: opts.docString,
      graph: {
        name: opts.name,
        node: this.nodes,
        initializer: [...this.initializers.values()],
        input: [this.input],
        output: [this.output],
      },
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
    };
  }
}

function dataTypeOf(values: Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array): number {
  if (values instanceof Float32Array) return DataType.FLOAT;
  if (values instanceof Int32Array) return DataType.INT32;
  if (values instanceof Int8Array) return DataType.INT8;
  if (values instanceof Uint8Array) return DataType.UINT8;
  return DataType.INT64;
}

/** A float tensor's ValueInfo; `dims` entries that are strings are symbolic (the batch). */
export function floatValueInfo(name: string, dims?: (number | string)[], docString?: string): ValueInfoProto {
  const dim: Dimension[] | undefined = dims?.map((d) =>
    typeof d === 'string' ? { dimParam: d } : { dimValue: d },
  );
  return {
    name,
    ...(docString ? { docString } : {}),
    type: { tensorType: { elemType: DataType.FLOAT, ...(dim ? { shape: { dim } } : {}) } },
  };
}
