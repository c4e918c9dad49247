/**
 * `akd export RUN [--format onnx] [--quantize int8] [--model student|teacher] [--out FILE] [--json]`:
 * the run's student (or teacher) as an ONNX file, verified in ONNX Runtime before it is reported
 * done. The work is in runner/export/; this file parses the flags and prints.
 */
import * as path from 'node:path';
import { PROTOCOL_VERSION } from '../../protocol/events';
import type { ExportEvent, ExportModelRole, ExportRecord } from '../../protocol/exportEvents';
import { EXIT } from '../../protocol/exitCodes';
import { UsageError, findRunDir, flagString, type ParsedArgs } from '../args';

type ExportPayload = ExportEvent extends infer E
  ? E extends ExportEvent
    ? Omit<E, 'v' | 'time'>
    : never
  : never;

const kB = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`;
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** The human summary of a finished export (also what the tests read). */
export function describeExport(r: ExportRecord, runDir: string): string {
  const v = r.verification;
  const file = path.isAbsolute(r.file) ? r.file : path.join(runDir, r.file);
  const lines = [
    `wrote ${file}: ${kB(r.bytes)}, ${r.precision}` +
      (r.quantization
        ? ` (${r.quantization.sizeRatio.toFixed(2)}x the fp32 export's ${kB(r.quantization.fp32Bytes)})`
        : ''),
    `  input "${r.input.name}" float32 [${r.input.shape.join(', ')}] NHWC, raw pixels 0..255; output "${r.output.name}" [${r.output.shape.join(', ')}] logits`,
    r.quantization
      ? `  test accuracy ${pct(v.testAccuracy)} int8 vs ${pct(r.quantization.fp32TestAccuracy)} fp32 (${r.quantization.accuracyDropPoints >= 0 ? '-' : '+'}${Math.abs(r.quantization.accuracyDropPoints).toFixed(2)} points; TF.js ${pct(v.referenceAccuracy)}) on ${v.testSamples} test images in ${v.runtime}`
      : `  test accuracy ${pct(v.testAccuracy)} (TF.js ${pct(v.referenceAccuracy)}) on ${v.testSamples} test images in ${v.runtime}`,
    ...v.checks.map((c) => `  ${c}`),
    `  ${r.seconds.toFixed(1)} s`,
  ];
  return lines.join('\n');
}

export async function cmdExport(args: ParsedArgs): Promise<number> {
  const ref = args.positional[0];
  if (!ref) throw new UsageError('akd export needs a RUN folder or id');
  const format = flagString(args, 'format') ?? 'onnx';
  if (format !== 'onnx') throw new UsageError(`--format must be onnx, got "${format}"`);
  const quantize = flagString(args, 'quantize');
  if (quantize !== undefined && quantize !== 'int8')
    throw new UsageError(`--quantize must be int8, got "${quantize}"`);
  const model = flagString(args, 'model') ?? 'student';
  if (model !== 'student' && model !== 'teacher')
    throw new UsageError(`--model must be student or teacher, got "${model}"`);
  const maxDrop = flagString(args, 'max-drop');
  if (maxDrop !== undefined && !(Number(maxDrop) >= 0))
    throw new UsageError(`--max-drop must be a number of points >= 0, got "${maxDrop}"`);
  const calibration = flagString(args, 'calibration-images');
  if (calibration !== undefined && !(Number.isInteger(Number(calibration)) && Number(calibration) >= 1))
    throw new UsageError(`--calibration-images must be a positive integer, got "${calibration}"`);
  const json = args.flags.has('json');
  const runDir = findRunDir(ref);
  const out = flagString(args, 'out');

  const emit = (e: ExportPayload): void => {
    if (json)
      process.stdout.write(
        JSON.stringify({ v: PROTOCOL_VERSION, time: new Date().toISOString(), ...e }) + '\n',
      );
  };
  const { exportRun, ExportError } = await import('../../export/exportRun');
  try {
    const record = await exportRun({
      runDir,
      model: model as ExportModelRole,
      quantize: quantize as 'int8' | undefined,
      ...(out ? { out } : {}),
      ...(maxDrop !== undefined ? { maxDropPoints: Number(maxDrop) } : {}),
      ...(calibration !== undefined ? { calibrationSamples: Number(calibration) } : {}),
      onProgress: (step, message) => {
        emit({ type: 'export-progress', step, message });
        if (!json) process.stderr.write(`[${step}] ${message}\n`);
      },
    });
    emit({ type: 'export-completed', runDir, record });
    if (!json) process.stdout.write(describeExport(record, runDir) + '\n');
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof ExportError)) throw e;
    emit({
      type: 'export-failed',
      runDir,
      error: e.message,
      ...(e.verification ? { verification: e.verification } : {}),
    });
    process.stderr.write(`akd export: ${e.message}\n`);
    // Nothing to export (no student, an unsupported layer): 2; a conversion that failed its checks: 1.
    return e.verification ? EXIT.failed : EXIT.invalid;
  }
}
