/**
 * Named points where the fault-injection tests kill the runner for real: with
 * AKD_FAULT_KILL_AT=<point>[:<n>] the process SIGKILLs itself the n-th time (default 1st) it
 * reaches that point, e.g. between the two renames of a checkpoint swap, or half-way through an
 * event's line: windows too short to hit with a timer. Nothing happens without the variable.
 *
 * Points: checkpoint-swap (runner/store/modelFiles.ts, between the renames), event-write
 * (runner/store/eventLog.ts, after half of a line is written).
 */
const spec = process.env.AKD_FAULT_KILL_AT;
const [target, nth] = spec ? spec.split(':') : [];
let hits = 0;

/** At point `name`: when it is the targeted hit, run `before` (e.g. write half a line), then SIGKILL this process. */
export function faultPoint(name: string, before?: () => void): void {
  if (!spec || name !== target) return;
  hits++;
  if (hits < Number(nth ?? 1)) return;
  before?.();
  process.kill(process.pid, 'SIGKILL');
}
