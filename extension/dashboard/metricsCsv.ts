/**
 * A run's metrics as CSV (Export CSV): one row per epoch over all phases, in the order the charts
 * show them (the dashboard's own series). Pure; quoting is `akd compare`'s own (RFC 4180).
 */
import { csvField, RunSeries, type RunEvent } from '../../runner/protocol';

export const METRICS_CSV_COLUMNS = [
  'x',
  'phase',
  'epoch',
  'epochs',
  'temperature',
  'phi',
  'loss',
  'train_accuracy',
  'val_accuracy',
  'samples_per_second',
  'lr',
  'epoch_seconds',
  'elapsed_seconds',
] as const;

const num = (x: number | null | undefined): string =>
  typeof x === 'number' && Number.isFinite(x) ? String(x) : '';

export function metricsCsv(events: readonly RunEvent[]): string {
  const series = new RunSeries(events);
  const lines = [METRICS_CSV_COLUMNS.join(',')];
  for (const p of series.points) {
    lines.push(
      [
        String(p.x),
        p.phase,
        String(p.epoch),
        String(p.epochs),
        num(p.temperature),
        num(p.phi),
        num(p.loss),
        num(p.trainAccuracy),
        num(p.valAccuracy),
        num(p.samplesPerSecond),
        num(p.lr),
        num(p.seconds),
        p.t.toFixed(3),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}
