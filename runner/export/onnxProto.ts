/**
 * ONNX files through protobufjs and ONNX's own schema (`onnx.proto3`, copied unchanged from
 * ONNX v1.20.0, Apache-2.0): the encoder is protobufjs's, never ours. The interfaces below type the
 * part of the schema the exporter writes (protobufjs's camelCase field names), so a misspelt
 * field fails to compile instead of being dropped silently.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

/** TensorProto.DataType values the exporter uses. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values the exporter uses. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian values, the layout ONNX specifies for raw_data. */
  rawData: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
}

export type Dimension = { dimValue: number } | { dimParam: string };

export interface ValueInfoProto {
  name: string;
  docString?: string;
  /** Intermediate outputs (calibration) may leave the shape unknown. */
  type: { tensorType: { elemType: number; shape?: { dim: Dimension[] } } };
}

export interface GraphProto {
  name: string;
  docString?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
}

const SCHEMA_FILE = 'onnx.proto3';
let modelType: protobuf.Type | undefined;

/** The schema is read from the source folder (tsc does not copy it): out/runner/export -> runner/export. */
function schemaPath(): string {
  const candidates = [
    path.join(__dirname, SCHEMA_FILE),
    path.join(__dirname, '..', '..', '..', 'runner', 'export', SCHEMA_FILE),
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found)
    throw new Error(`the ONNX schema ${SCHEMA_FILE} is missing (looked in ${candidates.join(', ')})`);
  return found;
}

function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.loadSync(schemaPath()).lookupType('onnx.ModelProto');
  return modelType;
}

/** Serialize a model; protobufjs checks every field against the schema first. */
export function encodeModel(model: ModelProto): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new Error(`internal: the ONNX model does not match the schema: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Parse an ONNX file's bytes (tests, and reading an exported file's metadata). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const type = modelProtoType();
  return type.toObject(type.decode(bytes), {
    longs: Number,
    enums: Number,
    defaults: true,
    arrays: true,
  }) as ModelProto;
}

const littleEndian = os.endianness() === 'LE';

/** The little-endian bytes of a typed array (a copy, so later changes to the array do not leak in). */
export function leBytes(
  values: Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array,
): Uint8Array {
  const bytes = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (littleEndian || values.BYTES_PER_ELEMENT === 1) return bytes;
  const width = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  return bytes;
}

/** Values of a raw-data tensor (tests and the quantizer read initializers back). */
export function tensorValues(
  t: TensorProto,
): Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array {
  const raw = t.rawData;
  const copy = (): ArrayBuffer => {
    const b = new Uint8Array(raw.length);
    b.set(raw);
    if (!littleEndian) {
      const width =
        t.dataType === DataType.INT64
          ? 8
          : t.dataType === DataType.INT8 || t.dataType === DataType.UINT8
            ? 1
            : 4;
      for (let i = 0; i < b.length; i += width) b.subarray(i, i + width).reverse();
    }
    return b.buffer;
  };
  switch (t.dataType) {
    case DataType.FLOAT:
      return new Float32Array(copy());
    case DataType.INT32:
      return new Int32Array(copy());
    case DataType.INT8:
      return new Int8Array(copy());
    case DataType.UINT8:
      return new Uint8Array(copy());
    case DataType.INT64:
      return new BigInt64Array(copy());
    default:
      throw new Error(`tensor ${t.name}: data type ${t.dataType} is not read by the exporter`);
  }
}
