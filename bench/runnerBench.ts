/**
 * Runner side of `npm run bench`, one model per process (so its peak RSS is its own): trains with
 * the runner's own phase trainer (`runPhase`: batch gathering, the step, data-parallel workers)
 * on the samples bench/run.ts wrote, and prints one JSON line: samples/s over the measured epochs
 * (wall clock between epoch ends; the first epoch is warm-up), parameters, threads, peak RSS.
 * With --inference: the teacher's logits of those samples instead, as `akd run` computes them
 * (the run's training threads' predictLogits, batches of evalBatchSize, on as many threads as
 * it pays), twice: samples/s of the second pass (the first, cold one, which waits for the
 * threads to start, is reported too).
 *
 *   node out/bench/runnerBench.js --model cnn|resnet8|mlp --threads N --data PREFIX --n N --shape H,W,C [--inference]
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../runner/backend/selectBackend';
import { uninstallFusedAdam } from '../runner/backend/fusedAdam';
import type { BackendName, ModelConfig } from '../runner/protocol/configTypes';
import { buildModel } from '../runner/models/buildModel';
import type { RunEvent } from '../runner/protocol/events';
import type { EventLog } from '../runner/store/eventLog';
import { TrainingThreads } from '../runner/training/dataParallel';
import { createOptimizer } from '../runner/training/optimizers';
import { predictLogits } from '../runner/training/evaluate';
import type { Objective } from '../runner/training/objective';
import { runPhase, type PhaseContext } from '../runner/training/phaseTrainer';

export const BENCH_MODELS: Record<string, ModelConfig> = {
  cnn: { type: 'cnn', filters: [32, 64], dense: [128] },
  resnet8: { type: 'resnet', depth: 8, width: 16 },
  mlp: { type: 'mlp', hidden: [32] },
};

/** The value after `--name` on the command line, else `fallback` (required when there is none). */
export function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

export function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function readF32(file: string, count: number): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, count).slice();
}

async function main(): Promise<void> {
  const model = arg('model');
  const threadsWanted = Number(arg('threads'));
  const prefix = arg('data');
  const n = Number(arg('n'));
  const shape = arg('shape').split(',').map(Number) as [number, number, number];
  const epochs = Number(arg('epochs', '3'));
  const batchSize = Number(arg('batch', '128'));
  const phi = Number(arg('phi', '0.5'));
  const backendName = arg('backend', 'wasm') as BackendName;
  const choice = await selectBackend(backendName);
  // A/B switch for the fused Adam update (runner/backend/fusedAdam.ts).
  if (process.env.AKD_BENCH_NO_FUSED_ADAM) uninstallFusedAdam();
  const size = shape[0] * shape[1] * shape[2];
  const yb = fs.readFileSync(`${prefix}.y.i32`);
  const train = {
    x: readF32(`${prefix}.x.f32`, n * size),
    y: new Int32Array(yb.buffer, yb.byteOffset, n).slice(),
    n,
  };
  const classes = 10;
  const m = buildModel(BENCH_MODELS[model], { inputShape: shape, classes, seed: 1, name: model });
  if (process.argv.includes('--inference')) {
    const evalBatchSize = Number(arg('eval-batch', '1000'));
    const pool = TrainingThreads.forRun(threadsWanted, choice.backend);
    pool?.prestart();
    let used = 1;
    const pass = async (): Promise<number> => {
      const t0 = performance.now();
      if (pool) used = (await pool.predictLogits(m, train, shape, classes, evalBatchSize)).threads;
      else predictLogits(m, train, shape, classes, evalBatchSize);
      return n / ((performance.now() - t0) / 1000);
    };
    const first = await pass();
    const steady = await pass();
    await pool?.close();
    process.stdout.write(
      JSON.stringify({
        side: 'runner',
        mode: 'inference',
        model,
        threads: used,
        params: m.countParams(),
        samplesPerSecond: steady,
        firstPassSamplesPerSecond: first,
        evalBatchSize,
        peakRssMiB: peakRssMiB(),
        backend: choice.note,
      }) + '\n',
    );
    m.dispose();
    return;
  }
  const optimizer = createOptimizer({ type: 'adam', learningRate: 1e-3 });
  const objective: Objective =
    model === 'mlp'
      ? { kind: 'anneal', steps: [{ step: 0, temperature: 1, phi, epochs, firstEpoch: 0 }] }
      : { kind: 'ce' };
  const teacherLogits = model === 'mlp' ? readF32(`${prefix}.t.f32`, n * classes) : undefined;
  const threads = TrainingThreads.forRun(threadsWanted, choice.backend);
  const marks: number[] = [];
  const events: RunEvent[] = [];
  const log = {
    emit(e: RunEvent) {
      if (e.type === 'epoch-ended') marks.push(performance.now());
      events.push(e);
      return e;
    },
  } as unknown as EventLog;
  const ctx: PhaseContext = {
    log,
    cancel: { cancelled: false },
    train,
    validation: { x: new Float32Array(0), y: new Int32Array(0), n: 0 },
    inputShape: shape,
    classes,
    batchSize,
    evalBatchSize: 1000,
    seed: 1,
    progressIntervalMs: 1e9,
    threads,
  };
  try {
    const out = await runPhase(ctx, {
      phase: model === 'mlp' ? 'anneal' : 'teacher',
      model: m,
      optimizer,
      epochs,
      objective,
      targets: teacherLogits ? { kind: 'cached', logits: teacherLogits } : undefined,
      start: { epoch: 0, batch: 0 },
      checkpoint: async () => undefined,
    });
    if (out.status !== 'done') throw new Error('bench phase did not finish');
  } finally {
    await threads?.close();
  }
  const started = events.find((e) => e.type === 'phase-started');
  const usedThreads = started && started.type === 'phase-started' ? (started.threads ?? 1) : 1;
  const sps = (n * (epochs - 1)) / ((marks[marks.length - 1] - marks[0]) / 1000);
  const result = {
    side: 'runner',
    model,
    threads: usedThreads,
    params: m.countParams(),
    samplesPerSecond: sps,
    peakRssMiB: peakRssMiB(),
    backend: choice.note,
    numTensors: tf.memory().numTensors,
  };
  m.dispose();
  optimizer.optimizer.dispose();
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`runnerBench: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  });
}
