/**
 * Many finished run folders written directly (config.json, summary.json and a short events.jsonl,
 * as the runner leaves them), for the experiments table's scale checks: a grid of methods,
 * settings and seeds with plausible accuracies. No training: what is measured is reading and
 * showing them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const METHODS = ['scratch', 'kd', 'takd', 'annealing'] as const;

export interface ManyRunsOptions {
  /** The folder the config sits in: runs go to <dir>/.akd/runs/. */
  dir: string;
  count: number;
  name?: string;
}

/** Every STAR_EVERY-th run (from the 8th) is starred with a note, as `akd star` and `akd note` leave it. */
const STAR_EVERY = 400;
const isStarred = (i: number): boolean => i % STAR_EVERY === 7;

/** How many of `count` runs writeManyRuns stars. */
export function starredOf(count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (isStarred(i)) n++;
  return n;
}

/** Writes `count` runs and a config beside them; returns the config's path. */
export function writeManyRuns(o: ManyRunsOptions): string {
  const name = o.name ?? 'scale';
  const root = path.join(o.dir, '.akd', 'runs');
  fs.mkdirSync(root, { recursive: true });
  const configPath = path.join(o.dir, `${name}.akd.json`);
  fs.writeFileSync(
    configPath,
    JSON.stringify(
      {
        name,
        seed: 1,
        data: { dataset: 'mnist', trainLimit: 1000 },
        teacher: {
          model: { type: 'mlp', hidden: [32] },
          epochs: 1,
          optimizer: { type: 'adam', learningRate: 0.003 },
        },
        student: { model: { type: 'mlp', hidden: [8] } },
        method: {
          type: 'annealing',
          tauMax: 2,
          phase1: { epochs: 2, optimizer: { type: 'adam', learningRate: 0.003 } },
          phase2: { epochs: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
        },
      },
      null,
      2,
    ),
  );
  const t0 = Date.parse('2021-01-01T00:00:00Z');
  for (let i = 0; i < o.count; i++) {
    const method = METHODS[i % 4];
    const seed = 1 + (Math.floor(i / 4) % 5);
    const lr = [0.0003, 0.001, 0.003, 0.01][Math.floor(i / 20) % 4];
    const tauMax = [2, 5, 10][Math.floor(i / 80) % 3];
    const hidden = [[8], [32], [128]][Math.floor(i / 240) % 3];
    const time = new Date(t0 + i * 60_000);
    const stamp = time.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const runId = `${stamp}-${name}-${i}`;
    const runDir = path.join(root, runId);
    fs.mkdirSync(runDir, { recursive: true });
    const opt = { type: 'adam', learningRate: lr };
    const methodConfig =
      method === 'annealing'
        ? {
            type: 'annealing',
            tauMax,
            phase1: { epochs: 20, optimizer: opt },
            phase2: { epochs: 10, optimizer: opt },
          }
        : method === 'kd'
          ? { type: 'kd', epochs: 30, optimizer: opt, temperature: 4, alpha: 0.9 }
          : method === 'takd'
            ? {
                type: 'takd',
                epochs: 30,
                optimizer: opt,
                temperature: 4,
                alpha: 0.9,
                assistant: { model: { type: 'mlp', hidden: [64] } },
              }
            : { type: 'scratch', epochs: 30, optimizer: opt };
    const config = {
      name,
      seed,
      data: { dataset: 'mnist', trainLimit: 1000, validationFraction: 0.1 },
      teacher: { model: { type: 'mlp', hidden: [32] }, epochs: 1, optimizer: opt },
      student: { model: { type: 'mlp', hidden } },
      method: methodConfig,
      batchSize: 128,
      backend: 'auto',
    };
    const size = hidden[0];
    const acc =
      0.8 +
      (0.04 * Math.log2(size / 4)) / 5 +
      (method === 'scratch' ? 0.01 : 0) -
      0.02 * Math.abs(Math.log10(lr / 0.001)) +
      0.004 * Math.sin(i * 1.7);
    const studentParams = 784 * size + size + size * 10 + 10;
    const summary = {
      runId,
      name,
      status: 'completed',
      backend: 'wasm',
      method,
      teacher: { type: 'mlp', params: 25450, source: 'trained', testAccuracy: 0.93 },
      student: {
        type: 'mlp',
        params: studentParams,
        source: 'trained',
        testAccuracy: Number(acc.toFixed(4)),
      },
      protocol: 'held-out',
      compression: 25450 / studentParams,
      phases: [
        {
          phase: method === 'annealing' ? 'finetune' : method === 'scratch' ? 'train' : 'kd',
          epochs: 10,
          bestValAccuracy: Number((acc + 0.006).toFixed(4)),
          bestEpoch: 8,
          finalValAccuracy: Number(acc.toFixed(4)),
        },
      ],
      startedAt: time.toISOString(),
      endedAt: new Date(time.getTime() + 20_000).toISOString(),
      seconds: 15 + (i % 13),
    };
    const started = {
      v: 1,
      time: time.toISOString(),
      type: 'run-started',
      runId,
      runDir,
      configPath,
      config,
      backend: 'wasm',
      teacher: { type: 'mlp', params: 25450, source: 'trained' },
      student: { type: 'mlp', params: studentParams, source: 'trained' },
      data: { train: 900, validation: 100, test: 500, inputShape: [28, 28, 1], classes: 10 },
      protocol: 'held-out',
      pid: 999999,
    };
    const completed = { v: 1, time: summary.endedAt, type: 'run-completed', summary };
    fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2));
    fs.writeFileSync(path.join(runDir, 'summary.json'), JSON.stringify(summary, null, 2));
    fs.writeFileSync(
      path.join(runDir, 'events.jsonl'),
      `${JSON.stringify(started)}\n${JSON.stringify(completed)}\n`,
    );
    if (isStarred(i))
      fs.writeFileSync(
        path.join(runDir, 'meta.json'),
        JSON.stringify({ starred: true, note: `scale run ${i}, kept`, updatedAt: summary.endedAt }),
      );
  }
  return configPath;
}

/** Removes what writeManyRuns wrote. */
export function removeManyRuns(o: Pick<ManyRunsOptions, 'dir' | 'name'>): void {
  fs.rmSync(path.join(o.dir, `${o.name ?? 'scale'}.akd.json`), { force: true });
  fs.rmSync(path.join(o.dir, '.akd'), { recursive: true, force: true });
}
