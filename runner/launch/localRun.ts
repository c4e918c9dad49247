/**
 * The local launcher: one session of a run trained in this process (`akd run`, `akd resume`, a
 * sweep's `akd run-member`). Its events go to events.jsonl and to stdout (--json) or as lines to
 * stderr; SIGINT/SIGTERM stop it at the next batch boundary with a checkpoint.
 */
import * as path from 'node:path';
import type { ExperimentConfig } from '../protocol/configTypes';
import { EXIT, exitCodeForSignal } from '../protocol/exitCodes';
import { RUN_FILES } from '../protocol/files';
import { humanReporter } from '../protocol/format';
import { EventLog } from '../store/eventLog';
import type { CancelToken } from '../training/phaseTrainer';
import { surviveClosedPipes, writeIfOpen } from './detachableOutput';
import { installSignalHandlers } from './signals';

export interface LocalRunOptions {
  config: ExperimentConfig;
  configPath: string;
  runId: string;
  runDir: string;
  /** Stream the events to stdout as JSON lines (what the extension reads) instead of human lines. */
  json: boolean;
  /** Continue from the run's checkpoint. */
  resume: boolean;
  /** `--set` values (a fresh run; a resumed one finds them in its events). */
  overrides?: Record<string, unknown>;
}

function attachOutput(log: EventLog, json: boolean): void {
  surviveClosedPipes();
  if (json) log.onEvent((e) => writeIfOpen(process.stdout, JSON.stringify(e) + '\n'));
  else
    log.onEvent(
      humanReporter({
        write: (text: string) => writeIfOpen(process.stderr, text),
        isTTY: process.stderr.isTTY,
      }),
    );
}

/** Train one session of the run; resolves with akd's exit code. */
export async function runLocally(o: LocalRunOptions): Promise<number> {
  // Loaded lazily: `akd validate/list/show` must not pay for TensorFlow.js.
  const { runExperiment } = await import('../training/runExperiment');
  const { teacherResultsCache: teacherCache } = await import('../sweep/teacherCache');
  const cancel: CancelToken = { cancelled: false };
  const removeHandlers = installSignalHandlers(cancel);
  const log = new EventLog(path.join(o.runDir, RUN_FILES.events));
  attachOutput(log, o.json);
  try {
    const { config, configPath, runId, runDir, resume, overrides } = o;
    const outcome = await runExperiment({
      config,
      configPath,
      runId,
      runDir,
      log,
      cancel,
      resume,
      teacherCache,
      ...(overrides ? { overrides } : {}),
    });
    if (!o.json) process.stderr.write(`run folder: ${runDir}\n`);
    if (outcome.status === 'completed') return EXIT.ok;
    if (outcome.status === 'cancelled') return exitCodeForSignal(cancel.signal);
    return EXIT.failed;
  } finally {
    log.close();
    removeHandlers();
  }
}
