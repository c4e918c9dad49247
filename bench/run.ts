/**
 * `npm run bench`: the runner against PyTorch (+ OpenBLAS) on the same models, samples, optimizer
 * (Adam), batch size (128) and thread count, back to back; then one full `akd run` of the example.
 *
 *   npm run bench [-- --json FILE] [--threads N] [--models cnn,resnet8,mlp] [--repeat N] [--skip-run] [--skip-torch]
 *
 * Each side trains each model in its own process (peak RSS = that process's VmHWM), --repeat times
 * (default 3), the two sides alternating; the table gives each side's median samples/s. The thread
 * count is what the runner's "auto" picks for the model (see runner/training/dataParallel.ts),
 * unless --threads says otherwise; PyTorch gets the same. What PyTorch needs is installed here
 * if missing (Debian python3-torch via apt-get when root; libopenblas0-pthread unpacked into
 * .bench-cache/openblas and loaded for the PyTorch process only), or the bench says what is missing.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { selectBackend } from '../runner/backend/selectBackend';
import { loadDataset } from '../runner/data/dataset';
import { buildModel } from '../runner/models/buildModel';
import { autoReplicas, coreCount } from '../runner/training/dataParallel';
import { BENCH_MODELS } from './runnerBench';

const REPO = path.resolve(__dirname, '..', '..');
const CACHE = path.join(REPO, '.bench-cache');
const PY = '/usr/bin/python3';
const OPENBLAS_DIR = path.join(CACHE, 'openblas', 'usr', 'lib', 'x86_64-linux-gnu', 'openblas-pthread');

interface Side {
  samplesPerSecond: number;
  peakRssMiB: number;
  params: number;
  threads: number;
  [k: string]: unknown;
}
interface ModelResult {
  model: string;
  /** The median run by samples/s, with the highest peak RSS of all runs of that side. */
  runner: Side;
  pytorch?: Side;
  ratio?: number;
  rssRatio?: number;
  /** samples/s of every run, in order. */
  runs?: { runner: number[]; pytorch?: number[] };
}

/** The run with the median samples/s (the lower middle one for an even count), reporting the highest peak RSS seen. */
function medianSide(sides: Side[]): Side {
  const sorted = [...sides].sort((a, b) => a.samplesPerSecond - b.samplesPerSecond);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...mid, peakRssMiB: Math.max(...sides.map((x) => x.peakRssMiB)) };
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const has = (name: string): boolean => process.argv.includes(`--${name}`);

function say(msg: string): void {
  process.stderr.write(msg + '\n');
}

function torchImports(): boolean {
  return fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
}

/** python3-torch and OpenBLAS for the PyTorch side; returns why it can't run, or undefined. */
function ensurePytorch(): string | undefined {
  if (!torchImports()) {
    if (process.getuid?.() === 0) {
      say('bench: installing Debian python3-torch (apt-get install -y python3-torch) ...');
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      spawnSync('apt-get', ['install', '-y', '-qq', 'python3-torch'], {
        stdio: 'inherit',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    }
    if (!torchImports()) {
      return (
        `PyTorch is missing: ${PY} cannot import torch and numpy. Install Debian's python3-torch ` +
        '(as root: apt-get install python3-torch), then run the bench again.'
      );
    }
  }
  if (!fs.existsSync(path.join(OPENBLAS_DIR, 'libblas.so.3'))) {
    say('bench: fetching libopenblas0-pthread (apt-get download) into .bench-cache/openblas ...');
    const dl = path.join(CACHE, 'deb');
    fs.mkdirSync(dl, { recursive: true });
    const r = spawnSync('apt-get', ['download', 'libopenblas0-pthread'], { cwd: dl, stdio: 'inherit' });
    const deb = fs.readdirSync(dl).find((f) => f.startsWith('libopenblas0-pthread') && f.endsWith('.deb'));
    if (r.status !== 0 || !deb) {
      return (
        'OpenBLAS is missing: `apt-get download libopenblas0-pthread` failed (needs Debian apt sources; ' +
        `run \`apt-get update\` first). Or unpack it yourself: dpkg -x libopenblas0-pthread_*.deb ${path.join(CACHE, 'openblas')}`
      );
    }
    execFileSync('dpkg', ['-x', path.join(dl, deb), path.join(CACHE, 'openblas')]);
    if (!fs.existsSync(path.join(OPENBLAS_DIR, 'libblas.so.3')))
      return `OpenBLAS is missing: no libblas.so.3 in ${OPENBLAS_DIR} after dpkg -x`;
  }
  return undefined;
}

/** Deterministic values in [0, 1). */
function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 32;
  }
  return v;
}

interface DataSpec {
  prefix: string;
  n: number;
  shape: [number, number, number];
  epochs: number;
}

function writeData(): Record<string, DataSpec> {
  fs.mkdirSync(CACHE, { recursive: true });
  const write = (file: string, a: Float32Array | Int32Array): void =>
    fs.writeFileSync(file, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  // MNIST: the first 51,200 training images (the same for both sides), normalized as the runner does.
  const mnist = loadDataset({ dataset: 'mnist', trainLimit: 51200, validationFraction: 0 }, REPO);
  const pm = path.join(CACHE, 'mnist');
  write(`${pm}.x.f32`, mnist.train.x);
  write(`${pm}.y.i32`, mnist.train.y);
  // Teacher logits for the annealing loss (speed only depends on the shapes).
  write(
    `${pm}.t.f32`,
    rand(mnist.train.n * 10, 7).map((v) => 10 * v - 5),
  );
  // CIFAR-shaped synthetic data for ResNet-8.
  const nc = 1920;
  const pc = path.join(CACHE, 'cifar-synthetic');
  write(
    `${pc}.x.f32`,
    rand(nc * 32 * 32 * 3, 3).map((v) => 2 * v - 1),
  );
  write(
    `${pc}.y.i32`,
    Int32Array.from(rand(nc, 4), (v) => Math.floor(v * 10)),
  );
  return {
    cnn: { prefix: pm, n: 3840, shape: [28, 28, 1], epochs: 3 },
    resnet8: { prefix: pc, n: nc, shape: [32, 32, 3], epochs: 3 },
    mlp: { prefix: pm, n: 51200, shape: [28, 28, 1], epochs: 3 },
  };
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): Side {
  const r = spawnSync(cmd, args, { cwd: REPO, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(line) as Side;
}

/** The runner's "auto" thread count for a model (what `akd run` would use on this machine). */
function autoThreads(model: string, shape: [number, number, number]): number {
  const m = buildModel(BENCH_MODELS[model], {
    inputShape: shape,
    classes: 10,
    seed: 1,
    name: `probe-${model}`,
  });
  const n = autoReplicas(m, 128, coreCount());
  m.dispose();
  return n;
}

async function timeExampleRun(): Promise<{
  seconds: number;
  status: number | null;
  studentTestAccuracy?: number;
  teacherTestAccuracy?: number;
}> {
  const out = path.join(CACHE, 'runs');
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      path.join(REPO, 'bin', 'akd.js'),
      'run',
      path.join(REPO, 'examples', 'mnist-cnn-to-mlp.akd.json'),
      '--out',
      out,
      '--json',
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let text = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    text += c;
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = (performance.now() - t0) / 1000;
  const done = text
    .split('\n')
    .filter((l) => l.includes('"run-completed"'))
    .pop();
  const summary = done
    ? (
        JSON.parse(done) as {
          summary: { student: { testAccuracy: number }; teacher: { testAccuracy: number } };
        }
      ).summary
    : undefined;
  return {
    seconds,
    status,
    studentTestAccuracy: summary?.student.testAccuracy,
    teacherTestAccuracy: summary?.teacher.testAccuracy,
  };
}

const fmt = (v: number | undefined, d = 0): string =>
  v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d);
/** " (min-max)" of several runs, nothing for one. */
const spread = (v: number[] | undefined): string =>
  v && v.length > 1 ? ` (${fmt(Math.min(...v))}-${fmt(Math.max(...v))})` : '';

async function main(): Promise<void> {
  await selectBackend('cpu');
  const models = (flag('models') ?? 'cnn,resnet8,mlp').split(',');
  const threadsFlag = flag('threads');
  const repeat = Math.max(1, Number(flag('repeat') ?? '3'));
  const loadAtStart = os.loadavg();
  say(
    `bench: ${os.cpus()[0]?.model ?? 'cpu'}, ${coreCount()} cores; load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  const missing = has('skip-torch') ? 'skipped (--skip-torch)' : ensurePytorch();
  if (missing) say(`bench: PyTorch side not run: ${missing}`);
  const data = writeData();
  const results: ModelResult[] = [];
  for (const model of models) {
    const d = data[model];
    if (!d) throw new Error(`unknown model ${model} (cnn, resnet8, mlp)`);
    const threads = threadsFlag ? Number(threadsFlag) : autoThreads(model, d.shape);
    const common = [
      '--model',
      model,
      '--threads',
      String(threads),
      '--data',
      d.prefix,
      '--n',
      String(d.n),
      '--epochs',
      String(d.epochs),
    ];
    const env = {
      ...process.env,
      LD_LIBRARY_PATH: [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      OMP_NUM_THREADS: String(threads),
      OPENBLAS_NUM_THREADS: String(threads),
      MKL_NUM_THREADS: String(threads),
    };
    // The two sides alternate, `repeat` times each, so a burst of load hits both; the medians count.
    const runners: Side[] = [];
    const torches: Side[] = [];
    for (let i = 0; i < repeat; i++) {
      say(`bench: ${model}: runner (${threads} thread${threads === 1 ? '' : 's'}) [${i + 1}/${repeat}] ...`);
      runners.push(
        runJson(
          process.execPath,
          [path.join(__dirname, 'runnerBench.js'), ...common, '--shape', d.shape.join(',')],
          process.env,
        ),
      );
      if (missing) continue;
      say(
        `bench: ${model}: pytorch (${threads} thread${threads === 1 ? '' : 's'}, OpenBLAS) [${i + 1}/${repeat}] ...`,
      );
      torches.push(
        runJson(
          PY,
          [path.join(REPO, 'bench', 'torch_bench.py'), ...common, '--shape', d.shape.join(',')],
          env,
        ),
      );
    }
    const runner = medianSide(runners);
    const r: ModelResult = { model, runner, runs: { runner: runners.map((x) => x.samplesPerSecond) } };
    if (torches.length > 0) {
      r.pytorch = medianSide(torches);
      r.runs!.pytorch = torches.map((x) => x.samplesPerSecond);
      if (r.pytorch.params !== runner.params)
        throw new Error(`${model}: PyTorch has ${r.pytorch.params} parameters, the runner ${runner.params}`);
      r.ratio = runner.samplesPerSecond / r.pytorch.samplesPerSecond;
      r.rssRatio = runner.peakRssMiB / r.pytorch.peakRssMiB;
    }
    results.push(r);
    say(
      `bench: ${model}: runner ${fmt(runner.samplesPerSecond)} samples/s, ${fmt(runner.peakRssMiB)} MiB` +
        (r.pytorch
          ? `; pytorch ${fmt(r.pytorch.samplesPerSecond)} samples/s, ${fmt(r.pytorch.peakRssMiB)} MiB (${String(r.pytorch.blas)})`
          : ''),
    );
  }
  const example = has('skip-run')
    ? undefined
    : (say('bench: one full akd run of examples/mnist-cnn-to-mlp.akd.json ...'), await timeExampleRun());

  const names: Record<string, string> = {
    cnn: 'CNN teacher (MNIST)',
    resnet8: 'ResNet-8 (32x32x3)',
    mlp: 'MLP student, annealing loss',
  };
  const lines = [
    '| model | params | threads | runner samples/s (median, range) | PyTorch samples/s (median, range) | runner/PyTorch | runner peak RSS MiB | PyTorch peak RSS MiB | RSS ratio |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${names[r.model]} | ${r.runner.params.toLocaleString('en-US')} | ${r.runner.threads} | ${fmt(r.runner.samplesPerSecond)}${spread(r.runs?.runner)} | ${fmt(r.pytorch?.samplesPerSecond)}${spread(r.runs?.pytorch)} | ${fmt(r.ratio, 2)} | ${fmt(r.runner.peakRssMiB)} | ${fmt(r.pytorch?.peakRssMiB)} | ${fmt(r.rssRatio, 2)} |`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (example) {
    process.stdout.write(
      `\nakd run examples/mnist-cnn-to-mlp.akd.json: ${example.seconds.toFixed(1)} s wall (exit ${example.status}; ` +
        `teacher ${fmt((example.teacherTestAccuracy ?? NaN) * 100, 1)}%, student ${fmt((example.studentTestAccuracy ?? NaN) * 100, 1)}% test accuracy)\n`,
    );
  }
  const jsonFile = flag('json');
  if (jsonFile) {
    const doc = {
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: coreCount(),
        node: process.version,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: os.loadavg(),
      },
      date: new Date().toISOString(),
      batchSize: 128,
      optimizer: 'adam',
      repeat,
      results,
      exampleRun: example,
    };
    fs.writeFileSync(path.resolve(jsonFile), JSON.stringify(doc, null, 2) + '\n');
    say(`bench: figures written to ${path.resolve(jsonFile)}`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
