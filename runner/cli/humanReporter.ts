/** The human progress lines `akd run` prints when it is not streaming JSON. */
import { REFERENCE_PROTOCOL_LABEL as REFERENCE_LABEL, type RunEvent } from '../protocol/events';

const pct = (x: number | null | undefined): string =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : `${(x * 100).toFixed(2)}%`;

export function describeEvent(e: RunEvent): string | undefined {
  switch (e.type) {
    case 'run-started':
      return (
        `Anneal KD run ${e.runId}: ${e.config.method.type}, teacher ${e.teacher.type} (${e.teacher.params.toLocaleString('en-US')} params) -> ` +
        `student ${e.student.type} (${e.student.params.toLocaleString('en-US')} params); data ${e.data.train}/${e.data.validation}/${e.data.test} ` +
        `train/val/test; backend ${e.backend}${e.resumedFrom ? `; resumed at ${e.resumedFrom.phase} epoch ${e.resumedFrom.epoch + 1}` : ''}` +
        (e.teacherTargets === 'per-batch' ? '; teacher targets per augmented batch' : '') +
        (e.protocol === 'reference' ? `; ${REFERENCE_LABEL}` : '')
      );
    case 'phase-started':
      return e.phase === 'anneal'
        ? `[anneal] T=${e.temperature} Phi=${e.phi?.toFixed(2)} (step ${(e.step ?? 0) + 1}/${e.steps}, ${e.epochs} epoch${e.epochs === 1 ? '' : 's'})`
        : `[${e.phase}] ${e.epochs} epoch${e.epochs === 1 ? '' : 's'}`;
    case 'epoch-ended':
      return (
        `[${e.phase}] epoch ${e.epoch}/${e.epochs}${e.temperature !== undefined ? ` T=${e.temperature}` : ''} loss ${e.loss.toFixed(4)} ` +
        `train ${pct(e.trainAccuracy)} ${e.testAccuracy !== undefined ? `test ${pct(e.testAccuracy)}` : `val ${pct(e.valAccuracy)}`} ` +
        `${Math.round(e.samplesPerSecond)} samples/s lr ${e.lr}` +
        (e.targetSeconds !== undefined ? ` (teacher targets ${e.targetSeconds.toFixed(1)} s)` : '')
      );
    case 'log':
      return `${e.level === 'info' ? '' : `${e.level}: `}${e.message}`;
    case 'run-completed':
      return (
        `completed: student ${pct(e.summary.student.testAccuracy)} test accuracy, teacher ${pct(e.summary.teacher.testAccuracy)}; ` +
        `${e.summary.compression.toFixed(1)}x fewer parameters; ${e.summary.seconds.toFixed(0)} s` +
        (e.summary.protocol === 'reference'
          ? `; ${REFERENCE_LABEL} (last epoch ${pct(e.summary.student.finalTestAccuracy ?? null)})`
          : '')
      );
    case 'run-failed':
      return `failed: ${e.error.message}`;
    case 'run-cancelled':
      return `cancelled (${e.signal})${e.position ? ` at ${e.position.phase} epoch ${e.position.epoch + 1}, batch ${e.position.batch}; akd resume continues from there` : ''}`;
    default:
      return undefined;
  }
}

/** Where the lines go: stderr, or anything that writes text. */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export function humanReporter(out: TextSink): (e: RunEvent) => void {
  const tty = out.isTTY === true;
  let pending = false;
  return (e) => {
    if (e.type === 'progress') {
      if (!tty) return;
      out.write(
        `\r[${e.phase}] epoch ${e.epoch}/${e.epochs} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)} ${Math.round(e.samplesPerSecond)} samples/s\x1b[K`,
      );
      pending = true;
      return;
    }
    const line = describeEvent(e);
    if (line === undefined) return;
    if (pending) {
      out.write('\r\x1b[K');
      pending = false;
    }
    out.write(line + '\n');
  };
}
