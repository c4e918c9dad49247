/** `akd gc [DIR] [--dry-run] [--older-than DAYS] [--failed] [--json]`: free space (the rules: store/gc.ts). */
import * as path from 'node:path';
import { EXIT } from '../../protocol/exitCodes';
import { executeGc, planGc, totals, type GcItem } from '../../store/gc';
import { OptionError, flagString, type ParsedArgs } from '../args';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

const KIND_TEXT = {
  completed: (n: number) => `checkpoints of ${n} completed run${n === 1 ? '' : 's'}`,
  failed: (n: number) => `checkpoints of ${n} failed run${n === 1 ? '' : 's'}`,
  teacher: (n: number) => `${n} teacher cache${n === 1 ? '' : 's'} no run refers to`,
};

function summaryLines(items: readonly GcItem[]): string[] {
  const t = totals(items);
  const rows = (Object.keys(t) as (keyof typeof t)[])
    .filter((k) => t[k].count > 0)
    .map((k) => [KIND_TEXT[k](t[k].count), formatBytes(t[k].bytes)]);
  rows.push(['total', formatBytes(items.reduce((s, i) => s + i.bytes, 0))]);
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b.padStart(8)}`);
}

export function cmdGc(args: ParsedArgs): number {
  const dir = path.resolve(args.positional[0] ?? '.');
  const older = flagString(args, 'older-than');
  const days = older === undefined ? undefined : Number(older);
  if (days !== undefined && !(Number.isFinite(days) && days >= 0))
    throw new OptionError(`akd gc: --older-than must be a number of days >= 0, got "${older}"`);
  const dryRun = args.flags.has('dry-run');
  let plan;
  try {
    plan = planGc(dir, {
      failed: args.flags.has('failed'),
      ...(days !== undefined ? { olderThanDays: days } : {}),
    });
  } catch (e) {
    process.stderr.write(`akd gc: ${(e as Error).message}\n`);
    return EXIT.invalid;
  }
  const outcome = dryRun ? { removed: plan.items, errors: [] } : executeGc(plan);
  if (args.flags.has('json')) {
    process.stdout.write(
      JSON.stringify(
        {
          dryRun,
          akdDirs: plan.akdDirs,
          removed: outcome.removed,
          totals: totals(outcome.removed),
          kept: plan.kept,
          errors: outcome.errors,
        },
        null,
        2,
      ) + '\n',
    );
    return outcome.errors.length > 0 ? EXIT.failed : EXIT.ok;
  }
  const out = (line: string): boolean => process.stdout.write(line + '\n');
  if (plan.akdDirs.length === 0 && plan.items.length === 0 && plan.kept.length === 0) {
    out(`no .akd folders or runs under ${dir}`);
    return EXIT.ok;
  }
  if (outcome.removed.length === 0) out(`nothing to remove under ${dir}`);
  else {
    out(dryRun ? 'would remove (dry run; nothing was removed):' : 'removed:');
    for (const i of outcome.removed)
      out(`  ${i.kind.padEnd(9)} ${formatBytes(i.bytes).padStart(8)}  ${i.path}`);
    out(dryRun ? 'would free:' : 'freed:');
    for (const line of summaryLines(outcome.removed)) out(line);
  }
  if (plan.kept.length > 0) {
    const reasons = new Map<string, number>();
    for (const k of plan.kept) reasons.set(k.reason, (reasons.get(k.reason) ?? 0) + 1);
    out(`kept: ${[...reasons].map(([r, n]) => `${n} ${r}`).join('; ')}`);
  }
  for (const e of outcome.errors) process.stderr.write(`akd gc: ${e}\n`);
  return outcome.errors.length > 0 ? EXIT.failed : EXIT.ok;
}
