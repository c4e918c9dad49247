/** Synthetic run events for the dashboard's shaping tests (no runner needed). */
import type { ExperimentConfig } from '../../runner/protocol/configTypes';
import type { PhaseName, RunEvent } from '../../runner/protocol/events';

export const annealingConfig: ExperimentConfig = {
  name: 'tiny',
  seed: 1,
  data: { dataset: 'mnist', trainLimit: 1000 },
  teacher: {
    model: { type: 'mlp', hidden: [32] },
    epochs: 2,
    optimizer: { type: 'adam', learningRate: 0.003 },
  },
  student: { model: { type: 'mlp', hidden: [8] } },
  method: {
    type: 'annealing',
    tauMax: 2,
    phase1: { epochs: 4, optimizer: { type: 'adam', learningRate: 0.003 } },
    phase2: { epochs: 1, optimizer: { type: 'adam', learningRate: 0.003 } },
  },
} as ExperimentConfig;

/** Events with times 10 s apart from 2026-01-01T00:00:00Z. */
export class EventBuilder {
  readonly events: RunEvent[] = [];
  private t = Date.parse('2026-01-01T00:00:00Z');

  constructor(
    private readonly config: ExperimentConfig = annealingConfig,
    private readonly train = 1000,
  ) {}

  private push(e: Record<string, unknown>, dt = 10): this {
    this.events.push({ v: 1, time: new Date(this.t).toISOString(), ...e } as unknown as RunEvent);
    this.t += dt * 1000;
    return this;
  }

  started(extra: Record<string, unknown> = {}): this {
    return this.push(
      {
        type: 'run-started',
        runId: 'r1',
        runDir: '/runs/r1',
        configPath: '/c.akd.json',
        config: this.config,
        backend: 'wasm',
        teacher: { type: 'mlp', params: 25450, source: 'trained' },
        student: { type: 'mlp', params: 6370, source: 'trained' },
        data: { train: this.train, validation: 100, test: 500, inputShape: [28, 28, 1], classes: 10 },
        pid: 1,
        ...extra,
      },
      0,
    );
  }

  phase(phase: PhaseName, epochs: number, extra: Record<string, unknown> = {}): this {
    return this.push({ type: 'phase-started', phase, epochs, ...extra }, 0);
  }

  epoch(
    phase: PhaseName,
    epoch: number,
    epochs: number,
    extra: Record<string, unknown> = {},
    rate = 100,
  ): this {
    return this.push({
      type: 'epoch-ended',
      phase,
      epoch,
      epochs,
      loss: 1 / epoch,
      trainAccuracy: 0.5 + epoch / 100,
      valAccuracy: 0.6 + epoch / 100,
      samplesPerSecond: rate,
      lr: 0.003,
      seconds: 10,
      ...extra,
    });
  }

  progress(
    phase: PhaseName,
    epoch: number,
    epochs: number,
    batch: number,
    batches: number,
    rate = 100,
  ): this {
    return this.push(
      { type: 'progress', phase, epoch, epochs, batch, batches, loss: 0.5, samplesPerSecond: rate },
      5,
    );
  }

  completed(): this {
    return this.push({ type: 'run-completed', summary: { runId: 'r1' } }, 0);
  }

  cancelled(): this {
    return this.push({ type: 'run-cancelled', signal: 'SIGTERM' }, 0);
  }

  /** Teacher (2 epochs), anneal T=2 (2), T=1 (2), finetune (1). */
  fullAnnealing(): this {
    this.started().phase('teacher', 2).epoch('teacher', 1, 2, {}, 50).epoch('teacher', 2, 2, {}, 50);
    this.phase('anneal', 2, { temperature: 2, phi: 0.5, step: 0, steps: 2 })
      .epoch('anneal', 1, 4, { temperature: 2, phi: 0.5 })
      .epoch('anneal', 2, 4, { temperature: 2, phi: 0.5 });
    this.phase('anneal', 2, { temperature: 1, phi: 1, step: 1, steps: 2 })
      .epoch('anneal', 3, 4, { temperature: 1, phi: 1 })
      .epoch('anneal', 4, 4, { temperature: 1, phi: 1 });
    return this.phase('finetune', 1).epoch('finetune', 1, 1);
  }
}
