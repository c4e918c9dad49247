/**
 * The experiments table's rows: one per run, from its resolved config (flattened to dotted keys),
 * its summary and its live state; the varying keys; groups of rows folded into mean ± sample std
 * over seeds (protocol/stats.ts: the statistics of `akd compare`). Pure (no I/O, no DOM): the
 * extension builds rows, the webview sorts, filters and groups them, the host tests check them.
 */
import type { EvaluationProtocol, ExperimentConfig } from './configTypes';
import { protocolOf } from './configTypes';
import type { ActualBackend, RunSummary } from './events';
import type { RunDisplayStatus } from './runState';
import { summarize } from './stats';

export type CellValue = string | number | boolean | null;

export interface ExperimentMetrics {
  /** The final student's test accuracy (reference protocol: its last epoch's). */
  finalTest: number | null;
  /** The best test accuracy over epochs: only the reference protocol measures test every epoch. */
  bestTest: number | null;
  /** The best validation accuracy over the student's phases (held-out protocol). */
  bestVal: number | null;
  teacher: number | null;
  /** Teacher minus student test accuracy. */
  gap: number | null;
  studentParams: number | null;
  teacherParams: number | null;
  /** teacher params / student params. */
  compression: number | null;
  /** Training wall time, seconds. */
  seconds: number | null;
  backend: ActualBackend | null;
}

export interface ExperimentRow {
  runDir: string;
  runId: string;
  name: string;
  configPath?: string;
  /** Sweep members: the sweep's folder and its name. */
  sweepDir?: string;
  sweep?: string;
  method: string;
  status: RunDisplayStatus;
  /** While training: where it is. */
  phase?: string;
  temperature?: number;
  epoch?: number;
  epochs?: number;
  protocol: EvaluationProtocol;
  startedAt?: string;
  /** The resolved config as dotted keys (`method.tauMax`); arrays and objects in arrays as JSON text. */
  config: Record<string, CellValue>;
  metrics: ExperimentMetrics;
  /** From the run's meta.json (protocol/runMeta.ts): a person's star and note. */
  starred?: true;
  note?: string;
}

export interface RowInput {
  runDir: string;
  runId: string;
  config?: ExperimentConfig;
  summary?: RunSummary;
  /** The run's live state (status, phase, temperature, epoch), when the caller follows it. */
  state?: {
    status: RunDisplayStatus;
    name?: string;
    method?: string;
    configPath?: string;
    phase?: string;
    temperature?: number;
    epoch?: number;
    epochs?: number;
    startedAt?: string;
    summary?: RunSummary;
    starred?: boolean;
    note?: string;
  };
  sweepDir?: string;
  backend?: ActualBackend | null;
}

/** Keys that identify a run rather than describe its setting: never columns of their own. */
const NOT_SETTINGS = new Set(['name', 'sweep']);

/** `{"method": {"tauMax": 5}}` -> `{"method.tauMax": 5}`; arrays stay one cell (`[8,32]`). */
export function flattenConfig(
  value: unknown,
  prefix = '',
  out: Record<string, CellValue> = {},
): Record<string, CellValue> {
  if (value === null || value === undefined) {
    if (prefix) out[prefix] = null;
    return out;
  }
  if (Array.isArray(value)) {
    out[prefix] = JSON.stringify(value);
    return out;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (!prefix && NOT_SETTINGS.has(k)) continue;
      flattenConfig(v, key, out);
    }
    return out;
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    out[prefix] = value;
  return out;
}

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
const STUDENT_PHASES = new Set(['train', 'kd', 'anneal', 'finetune']);

export function metricsOf(
  summary: RunSummary | undefined,
  backend: ActualBackend | null = null,
): ExperimentMetrics {
  if (!summary) {
    return {
      finalTest: null,
      bestTest: null,
      bestVal: null,
      teacher: null,
      gap: null,
      studentParams: null,
      teacherParams: null,
      compression: null,
      seconds: null,
      backend,
    };
  }
  const reference = summary.protocol === 'reference';
  const student = summary.student.testAccuracy;
  const finalTest = reference ? (summary.student.finalTestAccuracy ?? student) : student;
  const studentPhases = summary.phases.filter((p) => STUDENT_PHASES.has(p.phase));
  // Held-out: the best validation accuracy of any student phase. Reference: no validation split.
  const vals = studentPhases.filter((p) => p.selectedOn !== 'test' && p.selectedOn !== 'train');
  const teacher = summary.teacher.testAccuracy;
  return {
    finalTest: finite(finalTest) ? finalTest : null,
    bestTest: reference && finite(student) ? student : null,
    bestVal: vals.length > 0 ? Math.max(...vals.map((p) => p.bestValAccuracy)) : null,
    teacher: finite(teacher) ? teacher : null,
    gap: finite(teacher) && finite(finalTest) ? teacher - finalTest : null,
    studentParams: summary.student.params ?? null,
    teacherParams: summary.teacher.params ?? null,
    compression: finite(summary.compression) ? summary.compression : null,
    seconds: finite(summary.seconds) ? summary.seconds : null,
    backend: summary.backend ?? backend,
  };
}

export function experimentRow(input: RowInput): ExperimentRow {
  const summary = input.summary ?? input.state?.summary;
  const config = input.config;
  const state = input.state;
  const status: RunDisplayStatus = state?.status ?? summary?.status ?? 'unknown';
  const live = status === 'running' || status === 'starting';
  return {
    runDir: input.runDir,
    runId: input.runId,
    name: config?.name ?? state?.name ?? summary?.name ?? input.runId,
    ...(state?.configPath ? { configPath: state.configPath } : {}),
    ...(input.sweepDir ? { sweepDir: input.sweepDir, sweep: input.sweepDir.split(/[\\/]/).pop() } : {}),
    method: config?.method.type ?? summary?.method ?? state?.method ?? '?',
    status,
    ...(live && state?.phase ? { phase: state.phase } : {}),
    ...(live && state?.temperature !== undefined ? { temperature: state.temperature } : {}),
    ...(live && state?.epoch !== undefined ? { epoch: state.epoch } : {}),
    ...(live && state?.epochs !== undefined ? { epochs: state.epochs } : {}),
    protocol: summary?.protocol ?? (config ? protocolOf(config) : 'held-out'),
    ...((state?.startedAt ?? summary?.startedAt)
      ? { startedAt: state?.startedAt ?? summary?.startedAt }
      : {}),
    config: config ? flattenConfig(config) : {},
    metrics: metricsOf(summary, input.backend ?? null),
    ...(state?.starred ? { starred: true as const } : {}),
    ...(state?.note ? { note: state.note } : {}),
  };
}

// ---- columns -----------------------------------------------------------------------------------

export type ColumnKind = 'percent' | 'count' | 'ratio' | 'seconds' | 'text' | 'number';

export interface ColumnDef {
  /** `run:<field>`, `metric:<field>` or `config:<dotted key>`. */
  id: string;
  /** Header text: a config key's last segment (`tauMax`), a metric's short name. */
  label: string;
  /** Header tooltip: the full dotted path or what the metric means. */
  title: string;
  kind: ColumnKind;
}

export const RUN_COLUMNS: readonly ColumnDef[] = [
  {
    id: 'run:name',
    label: 'run',
    title: 'The run: config name and start time (run id in the tooltip)',
    kind: 'text',
  },
  {
    id: 'run:status',
    label: 'status',
    title: 'Status; phase, temperature and epoch while it trains',
    kind: 'text',
  },
  { id: 'run:method', label: 'method', title: 'method.type', kind: 'text' },
  { id: 'run:sweep', label: 'sweep', title: 'The sweep the run belongs to', kind: 'text' },
  {
    id: 'run:starred',
    label: '★',
    title: 'Starred (Star Run in the Runs view, or akd star): akd gc never touches it',
    kind: 'text',
  },
  {
    id: 'run:note',
    label: 'note',
    title: "The run's note (Edit Note in the Runs view, or akd note)",
    kind: 'text',
  },
];

export const METRIC_COLUMNS: readonly ColumnDef[] = [
  { id: 'metric:finalTest', label: 'test %', title: "The final student's test accuracy", kind: 'percent' },
  {
    id: 'metric:bestTest',
    label: 'best test %',
    title: 'The best test accuracy over epochs (reference protocol only: held-out runs measure test once)',
    kind: 'percent',
  },
  {
    id: 'metric:bestVal',
    label: 'best val %',
    title: "The best validation accuracy over the student's phases",
    kind: 'percent',
  },
  { id: 'metric:teacher', label: 'teacher %', title: "The teacher's test accuracy", kind: 'percent' },
  { id: 'metric:gap', label: 'gap', title: 'Teacher minus student test accuracy (points)', kind: 'percent' },
  {
    id: 'metric:studentParams',
    label: 'student params',
    title: "The student's parameter count",
    kind: 'count',
  },
  {
    id: 'metric:teacherParams',
    label: 'teacher params',
    title: "The teacher's parameter count",
    kind: 'count',
  },
  {
    id: 'metric:compression',
    label: 'compression',
    title: 'Teacher parameters / student parameters',
    kind: 'ratio',
  },
  { id: 'metric:seconds', label: 'time', title: 'Training wall time (summed over resumes)', kind: 'seconds' },
  { id: 'metric:backend', label: 'backend', title: 'The TF.js backend the run trained on', kind: 'text' },
  {
    id: 'run:protocol',
    label: 'protocol',
    title: 'Evaluation protocol (reference: selected on test)',
    kind: 'text',
  },
];

export function configColumn(key: string, sample: CellValue): ColumnDef {
  const segments = key.split('.');
  return {
    id: `config:${key}`,
    label: segments[segments.length - 1],
    title: key,
    kind: typeof sample === 'number' ? 'number' : 'text',
  };
}

/** Every config key of the rows, sorted as the config reads (by path). */
export function configKeys(rows: readonly ExperimentRow[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.config)) keys.add(k);
  return [...keys].sort();
}

/** Config keys whose values differ between the rows (a key missing from some rows differs). */
export function varyingKeys(rows: readonly ExperimentRow[]): string[] {
  if (rows.length < 2) return [];
  return configKeys(rows).filter((k) => {
    const first = JSON.stringify(rows[0].config[k] ?? null);
    return rows.some((r) => JSON.stringify(r.config[k] ?? null) !== first);
  });
}

/** A cell's value for sorting, filtering and plotting. */
export function cellValue(row: ExperimentRow, id: string): CellValue {
  const [kind, key] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
  if (kind === 'config') return row.config[key] ?? null;
  if (kind === 'metric') return (row.metrics as unknown as Record<string, CellValue>)[key] ?? null;
  switch (key) {
    case 'name':
      return row.name;
    case 'status':
      return row.status;
    case 'method':
      return row.method;
    case 'sweep':
      return row.sweep ?? null;
    case 'protocol':
      return row.protocol;
    case 'starred':
      return row.starred ? '★' : null;
    case 'note':
      return row.note ?? null;
    default:
      return null;
  }
}

/** "running · anneal T=3 · 2/4" while it trains; the status otherwise. */
export function statusText(row: ExperimentRow): string {
  if (row.status !== 'running' && row.status !== 'starting') return row.status;
  const phase = [
    row.phase,
    row.temperature !== undefined && row.phase === 'anneal' ? `T=${row.temperature}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const epoch = row.epoch !== undefined && row.epochs ? `${row.epoch}/${row.epochs}` : '';
  return [row.status, phase, epoch].filter(Boolean).join(' · ');
}

// ---- groups ------------------------------------------------------------------------------------

export interface MetricStats {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one value. */
  std: number;
}

export interface RowGroup {
  /** The grouping keys' values, e.g. {"run:method": "annealing", "config:method.tauMax": 5}. */
  values: Record<string, CellValue>;
  /** "method=annealing · tauMax=5" */
  label: string;
  rows: ExperimentRow[];
  /** Completed runs behind the statistics. */
  n: number;
  /** Per numeric column: mean ± sample std over the group's completed runs (seeds). */
  stats: Record<string, MetricStats>;
}

/**
 * Rows grouped by the values of `keys` (column ids), each group folding its completed runs (its
 * seeds) into mean ± sample std per numeric column of `statColumns`, with protocol/stats.ts's
 * `summarize`: the same statistics as `akd compare`.
 */
export function groupRows(
  rows: readonly ExperimentRow[],
  keys: readonly string[],
  statColumns: readonly string[],
  labelOf: (id: string) => string = (id) =>
    id
      .slice(id.indexOf(':') + 1)
      .split('.')
      .pop() ?? id,
): RowGroup[] {
  const groups = new Map<string, RowGroup>();
  for (const r of rows) {
    const values = Object.fromEntries(keys.map((k) => [k, cellValue(r, k)]));
    const id = JSON.stringify(keys.map((k) => values[k]));
    let g = groups.get(id);
    if (!g) {
      g = {
        values,
        label: keys.map((k) => `${labelOf(k)}=${formatValue(values[k]) || '–'}`).join(' · ') || 'all runs',
        rows: [],
        n: 0,
        stats: {},
      };
      groups.set(id, g);
    }
    g.rows.push(r);
  }
  for (const g of groups.values()) {
    const done = g.rows.filter((r) => r.status === 'completed');
    g.n = done.length;
    for (const c of statColumns) {
      const xs = done
        .map((r) => cellValue(r, c))
        .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (xs.length === 0) continue;
      const s = summarize(xs);
      g.stats[c] = { n: s.n, mean: s.mean, std: s.std };
    }
  }
  return [...groups.values()];
}

/** A cell value as text (no units): numbers as they are, null as an empty cell. */
export function formatValue(v: CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(Number(v.toPrecision(6)));
  return String(v);
}
