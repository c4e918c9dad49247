/** How every training process of `akd` (local run, Slurm job) reacts to SIGINT/SIGTERM. */
import { exitCodeForSignal } from '../protocol/exitCodes';
import type { CancelToken } from '../training/phaseTrainer';

/**
 * Stop at the next batch boundary on the first signal (the run then checkpoints); a second
 * signal exits at once. Returns the function that removes the handlers.
 */
export function installSignalHandlers(cancel: CancelToken): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (cancel.cancelled) process.exit(exitCodeForSignal(signal));
    cancel.cancelled = true;
    cancel.signal = signal;
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
