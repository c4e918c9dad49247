/**
 * Reading finished runs for `akd compare`: from sweep folders (their manifest says each member's
 * method, seed and grid values), single run folders, or folders of runs (.akd/runs). Grouping by
 * method and swept values, with the statistics over seeds. No TensorFlow import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvaluationProtocol, ExperimentConfig, MethodType, ModelConfig } from '../protocol/configTypes';
import { METHOD_TYPES, protocolOf } from '../protocol/configTypes';
import { REFERENCE_PROTOCOL_LABEL, type EpochEndedEvent, type RunSummary } from '../protocol/events';
import { RUN_FILES } from '../protocol/files';
import { meanSeries, summarize, type Summary } from '../protocol/stats';
import { isSweepDir, memberRunDir, readManifest } from '../protocol/sweepManifest';
import { listRuns, readRun, type RunRecord } from '../store/runStore';

export interface RunRow {
  runId: string;
  runDir: string;
  /** The sweep it belongs to (its folder name), if any. */
  sweep?: string;
  method: MethodType;
  seed: number;
  /** Swept values that identify its setting (grid key -> value), without the seed. */
  variables: Record<string, unknown>;
  status: RunRecord['status'];
  /** How the run selected and reported (a reference-protocol run selected on test and has no validation). */
  protocol: EvaluationProtocol;
  studentTest: number | null;
  /** Validation accuracy of the final student (the last phase's last epoch): what settings are tuned on. */
  studentVal: number | null;
  teacherTest: number | null;
  studentParams: number;
  teacherParams: number;
  assistantParams?: number;
  /** The run's wall time without the teacher's training epochs (one member of a sweep trains the shared teacher). */
  seconds: number;
  /** Seconds this run spent on teacher epochs (0 when it loaded its teacher). */
  teacherSeconds?: number;
  /** Annealing: validation accuracy per phase-1 epoch with its temperature. */
  annealCurve?: { epoch: number; temperature: number; valAccuracy: number | null }[];
}

/** A short label of a model: "mlp[8]", "cnn[32,64|128]", "resnet-8". */
export function modelLabel(m: ModelConfig): string {
  switch (m.type) {
    case 'mlp':
      return `mlp[${m.hidden.join(',')}]`;
    case 'cnn':
      return `cnn[${m.filters.join(',')}|${m.dense.join(',')}]`;
    case 'resnet':
      return `resnet-${m.depth}${m.width && m.width !== 16 ? `x${m.width}` : ''}`;
  }
}

function rowFromRun(
  run: RunRecord,
  extra: { sweep?: string; method?: MethodType; seed?: number; variables?: Record<string, unknown> },
): RunRow | undefined {
  const s: RunSummary | undefined = run.summary;
  const config: ExperimentConfig | undefined = run.config;
  const method = extra.method ?? s?.method ?? config?.method.type;
  if (!method) return undefined;
  const last = s?.phases[s.phases.length - 1];
  const anneal = run.events.filter(
    (e): e is EpochEndedEvent => e.type === 'epoch-ended' && e.phase === 'anneal',
  );
  // A resumed run logs some epochs twice (before the cancel and after): keep the last of each.
  const teacherSeconds = run.events.reduce(
    (sum, e) => sum + (e.type === 'epoch-ended' && e.phase === 'teacher' ? e.seconds : 0),
    0,
  );
  const byEpoch = new Map<number, EpochEndedEvent>();
  for (const e of anneal) byEpoch.set(e.epoch, e);
  return {
    runId: run.runId,
    runDir: run.runDir,
    ...(extra.sweep ? { sweep: extra.sweep } : {}),
    method,
    seed: extra.seed ?? config?.seed ?? 0,
    variables: extra.variables ?? {},
    status: run.status,
    protocol: s?.protocol ?? (config ? protocolOf(config) : 'held-out'),
    studentTest: s?.student.testAccuracy ?? null,
    // A phase selected on test (reference protocol) has no validation accuracy to tune on.
    studentVal: last && last.selectedOn !== 'test' ? last.finalValAccuracy : null,
    teacherTest: s?.teacher.testAccuracy ?? null,
    studentParams: s?.student.params ?? 0,
    teacherParams: s?.teacher.params ?? 0,
    ...(s?.assistant ? { assistantParams: s.assistant.params } : {}),
    seconds: Math.max(0, (s?.seconds ?? 0) - teacherSeconds),
    teacherSeconds,
    ...(byEpoch.size > 0
      ? {
          annealCurve: [...byEpoch.values()]
            .sort((a, b) => a.epoch - b.epoch)
            .map((e) => ({ epoch: e.epoch, temperature: e.temperature ?? 0, valAccuracy: e.valAccuracy })),
        }
      : {}),
  };
}

/** Every run under the given folders: sweep folders, run folders, or folders holding runs. */
export function collectRuns(dirs: string[]): RunRow[] {
  const rows: RunRow[] = [];
  for (const d of dirs) {
    const dir = path.resolve(d);
    if (isSweepDir(dir)) {
      const manifest = readManifest(dir);
      for (const m of manifest.members) {
        const runDir = memberRunDir(dir, m);
        if (!fs.existsSync(path.join(runDir, RUN_FILES.events))) continue;
        const row = rowFromRun(readRun(runDir), {
          sweep: path.basename(dir),
          method: m.method,
          seed: m.seed,
          variables: m.overrides,
        });
        if (row) rows.push(row);
      }
    } else if (fs.existsSync(path.join(dir, RUN_FILES.events))) {
      const row = rowFromRun(readRun(dir), {});
      if (row) rows.push(row);
    } else if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) {
      const runs = listRuns(dir);
      for (const r of runs) {
        const row = rowFromRun(r, {});
        if (row) rows.push(row);
      }
      // Sweeps inside it too (e.g. .akd/sweeps).
      for (const name of fs.readdirSync(dir).sort()) {
        const sub = path.join(dir, name);
        if (isSweepDir(sub)) rows.push(...collectRuns([sub]));
      }
    } else {
      throw new Error(`${d}: not a run folder, a sweep folder or a folder of runs`);
    }
  }
  // Runs outside sweeps from different experiments (names) or with different students: those are variables too.
  const plain = rows.filter((r) => !r.sweep);
  const names = new Set(plain.map((r) => readRun(r.runDir).config?.name).filter(Boolean));
  if (names.size > 1) {
    for (const r of plain) {
      const name = readRun(r.runDir).config?.name;
      if (name) r.variables = { ...r.variables, experiment: name };
    }
  }
  const students = new Set(
    plain
      .map((r) => readRun(r.runDir).config?.student.model)
      .filter(Boolean)
      .map((m) => modelLabel(m as ModelConfig)),
  );
  if (students.size > 1) {
    for (const r of plain) {
      const m = readRun(r.runDir).config?.student.model;
      if (m) r.variables = { ...r.variables, student: modelLabel(m) };
    }
  }
  return rows;
}

export interface Group {
  method: MethodType;
  /** Every run of a group has the same evaluation protocol (groupRuns refuses to mix them). */
  protocol: EvaluationProtocol;
  /** The swept values shared by the group's runs. */
  variables: Record<string, unknown>;
  /** "kd temperature=2 alpha=0.5" */
  label: string;
  /** Student test accuracy over the completed runs (seeds). */
  test: Summary;
  /** Final student validation accuracy over the same runs. */
  val: Summary;
  teacherTest: number | null;
  /** Mean teacher test accuracy minus mean student test accuracy. */
  gap: number | null;
  studentParams: number;
  teacherParams: number;
  assistantParams?: number;
  /** Mean wall time of a run without teacher training, seconds. */
  seconds: number;
  seeds: number[];
  runs: RunRow[];
  /** Runs that did not complete (failed, cancelled, running). */
  incomplete: number;
  /** Annealing: mean phase-1 validation curve over seeds, with each epoch's temperature. */
  annealCurve?: { epoch: number; temperature: number; valAccuracy: number | null }[];
}

/** "temperature=2 alpha=0.5" from {"kd.temperature": 2, "kd.alpha": 0.5}. */
export function variablesLabel(variables: Record<string, unknown>): string {
  return Object.entries(variables)
    .map(([k, v]) => {
      const key = k
        .split('.')
        .filter(
          (s, i, all) => !(i === 0 && (METHOD_TYPES as readonly string[]).includes(s) && all.length > 1),
        )
        .join('.');
      const short = key
        .replace(/^method\./, '')
        .replace(/\.model\.hidden$/, '')
        .replace(/optimizer\.learningRate$/, 'lr')
        .replace(/\.lr$/, '.lr');
      return `${short}=${JSON.stringify(v)}`;
    })
    .join(' ');
}

const methodRank = (m: MethodType): number => METHOD_TYPES.indexOf(m);

export function groupRuns(rows: RunRow[]): Group[] {
  const groups = new Map<string, RunRow[]>();
  for (const r of rows) {
    const key = `${r.method}|${JSON.stringify(Object.entries(r.variables).sort(([a], [b]) => a.localeCompare(b)))}`;
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const out: Group[] = [];
  for (const runs of groups.values()) {
    const done = runs.filter((r) => r.status === 'completed' && r.studentTest !== null);
    const test = summarize(done.map((r) => r.studentTest as number));
    const val = summarize(done.filter((r) => r.studentVal !== null).map((r) => r.studentVal as number));
    const teachers = done.map((r) => r.teacherTest).filter((t): t is number => t !== null);
    const teacherTest = teachers.length > 0 ? summarize(teachers).mean : null;
    const first = runs[0];
    const curves = done.filter((r) => r.annealCurve).map((r) => r.annealCurve!);
    const annealCurve =
      curves.length > 0
        ? (() => {
            const means = meanSeries(curves.map((c) => c.map((p) => p.valAccuracy)));
            const longest = curves.reduce((a, b) => (b.length > a.length ? b : a));
            return longest.map((p, i) => ({
              epoch: p.epoch,
              temperature: p.temperature,
              valAccuracy: means[i],
            }));
          })()
        : undefined;
    const protocols = [...new Set(runs.map((r) => r.protocol))];
    if (protocols.length > 1) {
      const example = (p: EvaluationProtocol): string => runs.find((r) => r.protocol === p)?.runId ?? '';
      throw new Error(
        `${first.method} ${variablesLabel(first.variables)}`.trim() +
          ` mixes evaluation protocols (${protocols.map((p) => `${p}: ${example(p)}`).join(', ')}): ` +
          'a reference-protocol run is selected on test and cannot be averaged with held-out runs; compare them separately',
      );
    }
    const label =
      [first.method, variablesLabel(first.variables)].filter(Boolean).join(' ') +
      (first.protocol === 'reference' ? ` [${REFERENCE_PROTOCOL_LABEL}]` : '');
    out.push({
      method: first.method,
      protocol: first.protocol,
      variables: first.variables,
      label,
      test,
      val,
      teacherTest,
      gap: teacherTest !== null && done.length > 0 ? teacherTest - test.mean : null,
      studentParams: first.studentParams,
      teacherParams: first.teacherParams,
      ...(first.assistantParams !== undefined ? { assistantParams: first.assistantParams } : {}),
      seconds: done.length > 0 ? summarize(done.map((r) => r.seconds)).mean : 0,
      seeds: done.map((r) => r.seed).sort((a, b) => a - b),
      runs,
      incomplete: runs.length - done.length,
      ...(annealCurve ? { annealCurve } : {}),
    });
  }
  return out.sort(
    (a, b) => methodRank(a.method) - methodRank(b.method) || compareVariables(a.variables, b.variables),
  );
}

/** Order settings by their values: numbers numerically (0.001 < 0.003 < 0.01), the rest as text with numbers in it. */
export function compareVariables(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const d =
      typeof x === 'number' && typeof y === 'number'
        ? x - y
        : JSON.stringify(x).localeCompare(JSON.stringify(y), 'en', { numeric: true });
    if (d !== 0) return d;
  }
  return 0;
}

/** The group of each method with the best mean validation accuracy (how a setting is picked without looking at test). */
export function bestByValidation(groups: Group[]): Map<MethodType, Group> {
  const best = new Map<MethodType, Group>();
  for (const g of groups) {
    if (g.val.n === 0) continue;
    const cur = best.get(g.method);
    if (!cur || g.val.mean > cur.val.mean) best.set(g.method, g);
  }
  return best;
}
