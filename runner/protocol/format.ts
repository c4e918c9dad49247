/**
 * How numbers and events read as text, the same everywhere: `akd`'s output, a Slurm job's log,
 * the editor's Show Run Log, the dashboard. Pure (no I/O), so the webview imports it too.
 */
import { REFERENCE_PROTOCOL_LABEL, type RunEvent } from './events';
import type { SweepEvent } from './sweepEvents';

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** A fraction as percent digits, for cells whose header says %: 0.92514 -> "92.51"; `missing` when not a number. */
export function pct(x: number | null | undefined, digits = 2, missing = '–'): string {
  return finite(x) ? (x * 100).toFixed(digits) : missing;
}

/** A fraction as a percentage: 0.92514 -> "92.51%"; `missing` when not a number. */
export function percent(x: number | null | undefined, digits = 2, missing = '–'): string {
  return finite(x) ? `${pct(x, digits)}%` : missing;
}

/** 12345 -> "12.3k", 1234567 -> "1.23M". */
export function compactCount(n: number | null | undefined): string {
  if (!finite(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return String(n);
}

/** Quote a CSV field when it needs it (RFC 4180). */
export function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The time of day in a run or sweep id: "20261128-081502-tiny" -> "08:15:02" (the id itself otherwise). */
export function timeOfRunId(runId: string): string {
  const m = /^\d{8}-(\d{2})(\d{2})(\d{2})/.exec(runId);
  return m ? `${m[1]}:${m[2]}:${m[3]}` : runId;
}

export interface DescribeOptions {
  /** Decimals of accuracies (default 2). */
  digits?: number;
  /** What a missing accuracy reads as (default "-"). */
  missing?: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const count = (n: number): string => n.toLocaleString('en-US');

/** One line per event, in words. */
export function describeEvent(e: RunEvent, options: DescribeOptions = {}): string {
  const acc = (x: number | null | undefined): string =>
    percent(x, options.digits ?? 2, options.missing ?? '-');
  switch (e.type) {
    case 'run-started':
      return (
        `started run ${e.runId}: ${e.config.method.type}, teacher ${e.teacher.type} (${count(e.teacher.params)} params) -> ` +
        `student ${e.student.type} (${count(e.student.params)} params); data ${e.data.train}/${e.data.validation}/${e.data.test} ` +
        `train/val/test; backend ${e.backend}; pid ${e.pid}` +
        `${e.resumedFrom ? `; resumed at ${e.resumedFrom.phase} epoch ${e.resumedFrom.epoch + 1}` : ''}` +
        (e.teacherTargets === 'per-batch' ? '; teacher targets per augmented batch' : '') +
        (e.protocol === 'reference' ? `; ${REFERENCE_PROTOCOL_LABEL}` : '')
      );
    case 'phase-started':
      return e.phase === 'anneal'
        ? `[anneal] T=${e.temperature} Phi=${e.phi?.toFixed(2)} (step ${(e.step ?? 0) + 1}/${e.steps}, ${plural(e.epochs, 'epoch')})`
        : `[${e.phase}] ${plural(e.epochs, 'epoch')}`;
    case 'epoch-ended':
      return (
        `[${e.phase}] epoch ${e.epoch}/${e.epochs}${e.temperature !== undefined ? ` T=${e.temperature}` : ''} loss ${e.loss.toFixed(4)} ` +
        `train ${acc(e.trainAccuracy)} ${e.testAccuracy !== undefined ? `test ${acc(e.testAccuracy)}` : `val ${acc(e.valAccuracy)}`} ` +
        `${Math.round(e.samplesPerSecond)} samples/s lr ${e.lr}` +
        (e.targetSeconds !== undefined ? ` (teacher targets ${e.targetSeconds.toFixed(1)} s)` : '')
      );
    case 'progress':
      return `[${e.phase}] epoch ${e.epoch}/${e.epochs} batch ${e.batch}/${e.batches} loss ${e.loss.toFixed(4)} ${Math.round(e.samplesPerSecond)} samples/s`;
    case 'checkpoint-saved':
      return `checkpoint (${e.reason}) ${e.model} -> ${e.path}`;
    case 'run-completed':
      return (
        `completed: student ${acc(e.summary.student.testAccuracy)} test accuracy, teacher ${acc(e.summary.teacher.testAccuracy)}; ` +
        `${e.summary.compression.toFixed(1)}x fewer parameters; ${e.summary.seconds.toFixed(0)} s` +
        (e.summary.protocol === 'reference'
          ? `; ${REFERENCE_PROTOCOL_LABEL} (last epoch ${acc(e.summary.student.finalTestAccuracy)})`
          : '')
      );
    case 'run-failed':
      return `failed: ${e.error.message}`;
    case 'run-cancelled':
      return `cancelled (${e.signal})${e.position ? ` at ${e.position.phase} epoch ${e.position.epoch + 1}, batch ${e.position.batch}; akd resume continues from there` : ''}`;
    case 'log':
      return `${e.level === 'info' ? '' : `${e.level}: `}${e.message}`;
    case 'job-submitted':
      return `submitted Slurm job ${e.jobId}${e.resume ? ' (resume)' : ''}${e.dependsOn?.length ? ` (after job ${e.dependsOn.join(', ')})` : ''}; output ${e.output}`;
    case 'job-state':
      return e.final
        ? `Slurm job ${e.jobId}: ${e.state}${e.reason ? ` (${e.reason})` : ''}${e.exitCode ? `, exit code ${e.exitCode}` : ''}`
        : `Slurm job ${e.jobId}: ${e.state}${e.reason ? ` (${e.reason})` : ''}${e.node ? ` on ${e.node}` : ''}`;
    case 'exported':
      return (
        `exported the ${e.record.model} -> ${e.record.file}: ${(e.record.bytes / 1000).toFixed(1)} kB ${e.record.precision}, ` +
        `test ${acc(e.record.verification.testAccuracy)} in ${e.record.verification.runtime}`
      );
  }
}

/** One line per sweep event, in words (a sweep's members each have their own run events). */
export function describeSweepEvent(e: SweepEvent): string {
  switch (e.type) {
    case 'sweep-started':
      return `sweep ${e.name}: ${e.members} members, ${e.toRun} to run, ${e.concurrency} at a time${e.resumed ? ' (resumed)' : ''}\n  folder ${e.sweepDir}`;
    case 'teacher-ready':
      return `teacher ${e.key} ready (${e.source === 'cache' ? 'from the cache' : 'just trained'}${e.fromRun ? ` by ${e.fromRun}` : ''})`;
    case 'member-started':
      return `start ${e.id}${e.resumed ? ' (resume)' : ''}${e.trainsTeacher ? ' (trains the shared teacher)' : ''}`;
    case 'member-ended':
      return `${e.id}: ${e.status}${e.status === 'completed' ? `, student ${percent(e.studentTestAccuracy, 2, '-')}` : ''}, ${e.seconds.toFixed(0)} s${e.error ? ` (${e.error.split('\n')[0]})` : ''}`;
    case 'sweep-log':
      return e.message;
    case 'sweep-ended':
      return `sweep ${e.status}: ${Object.entries(e.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')} in ${e.seconds.toFixed(0)} s`;
  }
}

/** Where human lines go: stderr, or anything that writes text. */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * The lines `akd` prints while a run trains (when it does not stream JSON): one per event but
 * checkpoints; progress only on a terminal, rewritten in place.
 */
export function humanReporter(out: TextSink): (e: RunEvent) => void {
  const tty = out.isTTY === true;
  let pending = false;
  return (e) => {
    if (e.type === 'checkpoint-saved') return;
    if (e.type === 'progress') {
      if (!tty) return;
      out.write(`\r${describeEvent(e)}\x1b[K`);
      pending = true;
      return;
    }
    if (pending) {
      out.write('\r\x1b[K');
      pending = false;
    }
    out.write(describeEvent(e) + '\n');
  };
}

/** The lines `akd sweep` prints (when it does not stream JSON): members indented, each end counted against `total`. */
export function humanSweepReporter(out: TextSink, total?: number): (e: SweepEvent) => void {
  let ended = 0;
  return (e) => {
    const line = describeSweepEvent(e);
    if (e.type === 'member-started') out.write(`  ${line}\n`);
    else if (e.type === 'member-ended')
      out.write(`  ${total !== undefined ? `[${++ended}/${total}] ` : ''}${line}\n`);
    else out.write(line + '\n');
  };
}

/** A note folded into one line for tables and tree items ("…" when cut). */
export function noteLine(note: string | undefined, max = 60): string {
  if (!note) return '';
  const one = note.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
