/**
 * Saving and loading TF.js layers models as `model.json` + `weights.bin` with plain fs, so it works
 * on every backend (the `file://` handler exists only with tfjs-node). Saves go to a temporary
 * folder that is renamed into place: a crash never leaves a half-written checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CHECKSUMS_FILE, checksumsOf, previousDirOf, verifyChecksums } from './checkpoint';
import { faultPoint } from './faultPoints';
import { storeWriteError } from './storeErrors';
import { NotAFileError, openRegularFile, readRegularText } from '../data/fileAccess';

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

/** Write a whole file through an fd and flush it to the disk (a checkpoint must survive more than a kill). */
function writeFileDurably(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write `dir` atomically: build it under a temp name (its checksums.json last, so a temp folder
 * with a valid one is complete), then swap it in. checkpoints/latest keeps the folder it replaces
 * as checkpoints/previous. A kill at any point leaves what checkpoint.ts recoverAtomicDir resolves.
 */
export function writeDirAtomic(dir: string, files: Record<string, string | Uint8Array>): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  const sums = checksumsOf(files);
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    for (const [name, data] of Object.entries(files)) writeFileDurably(path.join(tmp, name), data);
    writeFileDurably(path.join(tmp, CHECKSUMS_FILE), sums);
  } catch (e) {
    // A full disk (or no permission): the half-built folder goes, the current one stays as it was.
    removeQuietly(tmp);
    const bytes = Object.values(files).reduce(
      (n, d) => n + (typeof d === 'string' ? Buffer.byteLength(d) : d.byteLength),
      sums.length,
    );
    throw storeWriteError(e, dir, bytes);
  }
  try {
    swapIn(dir, tmp);
  } catch (e) {
    removeQuietly(tmp);
    throw storeWriteError(e, dir);
  }
}

function removeQuietly(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // A folder that became read-only keeps it: the next resume removes it (checkpoint.ts).
  }
}

function swapIn(dir: string, tmp: string): void {
  const old = `${dir}.old-${process.pid}`;
  const replacing = fs.existsSync(dir);
  if (replacing) fs.renameSync(dir, old);
  faultPoint('checkpoint-swap');
  try {
    fs.renameSync(tmp, dir);
  } catch (e) {
    if (replacing) fs.renameSync(old, dir); // the current one goes back: never no checkpoint at all
    throw e;
  }
  const previous = previousDirOf(dir);
  if (previous && replacing) {
    fs.rmSync(previous, { recursive: true, force: true });
    fs.renameSync(old, previous);
  } else {
    fs.rmSync(old, { recursive: true, force: true });
  }
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

/** model.json of a converted Keras model can be large, never unbounded (nor a FIFO or a device). */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };

/** The first non-finite float32 weight in the concatenated weight data, as "name (k of n values)". */
function nonFiniteWeight(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): string | undefined {
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const per = DTYPE_BYTES[spec.dtype ?? 'float32'];
    if (spec.quantization || per === undefined) return undefined; // sizes unknown from here on
    if ((spec.dtype ?? 'float32') === 'float32') {
      const bytes = data.slice(offset, offset + count * 4);
      const values = new Float32Array(bytes);
      let bad = 0;
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
      if (bad > 0)
        return `${spec.name} (${bad.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} values)`;
    }
    offset += count * per;
  }
  return undefined;
}

/** Bytes the manifest's weights need, or undefined when it cannot tell (quantized weights). */
function manifestBytes(specs: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const s of specs) {
    const per = DTYPE_BYTES[s.dtype ?? 'float32'];
    if (s.quantization || per === undefined) return undefined;
    total += per * s.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/**
 * Load a layers model from `model.json` (ours, or a converted Keras model with several shards).
 * Every problem is an error naming the file: not a model, weights truncated, changed since they
 * were written (checksums.json), or holding NaN/Infinity.
 */
export async function loadModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const dir = path.dirname(modelJsonPath);
  let json: ModelJson;
  try {
    json = JSON.parse(readRegularText(modelJsonPath, MAX_MODEL_JSON_BYTES)) as ModelJson;
  } catch (e) {
    if (e instanceof NotAFileError) throw new Error(e.message, { cause: e });
    throw new Error(`${modelJsonPath}: cannot read the model: ${(e as Error).message}`, { cause: e });
  }
  const topology = json?.modelTopology as { class_name?: unknown; model_config?: { class_name?: unknown } };
  if (
    !json ||
    !topology ||
    typeof topology !== 'object' ||
    !Array.isArray(json.weightsManifest) ||
    (typeof topology.class_name !== 'string' && typeof topology.model_config?.class_name !== 'string')
  ) {
    throw new Error(
      `${modelJsonPath}: not a TF.js layers model (it needs "modelTopology" holding a Keras model, and "weightsManifest")`,
    );
  }
  const damaged = verifyChecksums(dir, [
    path.basename(modelJsonPath),
    ...json.weightsManifest.flatMap((g) => g.paths),
  ]);
  if (damaged) throw new Error(damaged);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  const files: string[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.join(dir, p);
      files.push(file);
      if (!fs.existsSync(file)) throw new Error(`${modelJsonPath}: weights file ${p} is missing`);
      const { fd, size } = openRegularFile(file);
      try {
        const buf = Buffer.alloc(size);
        let done = 0;
        while (done < size) {
          const n = fs.readSync(fd, buf, done, size - done, done);
          if (n === 0) break;
          done += n;
        }
        buffers.push(buf.subarray(0, done));
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  const data = concatWeightData(
    buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer),
  );
  const need = manifestBytes(specs);
  if (need !== undefined && need !== data.byteLength) {
    throw new Error(
      `${files.join(', ')}: ${data.byteLength.toLocaleString('en-US')} bytes of weights, ${path.basename(modelJsonPath)} lists ${need.toLocaleString('en-US')}: ${data.byteLength < need ? 'truncated' : 'not the weights of this model'}`,
    );
  }
  const bad = nonFiniteWeight(specs, data.buffer as ArrayBuffer);
  if (bad) throw new Error(`${files.join(', ')}: weight ${bad} are NaN or infinite: the file is damaged`);
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: data.buffer as ArrayBuffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
      }),
    );
  } catch (e) {
    throw new Error(`${modelJsonPath}: not a usable TF.js layers model: ${(e as Error).message}`, {
      cause: e,
    });
  }
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
