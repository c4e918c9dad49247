/**
 * `akd export`: what it writes into a run's summary.json (`exports`) and the stream
 * `akd export --json` writes to stdout, one JSON object per line (the extension shows it as
 * progress, then the result). No TensorFlow or ONNX Runtime import here.
 */
import { PROTOCOL_VERSION } from './events';
import type { ExportRecord, ExportVerification } from './exportRecord';

export type * from './exportRecord';

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
