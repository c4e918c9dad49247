/**
 * `akd export`: what it writes into a run's summary.json (`exports`) and the stream
 * `akd export --json` writes to stdout, one JSON object per line (the extension shows it as
 * progress, then the result). No TensorFlow or ONNX Runtime import here.
 */
import { PROTOCOL_VERSION } from './events';

export type ExportModelRole = 'student' | 'teacher';
export type ExportPrecision = 'fp32' | 'int8';

/** How an exported file was checked in ONNX Runtime against the run's TF.js model. */
export interface ExportVerification {
  /** e.g. "onnxruntime-node 1.31.1 (CPU)". */
  runtime: string;
  /** Test images the file classified in the runtime (the run's test split, raw pixels). */
  testSamples: number;
  /** Its test accuracy there (fraction). */
  testAccuracy: number;
  /** The run's TF.js test accuracy of the same model (fraction). */
  referenceAccuracy: number;
  /** testAccuracy - referenceAccuracy, in percentage points. */
  accuracyDeltaPoints: number;
  /** Images whose logits were compared with TF.js's. */
  logitSamples: number;
  /** Largest |runtime logit - TF.js logit| over those images. */
  maxLogitDiff: number;
  /** maxLogitDiff / the largest |TF.js logit| (fp32 must stay within 1e-4). */
  maxLogitDiffRelative: number;
  /** Every check passed (the file is written only then). */
  passed: boolean;
  /** What was checked, with the limits, e.g. "accuracy within 0.1 point of TF.js: 91.05% vs 91.05%". */
  checks: string[];
}

/** One exported file, in summary.json `exports` (the newest export of a path replaces older ones). */
export interface ExportRecord {
  /** Relative to the run folder when inside it, else absolute. */
  file: string;
  format: 'onnx';
  model: ExportModelRole;
  precision: ExportPrecision;
  bytes: number;
  /** ONNX opset of the file. */
  opset: number;
  /** The graph's input and output: raw pixels in, logits out. */
  input: {
    name: string;
    shape: (number | string)[];
    layout: 'NHWC';
    dtype: 'float32';
    range: [number, number];
  };
  output: { name: string; shape: (number | string)[] };
  exportedAt: string;
  /** Wall time of the export, verification included. */
  seconds: number;
  verification: ExportVerification;
  /** int8 only: how it was quantized and what it cost against the fp32 export. */
  quantization?: {
    calibrationSamples: number;
    /** Size of the fp32 file of the same model, and this file's fraction of it. */
    fp32Bytes: number;
    sizeRatio: number;
    fp32TestAccuracy: number;
    /** fp32 test accuracy - int8 test accuracy, in percentage points. */
    accuracyDropPoints: number;
  };
}

export type ExportStep = 'load' | 'convert' | 'verify' | 'calibrate' | 'quantize' | 'write';

interface ExportEventBase {
  v: typeof PROTOCOL_VERSION;
  time: string;
}

export interface ExportProgressEvent extends ExportEventBase {
  type: 'export-progress';
  step: ExportStep;
  message: string;
}

export interface ExportCompletedEvent extends ExportEventBase {
  type: 'export-completed';
  runDir: string;
  record: ExportRecord;
}

export interface ExportFailedEvent extends ExportEventBase {
  type: 'export-failed';
  runDir: string;
  /** One line: what failed and why (a failed verification lists the checks that failed). */
  error: string;
  /** Present when the failure was a verification: the measurements. */
  verification?: ExportVerification;
}

export type ExportEvent = ExportProgressEvent | ExportCompletedEvent | ExportFailedEvent;

/** The value as an export event, or undefined (e.g. a run event read by the same parser). */
export function asExportEvent(value: unknown): ExportEvent | undefined {
  const v = value as { v?: unknown; type?: unknown } | null;
  return typeof v === 'object' &&
    v !== null &&
    v.v === PROTOCOL_VERSION &&
    (v.type === 'export-progress' || v.type === 'export-completed' || v.type === 'export-failed')
    ? (v as ExportEvent)
    : undefined;
}

/** Parse one line of `akd export --json`; undefined for anything else. */
export function parseExportEventLine(line: string): ExportEvent | undefined {
  const text = line.trim();
  if (!text) return undefined;
  try {
    return asExportEvent(JSON.parse(text));
  } catch {
    return undefined; // not one of ours
  }
}
