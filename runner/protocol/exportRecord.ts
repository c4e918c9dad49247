/**
 * What `akd export` records of a file it wrote: in the run's summary.json (`exports`), in its
 * `exported` event, and in `akd export --json`'s result. Types only.
 */
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
