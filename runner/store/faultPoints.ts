/**
 * Named points where the fault-injection tests kill the runner for real: with
 * AKD_FAULT_KILL_AT=<point>[:<n>] the process SIGKILLs itself the n-th time (default 1st) it
 * reaches that point, e.g. between the two renames of a checkpoint swap, a window too short to hit
 * with a timer. Nothing happens without the variable.
 */
const spec = process.env.AKD_FAULT_KILL_AT;
const [target, nth] = spec ? spec.split(':') : [];
let hits = 0;

export function faultPoint(name: string): void {
  if (!spec || name !== target) return;
  hits++;
  if (hits >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
