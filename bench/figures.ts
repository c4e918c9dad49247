/**
 * Figures of a checked-in study from its committed CSVs, drawn by the same chart definitions and
 * renderer as `akd compare --png/--svg` (runner/protocol/charts, runner/compare/render.ts). For
 * when the study's run folders (never committed) are gone.
 *
 *   npm run figures -- compare GROUPS.csv [--runs RUNS.csv] --out BASE [--title TEXT]
 *       accuracy per method and setting (akd compare --csv / --runs-csv files): BASE.png, BASE.svg
 *   npm run figures -- capacity-gap RESULTS.csv --out BASE [--title TEXT]
 *       annealing minus scratch and KD against the student's size (a results.csv with
 *       dataset,student,method,n,mean,std[,student_params]): BASE.png, BASE.svg
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  accuracyChartHeight,
  accuracyPerMethodChart,
  capacityGapChart,
  PAPER,
  PAPER_WIDTH,
  type CapacityRow,
  type FigureConfig,
  type MethodGroup,
} from '../runner/protocol/charts/figures';
import { renderFigure } from '../runner/compare/render';

/** RFC 4180 CSV (quoted fields, doubled quotes) into rows of named fields. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

/** Groups of `akd compare --csv`, with each seed's value from `--runs-csv` when given (else the mean alone). */
export function groupsFromCsv(
  groupsCsv: string,
  runsCsv?: string,
): { groups: MethodGroup[]; teacher: number | null } {
  const groups = parseCsv(groupsCsv);
  const runs = runsCsv ? parseCsv(runsCsv) : [];
  const label = (method: string, setting: string): string => [method, setting].filter(Boolean).join(' ');
  const teacher = groups.map((g) => Number(g.teacher)).find((t) => Number.isFinite(t) && t > 0) ?? null;
  return {
    teacher,
    groups: groups
      .filter((g) => Number(g.n) > 0)
      .map((g) => {
        const seeds = runs
          .filter(
            (r) =>
              r.method === g.method && r.setting === g.setting && r.status === 'completed' && r.test !== '',
          )
          .map((r) => Number(r.test));
        return {
          label: label(g.method, g.setting),
          method: g.method,
          // Without the runs file: the mean alone (no error bar can be drawn from mean and std without seeds).
          values: seeds.length > 0 ? seeds : [Number(g.mean)],
        };
      }),
  };
}

export function capacityRowsFromCsv(text: string): CapacityRow[] {
  return parseCsv(text).map((r) => ({
    dataset: r.dataset,
    student: r.student,
    ...(r.student_params ? { studentParams: Number(r.student_params) } : {}),
    method: r.method,
    n: Number(r.n),
    mean: Number(r.mean),
    std: Number(r.std),
  }));
}

function writeBoth(base: string, config: FigureConfig, width: number, height: number): void {
  for (const format of ['png', 'svg'] as const) {
    const file = `${base}.${format}`;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, renderFigure(config, { width, height, format }));
    process.stderr.write(`wrote ${path.resolve(file)}\n`);
  }
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { runs: { type: 'string' }, out: { type: 'string' }, title: { type: 'string' } },
  });
  const [kind, csv] = positionals;
  if (!csv || !values.out || (kind !== 'compare' && kind !== 'capacity-gap')) {
    process.stderr.write('usage: figures compare GROUPS.csv [--runs RUNS.csv] --out BASE [--title TEXT]\n');
    process.stderr.write('       figures capacity-gap RESULTS.csv --out BASE [--title TEXT]\n');
    return 64;
  }
  const title = values.title ? { title: values.title } : {};
  if (kind === 'compare') {
    const { groups, teacher } = groupsFromCsv(
      fs.readFileSync(csv, 'utf8'),
      values.runs ? fs.readFileSync(values.runs, 'utf8') : undefined,
    );
    const height =
      accuracyChartHeight(
        groups.length,
        PAPER,
        groups.map((g) => g.label),
      ) + (values.title ? PAPER.fontSize * 2 : 0);
    writeBoth(values.out, accuracyPerMethodChart(groups, { ...title, teacher }), PAPER_WIDTH, height);
  } else {
    const rows = capacityRowsFromCsv(fs.readFileSync(csv, 'utf8'));
    writeBoth(values.out, capacityGapChart(rows, title), PAPER_WIDTH, PAPER.fontSize * 26);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
