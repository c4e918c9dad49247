/**
 * Saving and loading TF.js layers models as `model.json` + `weights.bin` with plain fs, so it works
 * on every backend (the `file://` handler exists only with tfjs-node). Saves go to a temporary
 * folder that is renamed into place: a crash never leaves a half-written checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** A tensor with its name, as optimizers' getWeights()/setWeights() use them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** Write `dir` atomically: build it under a temp name, then swap it in. */
export function writeDirAtomic(dir: string, files: Record<string, string | Uint8Array>): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), data);
  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

function concatWeightData(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out;
}

export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  extraFiles: Record<string, string | Uint8Array> = {},
): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeDirAtomic(dir, {
        'model.json': JSON.stringify(json),
        'weights.bin': concatWeightData(artifacts.weightData ?? new ArrayBuffer(0)),
        ...extraFiles,
      });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** Load a layers model from `model.json` (ours, or a converted Keras model with several shards). */
export async function loadModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const dir = path.dirname(modelJsonPath);
  let json: ModelJson;
  try {
    json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8')) as ModelJson;
  } catch (e) {
    throw new Error(`${modelJsonPath}: cannot read the model: ${(e as Error).message}`, { cause: e });
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(
      `${modelJsonPath}: not a TF.js layers model (needs "modelTopology" and "weightsManifest")`,
    );
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) throw new Error(`${modelJsonPath}: weights file ${p} is missing`);
      buffers.push(fs.readFileSync(file));
    }
  }
  const data = concatWeightData(
    buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer),
  );
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData: data.buffer as ArrayBuffer,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy ?? undefined,
    }),
  );
}

/** Serialize named tensors (optimizer state) as a JSON manifest + one binary blob. */
export async function encodeTensors(named: NamedTensor[]): Promise<{ manifest: string; data: Uint8Array }> {
  const { data, specs } = await tf.io.encodeWeights(named);
  return { manifest: JSON.stringify(specs), data: new Uint8Array(data) };
}

export function decodeTensors(manifest: string, data: Uint8Array): NamedTensor[] {
  const specs = JSON.parse(manifest) as tf.io.WeightsManifestEntry[];
  const buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const map = tf.io.decodeWeights(buf, specs);
  return specs.map((s) => ({ name: s.name, tensor: map[s.name] }));
}
