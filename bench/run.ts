/**
 * `npm run bench`: the runner against PyTorch (+ OpenBLAS) on the same models, samples, optimizer
 * (Adam), batch size (128) and thread count, back to back; the teacher's inference (its logits of
 * the training samples) against PyTorch's torch.no_grad() forward on the same threads; then
 * `npm start` (one full `akd run` of the example), timed, with each phase's first epoch against
 * its second as the run reports them (cold start).
 *
 *   npm run bench [-- --json FILE] [--threads N] [--models cnn,resnet8,mlp] [--repeat N] [--skip-run]
 *                 [--skip-torch] [--skip-inference]
 *
 * Each side trains each model in its own process (peak RSS = that process's VmHWM), --repeat times
 * (default 3), the two sides alternating; the table gives each side's median samples/s. The thread
 * count is what the runner's "auto" picks for the model (see runner/training/dataParallel.ts),
 * unless --threads says otherwise; PyTorch gets the same. Inference: PyTorch gets the threads the
 * runner's logits pass used. Every figure is printed with the CPU model, its SIMD extensions and
 * the load average. What PyTorch needs is installed here if missing (Debian python3-torch via
 * apt-get when root; libopenblas0-pthread unpacked into .bench-cache/openblas and loaded for the
 * PyTorch process only), or the bench says what is missing.
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
import { cpuDescription } from './cpuInfo';

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

/** One phase's first two epochs as the run reported them (epoch-ended.samplesPerSecond). */
interface ColdStart {
  phase: string;
  threads?: number;
  epoch1: number;
  epoch2: number;
  /** epoch1 / epoch2 (goal: >= 0.8). */
  ratio: number;
  /**
   * The same by the events' wall clock: epoch 1 from the phase's start (its threads' set-up,
   * warm-up, evaluation and checkpoint included) against epoch 2 (from epoch 1's end).
   */
  wall?: { epoch1: number; epoch2: number; ratio: number };
}

interface NpmStart {
  seconds: number;
  status: number | null;
  studentTestAccuracy?: number;
  teacherTestAccuracy?: number;
  coldStart: ColdStart[];
  /** The run's own "teacher logits computed once for N training samples in S s" line. */
  teacherLogits?: { samples: number; seconds: number };
}

/** `npm start -- --out .bench-cache/runs --json` (akd run of the example), timed from the outside. */
async function timeNpmStart(): Promise<NpmStart> {
  const out = path.join(CACHE, 'runs');
  // Under `npm run bench`, npm says where it is; else the npm next to this node.
  const npmCli = process.env.npm_execpath ?? path.join(path.dirname(process.execPath), 'npm');
  const [cmd, args] = npmCli.endsWith('.js') ? [process.execPath, [npmCli]] : [npmCli, []];
  const t0 = performance.now();
  const child = spawn(cmd, [...args, 'start', '--silent', '--', '--out', out, '--json'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    text += c;
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = (performance.now() - t0) / 1000;
  const events = text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
  const done = events.filter((e) => e.type === 'run-completed').pop() as
    { summary: { student: { testAccuracy: number }; teacher: { testAccuracy: number } } } | undefined;
  const coldStart: ColdStart[] = [];
  // One row per phase (annealing's phase 1 starts once per temperature: its first start counts).
  const starts = events.filter((e) => e.type === 'phase-started');
  for (const started of starts.filter((e, i) => starts.findIndex((f) => f.phase === e.phase) === i)) {
    const phase = String(started.phase);
    const epochs = events.filter((e) => e.type === 'epoch-ended' && e.phase === phase) as unknown as Array<{
      epoch: number;
      samplesPerSecond: number;
    }>;
    const [e1, e2] = [epochs.find((e) => e.epoch === 1), epochs.find((e) => e.epoch === 2)];
    if (e1 && e2) {
      const at = (e: unknown): number => Date.parse(String((e as { time?: string }).time));
      // Samples per epoch: the rate times the epoch's own (step) seconds.
      const samples = e1.samplesPerSecond * Number((e1 as unknown as { seconds: number }).seconds);
      const w1 = samples / ((at(e1) - at(started)) / 1000);
      const w2 = samples / ((at(e2) - at(e1)) / 1000);
      coldStart.push({
        phase,
        threads: started.threads as number | undefined,
        epoch1: e1.samplesPerSecond,
        epoch2: e2.samplesPerSecond,
        ratio: e1.samplesPerSecond / e2.samplesPerSecond,
        ...(Number.isFinite(w1 / w2) ? { wall: { epoch1: w1, epoch2: w2, ratio: w1 / w2 } } : {}),
      });
    }
  }
  const logits = events
    .filter((e) => e.type === 'log')
    .map((e) =>
      /teacher logits computed once for (\d+) training samples in ([\d.]+) s/.exec(String(e.message)),
    )
    .find((m) => m);
  return {
    seconds,
    status,
    studentTestAccuracy: done?.summary.student.testAccuracy,
    teacherTestAccuracy: done?.summary.teacher.testAccuracy,
    coldStart,
    teacherLogits: logits ? { samples: Number(logits[1]), seconds: Number(logits[2]) } : undefined,
  };
}

interface InferenceResult {
  model: string;
  samples: number;
  runner: Side;
  pytorch?: Side;
  ratio?: number;
  runs: { runner: number[]; pytorch?: number[] };
}

const fmt = (v: number | undefined, d = 0): string =>
  v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d);
/** " (min-max)" of several runs, nothing for one. */
const spread = (v: number[] | undefined): string =>
  v && v.length > 1 ? ` (${fmt(Math.min(...v))}-${fmt(Math.max(...v))})` : '';

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
const loadNow = (): string =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

/** The environment of a PyTorch process: OpenBLAS loaded, `threads` threads. */
function torchEnv(threads: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LD_LIBRARY_PATH: [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
}

/**
 * The two sides alternate, `repeat` times each, so a burst of load hits both; the medians count.
 * `torchThreads` picks PyTorch's threads from the runner's run (inference: the threads it used).
 */
function alternate(
  label: string,
  repeat: number,
  runnerArgs: string[],
  torchArgs: ((runner: Side) => string[]) | undefined,
  torchThreads: (runner: Side) => number,
): { runners: Side[]; torches: Side[] } {
  const runners: Side[] = [];
  const torches: Side[] = [];
  for (let i = 0; i < repeat; i++) {
    say(`bench: ${label}: runner [${i + 1}/${repeat}] ...`);
    const r = runJson(process.execPath, [path.join(__dirname, 'runnerBench.js'), ...runnerArgs], process.env);
    runners.push(r);
    if (!torchArgs) continue;
    const threads = torchThreads(r);
    say(`bench: ${label}: pytorch (${plural(threads, 'thread')}, OpenBLAS) [${i + 1}/${repeat}] ...`);
    torches.push(
      runJson(PY, [path.join(REPO, 'bench', 'torch_bench.py'), ...torchArgs(r)], torchEnv(threads)),
    );
  }
  return { runners, torches };
}

async function main(): Promise<void> {
  await selectBackend('cpu');
  const models = (flag('models') ?? 'cnn,resnet8,mlp').split(',');
  const threadsFlag = flag('threads');
  const repeat = Math.max(1, Number(flag('repeat') ?? '3'));
  const loadAtStart = os.loadavg();
  const cpu = cpuDescription();
  say(`bench: ${cpu.model}, ${plural(coreCount(), 'core')}; ${cpu.simd}; load average ${loadNow()}`);
  const missing = has('skip-torch') ? 'skipped (--skip-torch)' : ensurePytorch();
  if (missing) say(`bench: PyTorch side not run: ${missing}`);
  const data = writeData();
  const results: ModelResult[] = [];
  for (const model of models) {
    const d = data[model];
    if (!d) throw new Error(`unknown model ${model} (cnn, resnet8, mlp)`);
    const threads = threadsFlag ? Number(threadsFlag) : autoThreads(model, d.shape);
    const common = [
      ...['--model', model, '--threads', String(threads), '--data', d.prefix],
      ...['--n', String(d.n), '--epochs', String(d.epochs), '--shape', d.shape.join(',')],
    ];
    const { runners, torches } = alternate(
      `${model} training (${plural(threads, 'thread')})`,
      repeat,
      common,
      missing ? undefined : () => common,
      () => threads,
    );
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

  // The teacher's logits of the training samples (what akd run computes before distilling): the
  // example's CNN teacher on as many MNIST samples as the example trains on.
  let inference: InferenceResult | undefined;
  if (!has('skip-inference')) {
    const d = data.cnn;
    const samples = 9000;
    const args = [
      ...['--model', 'cnn', '--data', d.prefix, '--n', String(samples), '--shape', d.shape.join(',')],
      '--inference',
    ];
    const { runners, torches } = alternate(
      'cnn teacher logits',
      repeat,
      // As akd run: its training threads ("auto": every core) run the logits pass.
      [...args, '--threads', threadsFlag ?? String(coreCount())],
      missing ? undefined : (r) => [...args, '--threads', String(r.threads)],
      (r) => r.threads,
    );
    const runner = medianSide(runners);
    inference = { model: 'cnn', samples, runner, runs: { runner: runners.map((x) => x.samplesPerSecond) } };
    if (torches.length > 0) {
      inference.pytorch = medianSide(torches);
      inference.runs.pytorch = torches.map((x) => x.samplesPerSecond);
      inference.ratio = runner.samplesPerSecond / inference.pytorch.samplesPerSecond;
    }
  }

  const npmStart = has('skip-run')
    ? undefined
    : (say('bench: npm start (akd run examples/mnist-cnn-to-mlp.akd.json) ...'), await timeNpmStart());

  const names: Record<string, string> = {
    cnn: 'CNN teacher (MNIST)',
    resnet8: 'ResNet-8 (32x32x3)',
    mlp: 'MLP student, annealing loss',
  };
  const lines = [
    `${cpu.model}, ${plural(coreCount(), 'core')}; ${cpu.simd}; Node ${process.version}; ` +
      `load average ${loadAtStart.map((v) => v.toFixed(2)).join(' ')} at the start, ${loadNow()} at the end`,
    '',
    'Training (steady: epochs after the first), batch 128, Adam:',
    '',
    '| model | params | threads | runner samples/s (median, range) | PyTorch samples/s (median, range) | runner/PyTorch | runner peak RSS MiB | PyTorch peak RSS MiB | RSS ratio |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${names[r.model]} | ${r.runner.params.toLocaleString('en-US')} | ${r.runner.threads} | ${fmt(r.runner.samplesPerSecond)}${spread(r.runs?.runner)} | ${fmt(r.pytorch?.samplesPerSecond)}${spread(r.runs?.pytorch)} | ${fmt(r.ratio, 2)} | ${fmt(r.runner.peakRssMiB)} | ${fmt(r.pytorch?.peakRssMiB)} | ${fmt(r.rssRatio, 2)} |`,
    ),
  ];
  if (inference) {
    const i = inference;
    lines.push(
      '',
      `Teacher inference (the CNN teacher's logits of ${i.samples} training samples, batches of ${String(i.runner.evalBatchSize)}; ` +
        `runner: its training threads' predictLogits as akd run calls it (first pass: threads starting); PyTorch: eval mode, torch.no_grad()):`,
      '',
      '| threads | runner samples/s (median, range) | runner first pass | PyTorch samples/s (median, range) | runner/PyTorch |',
      '|---|---|---|---|---|',
      `| ${i.runner.threads} | ${fmt(i.runner.samplesPerSecond)}${spread(i.runs.runner)} | ${fmt(i.runner.firstPassSamplesPerSecond as number)} | ${fmt(i.pytorch?.samplesPerSecond)}${spread(i.runs.pytorch)} | ${fmt(i.ratio, 2)} |`,
    );
  }
  if (npmStart) {
    const e = npmStart;
    lines.push(
      '',
      `npm start (akd run examples/mnist-cnn-to-mlp.akd.json): ${e.seconds.toFixed(1)} s wall (exit ${e.status}; ` +
        `teacher ${fmt((e.teacherTestAccuracy ?? NaN) * 100, 1)}%, student ${fmt((e.studentTestAccuracy ?? NaN) * 100, 1)}% test accuracy)` +
        (e.teacherLogits
          ? `; the run's teacher logits: ${e.teacherLogits.samples} samples in ${e.teacherLogits.seconds.toFixed(1)} s ` +
            `(${fmt(e.teacherLogits.samples / e.teacherLogits.seconds)} samples/s)`
          : ''),
      '',
      'Cold start: each phase of that run, its first epoch against its second as the run reports them (epoch-ended: ' +
        "step time), and by the events' wall clock (epoch 1 from phase-started, its set-up, evaluation and checkpoint included):",
      '',
      '| phase | threads | epoch 1 samples/s | epoch 2 samples/s | epoch 1 / epoch 2 (goal >= 0.8) | wall: epoch 1 | wall: epoch 2 | wall: epoch 1 / epoch 2 |',
      '|---|---|---|---|---|---|---|---|',
      ...e.coldStart.map(
        (c) =>
          `| ${c.phase} | ${c.threads ?? '-'} | ${fmt(c.epoch1)} | ${fmt(c.epoch2)} | ${fmt(c.ratio, 2)} | ` +
          `${fmt(c.wall?.epoch1)} | ${fmt(c.wall?.epoch2)} | ${fmt(c.wall?.ratio, 2)} |`,
      ),
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  const jsonFile = flag('json');
  if (jsonFile) {
    const doc = {
      machine: {
        cpu: cpu.model,
        simd: cpu.simd,
        cpuFlags: cpu.flags,
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
      inference,
      npmStart,
    };
    fs.writeFileSync(path.resolve(jsonFile), JSON.stringify(doc, null, 2) + '\n');
    say(`bench: figures written to ${path.resolve(jsonFile)}`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
