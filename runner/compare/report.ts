/** The comparison as text, CSV and Markdown: pure functions of the groups. */
import { csvField, pct } from '../protocol/format';
import type { Group, RunRow } from './collect';
import { variablesLabel } from './collect';

const num = (x: number | null | undefined, digits = 6): string =>
  x == null || !Number.isFinite(x) ? '' : x.toFixed(digits);
const int = (n: number | undefined): string => (n === undefined ? '' : n.toLocaleString('en-US'));

export const CSV_COLUMNS = [
  'method',
  'setting',
  'n',
  'mean',
  'std',
  'best',
  'val_mean',
  'val_std',
  'teacher',
  'gap',
  'student_params',
  'teacher_params',
  'assistant_params',
  'seconds',
  'seeds',
  'incomplete',
  'protocol',
] as const;

/** One row per group; accuracies as fractions in [0, 1]; std is the sample std over seeds (n - 1). */
export function groupsCsv(groups: Group[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const g of groups) {
    lines.push(
      [
        g.method,
        variablesLabel(g.variables),
        String(g.test.n),
        num(g.test.mean),
        num(g.test.std),
        num(g.test.best),
        num(g.val.mean),
        num(g.val.std),
        num(g.teacherTest),
        num(g.gap),
        String(g.studentParams),
        String(g.teacherParams),
        g.assistantParams !== undefined ? String(g.assistantParams) : '',
        g.seconds.toFixed(1),
        g.seeds.join(' '),
        String(g.incomplete),
        g.protocol,
      ]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

export const RUNS_CSV_COLUMNS = [
  'run',
  'sweep',
  'method',
  'setting',
  'seed',
  'status',
  'test',
  'val',
  'teacher',
  'student_params',
  'seconds',
] as const;

export function runsCsv(rows: RunRow[]): string {
  const lines = [RUNS_CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.runId,
        r.sweep ?? '',
        r.method,
        variablesLabel(r.variables),
        String(r.seed),
        r.status,
        num(r.studentTest),
        num(r.studentVal),
        num(r.teacherTest),
        String(r.studentParams),
        r.seconds.toFixed(1),
      ]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

interface Cell {
  text: string;
  right?: boolean;
}

function cellsOf(g: Group): Cell[] {
  return [
    { text: g.method },
    { text: variablesLabel(g.variables) || '-' },
    { text: String(g.test.n), right: true },
    { text: g.test.n > 0 ? `${pct(g.test.mean, 2, '-')} ± ${pct(g.test.std, 2, '-')}` : '-', right: true },
    { text: pct(g.test.best, 2, '-'), right: true },
    { text: g.val.n > 0 ? pct(g.val.mean, 2, '-') : '-', right: true },
    { text: pct(g.teacherTest, 2, '-'), right: true },
    { text: g.gap !== null ? pct(g.gap, 2, '-') : '-', right: true },
    { text: int(g.studentParams), right: true },
    { text: int(g.teacherParams), right: true },
    { text: g.seconds.toFixed(0), right: true },
  ];
}

const HEADERS = [
  'method',
  'setting',
  'n',
  'test % (mean ± std)',
  'best %',
  'val %',
  'teacher %',
  'gap (pts)',
  'student params',
  'teacher params',
  'seconds',
];

/** Plain-text table for the terminal. */
export function groupsTable(groups: Group[]): string {
  if (groups.length === 0) return 'no runs to compare';
  const rows = groups.map(cellsOf);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].text.length)));
  const line = (cells: Cell[]): string =>
    cells
      .map((c, i) => (c.right ? c.text.padStart(widths[i]) : c.text.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(HEADERS.map((text) => ({ text }))), ...rows.map(line)].join('\n');
}

/** Markdown table (GitHub flavour); the best mean test accuracy in bold. */
export function groupsMarkdown(groups: Group[]): string {
  const bestMean = Math.max(...groups.filter((g) => g.test.n > 0).map((g) => g.test.mean));
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = [
    `| ${HEADERS.join(' | ')} |`,
    `|${HEADERS.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
  ];
  for (const g of groups) {
    const cells = cellsOf(g).map((c) => esc(c.text));
    if (g.test.n > 0 && g.test.mean === bestMean) cells[3] = `**${cells[3]}**`;
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out.join('\n') + '\n';
}
