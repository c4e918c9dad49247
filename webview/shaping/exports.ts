/**
 * The exported files of a run for the dashboard's summary: summary.json's `exports` and the
 * `exported` events appended after it (an export made while the dashboard is open), newest record
 * of each file last. Pure: tested in node.
 */
import type { ExportRecord, RunEvent, RunSummary } from '../../runner/protocol/events';

export function exportsOf(events: readonly RunEvent[], summary: RunSummary | undefined): ExportRecord[] {
  const byFile = new Map<string, ExportRecord>();
  for (const r of summary?.exports ?? []) byFile.set(r.file, r);
  for (const e of events) {
    if (e.type !== 'exported') continue;
    byFile.delete(e.record.file);
    byFile.set(e.record.file, e.record);
  }
  return [...byFile.values()];
}

/** One line per file: "student.int8.onnx · 29.2 kB · int8 (0.28× fp32) · test 91.10% (fp32 91.10%)". */
export function exportLine(r: ExportRecord): string {
  const name = r.file.split(/[\\/]/).pop() ?? r.file;
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  const v = r.verification;
  const q = r.quantization;
  return [
    name,
    `${(r.bytes / 1000).toFixed(1)} kB`,
    q ? `int8 (${q.sizeRatio.toFixed(2)}× fp32)` : r.precision,
    `test ${pct(v.testAccuracy)} (${q ? `fp32 ${pct(q.fp32TestAccuracy)}` : `TF.js ${pct(v.referenceAccuracy)}`})`,
    r.model === 'teacher' ? 'teacher' : '',
  ]
    .filter(Boolean)
    .join(' · ');
}
