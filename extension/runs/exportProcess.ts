/**
 * Export Student's process: `akd export RUN --json` run through RunnerProcess, its progress and
 * result read from stdout (runner/protocol/exportEvents.ts). No vscode import: the command in
 * extension/commands/exportCommands.ts adapts it to a progress notification.
 */
import {
  asExportEvent,
  type ExportRecord,
  type ExportStep,
  type ExportVerification,
} from '../../runner/protocol';
import { RunnerProcess, type RunnerCommand } from './runnerProcess';

export interface ExportChoice {
  model?: 'student' | 'teacher';
  precision: 'fp32' | 'int8';
  /** The file to write; akd's default (RUN/export/...) when absent. */
  out?: string;
}

export type ExportOutcome =
  | { ok: true; record: ExportRecord }
  | { ok: false; error: string; verification?: ExportVerification; cancelled?: boolean };

/** The arguments of `akd export` for a choice. */
export function exportArgs(runDir: string, choice: ExportChoice): string[] {
  return [
    'export',
    runDir,
    '--json',
    ...(choice.model && choice.model !== 'student' ? ['--model', choice.model] : []),
    ...(choice.precision === 'int8' ? ['--quantize', 'int8'] : []),
    ...(choice.out ? ['--out', choice.out] : []),
  ];
}

export interface ExportRun {
  outcome: Promise<ExportOutcome>;
  /** Stop the export (SIGTERM): nothing is written, the outcome says cancelled. */
  cancel(): void;
}

/** Start `command` (an `akd export ... --json`); `onProgress` gets each step as it starts. */
export function startExport(
  command: RunnerCommand,
  onProgress: (step: ExportStep, message: string) => void,
  onLine: (line: string) => void = () => undefined,
): ExportRun {
  let result: ExportOutcome | undefined;
  let cancelled = false;
  const stderr: string[] = [];
  // RunnerProcess hands every {"v":1,"type":...} stdout line to onEvent: export events arrive there.
  const proc = new RunnerProcess(command, {
    onEvent: (event) => {
      const e = asExportEvent(event);
      if (!e) return;
      if (e.type === 'export-progress') onProgress(e.step, e.message);
      else if (e.type === 'export-completed') result = { ok: true, record: e.record };
      else
        result = { ok: false, error: e.error, ...(e.verification ? { verification: e.verification } : {}) };
    },
    onOutput: (line, stream) => {
      onLine(line);
      if (stream === 'stderr') stderr.push(line);
    },
  });
  const outcome = proc.exited.then((exit): ExportOutcome => {
    if (cancelled) return { ok: false, error: 'cancelled: nothing was written', cancelled: true };
    if (result) return result;
    // No result line: akd could not start or crashed; its last stderr lines say why.
    const why = stderr
      .filter((l) => l.trim())
      .slice(-3)
      .join(' ');
    return { ok: false, error: `akd export exited with code ${exit.code}${why ? `: ${why}` : ''}` };
  });
  return {
    outcome,
    cancel: () => {
      cancelled = true;
      void proc.stop(5000);
    },
  };
}
