/**
 * The capacity-gap study (bench/results/capacity-gap/): where, if anywhere, does Annealing-KD
 * help? For each dataset (MNIST, Fashion-MNIST), one strong teacher, students of three sizes, and
 * the methods scratch, kd, takd, annealing, each tuned the same way on validation accuracy, then
 * five fresh seeds per cell with the picked settings.
 *
 *   npm run study:capacity-gap [-- --only mnist|fashion] [--stage teachers|tune|final|report]
 *
 * Every stage is resumable: finished sweeps are skipped, interrupted ones resumed. Two pipelines
 * (one per dataset) run side by side, each one akd process at a time on one thread, so the study
 * uses the two cores of this project's machines and its numbers do not depend on thread count.
 *
 * Tuning (seeds 1 and 2, final validation accuracy, never test):
 *  1. scratch tunes the Adam learning rate;
 *  2. kd, takd and annealing inherit that learning rate and tune their own knobs (KD temperature
 *     x alpha; TAKD temperature x alpha with a fixed assistant; annealing tauMax x the phase-1 /
 *     phase-2 split of the same epoch budget), with as many settings as scratch had.
 * Final: every method's picked setting on seeds 11-15; results.csv, Welch's t per cell.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bestByValidation, collectRuns, groupRuns, type Group } from '../runner/compare/collect';
import { welchTest } from '../runner/protocol/stats';
import type {
  AugmentConfig,
  DataConfig,
  ExperimentConfig,
  MethodConfig,
  ModelConfig,
  OptimizerConfig,
} from '../runner/protocol/configTypes';
import { readJson, readRun } from '../runner/store/runStore';
import { convert as convertFashionMnist } from './datasets/fashionMnist';

const ROOT = path.join(__dirname, '..', '..');
const STUDY = path.join(ROOT, 'bench', 'results', 'capacity-gap');
const CONFIGS = path.join(STUDY, 'configs');
const WORK = path.join(STUDY, '.akd');
const AKD = path.join(ROOT, 'bin', 'akd.js');

const TUNE_SEEDS = [1, 2];
const FINAL_SEEDS = [11, 12, 13, 14, 15];
/** 10,000 training and 2,000 validation images of the first 12,000; the whole 10,000-image test set. */
const TRAIN_LIMIT = 12000;
const VALIDATION_FRACTION = 0.1667;
const CROP: AugmentConfig = { randomCrop: 2 };

interface DatasetSpec {
  id: 'mnist' | 'fashion';
  title: string;
  /** Relative to CONFIGS. */
  data: DataConfig;
}
const FASHION_DIR = path.join(ROOT, 'bench', 'datasets', 'fashion-mnist');
const DATASETS: DatasetSpec[] = [
  { id: 'mnist', title: 'MNIST', data: { dataset: 'mnist' } },
  {
    id: 'fashion',
    title: 'Fashion-MNIST',
    data: {
      format: 'idx',
      trainImages: path.relative(CONFIGS, path.join(FASHION_DIR, 'train-images-idx3-ubyte.gz')),
      trainLabels: path.relative(CONFIGS, path.join(FASHION_DIR, 'train-labels-idx1-ubyte.gz')),
      testImages: path.relative(CONFIGS, path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz')),
      testLabels: path.relative(CONFIGS, path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz')),
    },
  },
];

const TEACHER_MODEL: ModelConfig = { type: 'cnn', filters: [32, 64], dense: [128] };
const TEACHER_EPOCHS = 10;

interface StudentSpec {
  id: string;
  model: ModelConfig;
  /** Student epochs every method gets. */
  budget: number;
  augment?: AugmentConfig;
  /** TAKD's assistant, between teacher and student in size. */
  assistant: ModelConfig;
  /** Settings per method in tuning (the convolutional cell is costlier and gets two, not four). */
  settings: 4 | 2;
}
const STUDENTS: StudentSpec[] = [
  {
    id: 'mlp8',
    model: { type: 'mlp', hidden: [8] },
    budget: 30,
    assistant: { type: 'mlp', hidden: [128] },
    settings: 4,
  },
  {
    id: 'mlp32',
    model: { type: 'mlp', hidden: [32] },
    budget: 30,
    assistant: { type: 'mlp', hidden: [128] },
    settings: 4,
  },
  {
    id: 'cnn',
    model: { type: 'cnn', filters: [8, 16], dense: [32] },
    budget: 20,
    augment: CROP,
    assistant: { type: 'cnn', filters: [16, 32], dense: [64] },
    settings: 2,
  },
];

const adam = (learningRate: number): OptimizerConfig => ({ type: 'adam', learningRate });

function log(msg: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function teacherDir(ds: DatasetSpec): string {
  return path.join(WORK, 'teachers', ds.id);
}

function baseConfig(ds: DatasetSpec, st: StudentSpec, name: string, method: MethodConfig): ExperimentConfig {
  return {
    name,
    seed: TUNE_SEEDS[0],
    data: {
      ...ds.data,
      trainLimit: TRAIN_LIMIT,
      validationFraction: VALIDATION_FRACTION,
      ...(st.augment ? { augment: st.augment } : {}),
    },
    teacher: { checkpoint: path.relative(CONFIGS, path.join(teacherDir(ds), 'model.json')) },
    student: { model: st.model },
    method,
    batchSize: 128,
    backend: 'wasm',
    threads: 1,
  };
}

function writeConfig(name: string, config: ExperimentConfig, comment: string): string {
  fs.mkdirSync(CONFIGS, { recursive: true });
  const file = path.join(CONFIGS, `${name}.akd.json`);
  const text = `// ${comment}\n// Written by bench/capacityGap.ts (npm run study:capacity-gap); edit that, not this.\n${JSON.stringify(config, null, 2)}\n`;
  fs.writeFileSync(file, text);
  return file;
}

function runAkd(args: string[], logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const out = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, [AKD, ...args], { stdio: ['ignore', out, out], cwd: ROOT });
    child.on('error', reject);
    child.on('exit', (code) => {
      fs.closeSync(out);
      resolve(code ?? 1);
    });
  });
}

/** Runs (or resumes) a sweep into .akd/sweeps/NAME; returns its folder once every member completed. */
async function sweep(name: string, config: ExperimentConfig, comment: string): Promise<string> {
  const file = writeConfig(name, config, comment);
  const dir = path.join(WORK, 'sweeps', name);
  const manifest = path.join(dir, 'sweep.json');
  const done = (): boolean => {
    if (!fs.existsSync(manifest)) return false;
    const rows = collectRuns([dir]);
    return rows.length > 0 && rows.every((r) => r.status === 'completed');
  };
  if (done()) {
    log(`${name}: done already`);
    return dir;
  }
  log(`${name}: ${fs.existsSync(manifest) ? 'resuming' : 'starting'}`);
  const args = fs.existsSync(manifest)
    ? ['sweep', '--resume', dir, '--concurrency', '1']
    : ['sweep', file, '--out', dir, '--concurrency', '1'];
  const code = await runAkd(args, path.join(WORK, 'logs', `${name}.log`));
  if (code !== 0 || !done()) throw new Error(`${name}: akd sweep exited ${code}; see .akd/logs/${name}.log`);
  log(`${name}: completed`);
  return dir;
}

/** The picked group's full method config, read from one of its runs. */
function pickedMethod(g: Group): MethodConfig {
  const config = readRun(g.runs[0].runDir).config;
  if (!config) throw new Error(`no config.json in ${g.runs[0].runDir}`);
  return config.method;
}

function bestOf(dir: string): { group: Group; method: MethodConfig; all: Group[] } {
  const groups = groupRuns(collectRuns([dir]));
  const best = bestByValidation(groups);
  const [group] = [...best.values()];
  if (!group) throw new Error(`${dir}: no completed runs to pick from`);
  return { group, method: pickedMethod(group), all: groups };
}

// ---------------------------------------------------------------- stages

async function trainTeacher(ds: DatasetSpec): Promise<void> {
  const dir = teacherDir(ds);
  if (fs.existsSync(path.join(dir, 'model.json'))) {
    log(`${ds.id} teacher: done already`);
    return;
  }
  const name = `${ds.id}-teacher`;
  // A run always has a student: a tiny one for one epoch; only its teacher is kept.
  const config: ExperimentConfig = {
    name,
    seed: 0,
    data: { ...ds.data, trainLimit: TRAIN_LIMIT, validationFraction: VALIDATION_FRACTION, augment: CROP },
    teacher: { model: TEACHER_MODEL, epochs: TEACHER_EPOCHS, optimizer: adam(0.001) },
    student: { model: { type: 'mlp', hidden: [8] } },
    method: { type: 'scratch', epochs: 1, optimizer: adam(0.001) },
    batchSize: 128,
    backend: 'wasm',
    threads: 1,
  };
  const file = writeConfig(name, config, `${ds.title}: the study's one teacher (trained with random crops).`);
  const out = path.join(WORK, 'teacher-runs', ds.id);
  fs.rmSync(out, { recursive: true, force: true });
  log(`${ds.id} teacher: training`);
  const code = await runAkd(['run', file, '--out', out], path.join(WORK, 'logs', `${name}.log`));
  const [runId] = fs.existsSync(out) ? fs.readdirSync(out) : [];
  const run = runId ? readRun(path.join(out, runId)) : undefined;
  if (code !== 0 || !run?.summary || run.summary.status !== 'completed')
    throw new Error(`${ds.id} teacher: akd run exited ${code}; see .akd/logs/${name}.log`);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(path.join(run.runDir, 'teacher')))
    fs.copyFileSync(path.join(run.runDir, 'teacher', f), path.join(dir, f));
  // Provenance makes every student run share this teacher's logits and test accuracy (cached per data).
  fs.writeFileSync(
    path.join(dir, 'provenance.json'),
    JSON.stringify({ runId: run.runId, runDir: run.runDir, key: `capacity-gap-${ds.id}` }, null, 2),
  );
  log(`${ds.id} teacher: ${((run.summary.teacher.testAccuracy ?? NaN) * 100).toFixed(2)}% test`);
}

interface Picks {
  [cell: string]: Partial<Record<MethodConfig['type'], MethodConfig>>;
}
/** One file per dataset: the two pipelines run side by side. */
const picksFile = (ds: DatasetSpec): string => path.join(STUDY, `picked-${ds.id}.json`);

function tuningMethods(
  st: StudentSpec,
  lr: number,
): Array<{ method: MethodConfig; grid: Record<string, unknown[]> }> {
  const b = st.budget;
  const four = st.settings === 4;
  return [
    {
      method: { type: 'kd', epochs: b, optimizer: adam(lr), temperature: 4, alpha: 0.9 },
      grid: four
        ? { 'method.temperature': [2, 4], 'method.alpha': [0.5, 0.9] }
        : { 'method.temperature': [2, 4] },
    },
    {
      method: {
        type: 'takd',
        assistant: { model: st.assistant },
        epochs: b,
        optimizer: adam(lr),
        temperature: 4,
        alpha: 0.9,
      },
      grid: four
        ? { 'method.temperature': [2, 4], 'method.alpha': [0.5, 0.9] }
        : { 'method.temperature': [2, 4] },
    },
    {
      method: {
        type: 'annealing',
        tauMax: 5,
        phase1: { epochs: b / 2, optimizer: adam(lr) },
        phase2: { epochs: b / 2, optimizer: adam(lr) },
      },
      grid: four
        ? {
            'method.tauMax': [5, 10],
            'method.phase1.epochs,method.phase2.epochs': [
              [b / 3, (2 * b) / 3],
              [(2 * b) / 3, b / 3],
            ],
          }
        : { 'method.tauMax': [5, 10] },
    },
  ];
}

async function tuneCell(ds: DatasetSpec, st: StudentSpec, picks: Picks): Promise<void> {
  const cell = `${ds.id}-${st.id}`;
  const lrs = st.settings === 4 ? [0.0003, 0.001, 0.003, 0.01] : [0.001, 0.003];
  const scratchDir = await sweep(
    `${cell}-tune-scratch`,
    {
      ...baseConfig(ds, st, `${cell}-tune-scratch`, {
        type: 'scratch',
        epochs: st.budget,
        optimizer: adam(0.001),
      }),
      sweep: { seeds: TUNE_SEEDS, grid: { 'method.optimizer.learningRate': lrs }, concurrency: 1 },
    },
    `${ds.title}, student ${st.id}: scratch tunes the learning rate (seeds 1-2, picked on validation).`,
  );
  const scratch = bestOf(scratchDir).method;
  if (scratch.type !== 'scratch') throw new Error('internal: scratch pick');
  const lr = scratch.optimizer.learningRate;
  picks[cell] = { ...(picks[cell] ?? {}), scratch };
  for (const { method, grid } of tuningMethods(st, lr)) {
    const name = `${cell}-tune-${method.type}`;
    const dir = await sweep(
      name,
      { ...baseConfig(ds, st, name, method), sweep: { seeds: TUNE_SEEDS, grid, concurrency: 1 } },
      `${ds.title}, student ${st.id}: ${method.type} tunes its own settings with scratch's learning rate ${lr}.`,
    );
    picks[cell] = { ...picks[cell], [method.type]: bestOf(dir).method };
    fs.writeFileSync(picksFile(ds), `${JSON.stringify(picks, null, 2)}\n`);
  }
}

async function finalCell(ds: DatasetSpec, st: StudentSpec, picks: Picks): Promise<void> {
  const cell = `${ds.id}-${st.id}`;
  // Annealing and its first reference (scratch) first; the KD baselines follow.
  for (const method of ['scratch', 'annealing', 'kd', 'takd'] as const) {
    const picked = picks[cell]?.[method];
    if (!picked)
      throw new Error(`${cell}: no tuned ${method} setting in ${picksFile(ds)} (run the tune stage)`);
    const name = `${cell}-final-${method}`;
    await sweep(
      name,
      {
        ...baseConfig(ds, st, name, picked),
        seed: FINAL_SEEDS[0],
        sweep: { seeds: FINAL_SEEDS, concurrency: 1 },
      },
      `${ds.title}, student ${st.id}: ${method} with its setting picked on validation, five fresh seeds.`,
    );
  }
}

async function pipeline(ds: DatasetSpec, stages: Set<string>): Promise<void> {
  if (ds.id === 'fashion' && !fs.existsSync(path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz')))
    convertFashionMnist(path.dirname(require.resolve('fashion-mnist/package.json')), FASHION_DIR, log);
  if (stages.has('teachers')) await trainTeacher(ds);
  const picks: Picks = readJson<Picks>(picksFile(ds)) ?? {};
  // Cell by cell (tune, then the five final seeds), cheapest cells first: an interrupted study
  // still has complete cells to report.
  for (const st of STUDENTS) {
    if (stages.has('tune')) await tuneCell(ds, st, picks);
    if (stages.has('final')) await finalCell(ds, st, picks);
  }
}

// ---------------------------------------------------------------- report

interface CellResult {
  dataset: string;
  student: string;
  method: string;
  n: number;
  mean: number;
  std: number;
  best: number;
  valMean: number;
  studentParams: number;
  teacherParams: number;
  teacherTest: number | null;
  setting: string;
  accuracies: number[];
}

function settingLabel(m: MethodConfig): string {
  switch (m.type) {
    case 'scratch':
      return `lr ${m.optimizer.learningRate}`;
    case 'kd':
      return `T ${m.temperature}, alpha ${m.alpha}, lr ${m.optimizer.learningRate}`;
    case 'takd':
      return `T ${m.temperature}, alpha ${m.alpha}, lr ${m.optimizer.learningRate}`;
    case 'annealing':
      return `tauMax ${m.tauMax}, ${m.phase1.epochs} + ${m.phase2.epochs} epochs, lr ${m.phase1.optimizer.learningRate}`;
  }
}

export function report(): CellResult[] {
  const results: CellResult[] = [];
  for (const ds of DATASETS)
    for (const st of STUDENTS)
      for (const method of ['scratch', 'kd', 'takd', 'annealing'] as const) {
        const dir = path.join(WORK, 'sweeps', `${ds.id}-${st.id}-final-${method}`);
        if (!fs.existsSync(path.join(dir, 'sweep.json'))) continue;
        const [g] = groupRuns(collectRuns([dir]));
        if (!g || g.test.n === 0) continue;
        results.push({
          dataset: ds.id,
          student: st.id,
          method,
          n: g.test.n,
          mean: g.test.mean,
          std: g.test.std,
          best: g.test.best,
          valMean: g.val.mean,
          studentParams: g.studentParams,
          teacherParams: g.teacherParams,
          teacherTest: g.teacherTest,
          setting: settingLabel(pickedMethod(g)),
          accuracies: g.runs.filter((r) => r.studentTest !== null).map((r) => r.studentTest as number),
        });
      }
  const header =
    'dataset,student,method,n,mean,std,best,val_mean,student_params,teacher_params,teacher_test,setting';
  const csv = results.map((r) =>
    [
      r.dataset,
      r.student,
      r.method,
      r.n,
      r.mean.toFixed(6),
      r.std.toFixed(6),
      r.best.toFixed(6),
      r.valMean.toFixed(6),
      r.studentParams,
      r.teacherParams,
      r.teacherTest?.toFixed(6) ?? '',
      `"${r.setting}"`,
    ].join(','),
  );
  fs.writeFileSync(path.join(STUDY, 'results.csv'), `${[header, ...csv].join('\n')}\n`);

  // Annealing against each baseline, per cell: the difference of means and Welch's t-test.
  const diffs: string[] = ['dataset,student,student_params,versus,difference,difference_se,t,df,p'];
  for (const ds of DATASETS)
    for (const st of STUDENTS) {
      const of = (m: string): CellResult | undefined =>
        results.find((r) => r.dataset === ds.id && r.student === st.id && r.method === m);
      const a = of('annealing');
      if (!a) continue;
      for (const versus of ['scratch', 'kd', 'takd']) {
        const b = of(versus);
        if (!b) continue;
        const w = welchTest(a.accuracies, b.accuracies);
        const se = Math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n);
        diffs.push(
          [
            ds.id,
            st.id,
            a.studentParams,
            versus,
            (a.mean - b.mean).toFixed(6),
            se.toFixed(6),
            w?.t.toFixed(3) ?? '',
            w?.df.toFixed(1) ?? '',
            w?.p.toPrecision(3) ?? '',
          ].join(','),
        );
      }
    }
  fs.writeFileSync(path.join(STUDY, 'differences.csv'), `${diffs.join('\n')}\n`);
  log(`wrote results.csv (${results.length} rows) and differences.csv`);
  return results;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = opt('only');
  const stage = opt('stage');
  const stages = new Set(stage ? [stage] : ['teachers', 'tune', 'final', 'report']);
  const datasets = DATASETS.filter((d) => !only || d.id === only);
  if (datasets.length === 0) throw new Error(`--only: unknown dataset ${only}`);
  const t0 = Date.now();
  await Promise.all(datasets.map((ds) => pipeline(ds, stages)));
  if (stages.has('report')) report();
  log(`study done in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`capacity-gap: ${e.message}\n`);
    process.exit(1);
  });
}
