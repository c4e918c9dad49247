/**
 * Exit codes of `akd`, one table for every command, the Slurm job entry and the extension
 * (which tells "the config is invalid" from a crash by them). 64/66/73/75 are sysexits.h's.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  /** A config error, or a request that cannot be done as asked (nothing was run). */
  invalid: 2,
  usage: 64,
  noInput: 66,
  cantCreate: 73,
  /** Another process holds the run's lock (run.lock): nothing was done; sysexits.h's EX_TEMPFAIL. */
  locked: 75,
  /** Stopped by a signal: 128 + its number, as shells report it. */
  sigint: 130,
  sigterm: 143,
} as const;

/** The exit code of a run stopped by `signal`. */
export function exitCodeForSignal(signal: string | undefined): number {
  return signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
}
