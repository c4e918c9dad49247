/** How every training process of `akd` (local run, Slurm job) reacts to SIGINT/SIGTERM. */
import type { CancelToken } from '../training/phaseTrainer';

export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** The exit code of a run stopped by `signal` (128 + signal number, as shells report it). */
export function exitCodeForSignal(signal: string | undefined): number {
  return signal === 'SIGINT' ? SIGNAL_EXIT.SIGINT : SIGNAL_EXIT.SIGTERM;
}

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
