/**
 * `akd compare RUN_OR_SWEEP_DIR... [--csv FILE] [--md FILE] [--png FILE] [--svg FILE] [--runs-csv FILE] [--best-only]`:
 * student test accuracy per method and swept setting, mean ± std over seeds, and the figures
 * (the shared chart definitions, runner/protocol/charts, rendered by compare/render.ts).
 * `--json`: the comparison the dashboard shows (protocol/comparison.ts), one JSON object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bestByValidation, collectRuns, groupRuns, type Group } from '../../compare/collect';
import { comparisonOf } from '../../compare/comparison';
import { compareFigures, figureFile } from '../../compare/figures';
import { renderFigure } from '../../compare/render';
import { groupsCsv, groupsMarkdown, groupsTable, runsCsv } from '../../compare/report';
import { pct, percent } from '../../protocol/format';
import { EXIT } from '../../protocol/exitCodes';
import { UsageError, flagString, type ParsedArgs } from '../args';

function write(file: string, data: string | Buffer): void {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, data);
  process.stderr.write(`wrote ${abs}\n`);
}

export async function cmdCompare(args: ParsedArgs): Promise<number> {
  if (args.positional.length === 0)
    throw new UsageError('akd compare needs at least one run or sweep folder');
  if (args.flags.has('json')) {
    // What the dashboard shows: a folder that cannot be read is listed in `errors`, the rest compared.
    const data = comparisonOf(args.positional);
    process.stdout.write(JSON.stringify(data) + '\n');
    return data.runs.length > 0 ? EXIT.ok : EXIT.invalid;
  }
  let rows;
  try {
    rows = collectRuns(args.positional);
  } catch (e) {
    process.stderr.write(`akd compare: ${(e as Error).message}\n`);
    return EXIT.invalid;
  }
  if (rows.length === 0) {
    process.stderr.write(`akd compare: no runs under ${args.positional.join(', ')}\n`);
    return EXIT.invalid;
  }
  let groups: Group[];
  try {
    groups = groupRuns(rows);
  } catch (e) {
    process.stderr.write(`akd compare: ${(e as Error).message}\n`);
    return EXIT.invalid;
  }
  const best = bestByValidation(groups);
  if (args.flags.has('best-only')) groups = groups.filter((g) => best.get(g.method) === g);

  process.stdout.write(groupsTable(groups) + '\n');
  const varied = groups.some((g) => Object.keys(g.variables).length > 0);
  if (varied && best.size > 0) {
    process.stdout.write(
      '\nbest setting per method by mean validation accuracy (pick settings on this, report test):\n',
    );
    for (const [method, g] of best) {
      process.stdout.write(
        `  ${method.padEnd(9)} ${g.label}: val ${percent(g.val.mean)}, test ${pct(g.test.mean)} ± ${percent(g.test.std)} (n=${g.test.n})\n`,
      );
    }
  }
  const incomplete = rows.filter((r) => r.status !== 'completed');
  if (incomplete.length > 0)
    process.stdout.write(
      `\n${incomplete.length} run(s) not completed and left out: ${incomplete.map((r) => `${r.runId} (${r.status})`).join(', ')}\n`,
    );
  const csv = flagString(args, 'csv');
  if (csv) write(csv, groupsCsv(groups));
  const md = flagString(args, 'md');
  if (md) write(md, groupsMarkdown(groups));
  const runsFile = flagString(args, 'runs-csv');
  if (runsFile) write(runsFile, runsCsv(rows));
  const title = flagString(args, 'title');
  for (const format of ['png', 'svg'] as const) {
    const file = flagString(args, format);
    if (!file) continue;
    // The accuracy figure to FILE; annealing's phase-1 curves (when there are any) to FILE-phase1.
    for (const f of compareFigures(groups, title)) {
      write(figureFile(file, f.suffix), renderFigure(f.config, { width: f.width, height: f.height, format }));
    }
  }
  return EXIT.ok;
}
