/**
 * The Annealing-KD temperature schedule (phase 1): T = tauMax, tauMax-1, ..., 1, with the
 * teacher's logits scaled by Phi(T) = 1 - (T-1)/tauMax, so the target scale runs
 * 1/tauMax, 2/tauMax, ..., 1.
 *
 * The reference code counts T up 1, 2, ... every int(epochs/tauMax) epochs (it asserts
 * epochs >= tauMax). When epochs is not a multiple of tauMax, T keeps rising past tauMax in
 * the last epochs, so the target scale T/tauMax passes 1. Here every temperature gets
 * floor(epochs/tauMax) epochs and the remainder goes to the last (lowest) temperatures, so T
 * stays in [1, tauMax] and Phi never exceeds 1; epochs < tauMax is a config error, as there.
 */

export interface TemperatureStep {
  /** 0-based index of the step. */
  step: number;
  temperature: number;
  phi: number;
  /** Epochs spent at this temperature. */
  epochs: number;
  /** Epochs of phase 1 done before this step starts. */
  firstEpoch: number;
}

export function phi(temperature: number, tauMax: number): number {
  if (!Number.isInteger(tauMax) || tauMax < 1)
    throw new RangeError(`tauMax must be an integer >= 1, got ${tauMax}`);
  if (temperature < 1 || temperature > tauMax) {
    throw new RangeError(`temperature must lie in [1, ${tauMax}], got ${temperature}`);
  }
  // Same as 1 - (T-1)/tauMax, written so the values k/tauMax come out exact in floating point.
  return (tauMax - temperature + 1) / tauMax;
}

export function annealingSchedule(tauMax: number, epochs: number): TemperatureStep[] {
  if (!Number.isInteger(epochs) || epochs < tauMax) {
    throw new RangeError(
      `phase 1 needs at least one epoch per temperature: epochs ${epochs} < tauMax ${tauMax}`,
    );
  }
  const base = Math.floor(epochs / tauMax);
  const extra = epochs % tauMax;
  const steps: TemperatureStep[] = [];
  let firstEpoch = 0;
  for (let step = 0; step < tauMax; step++) {
    const temperature = tauMax - step;
    // The last `extra` steps (lowest temperatures, closest to the real teacher) get one more epoch.
    const n = base + (step >= tauMax - extra ? 1 : 0);
    steps.push({ step, temperature, phi: phi(temperature, tauMax), epochs: n, firstEpoch });
    firstEpoch += n;
  }
  return steps;
}

/** The step a given 0-based phase-1 epoch belongs to. */
export function stepForEpoch(steps: TemperatureStep[], epoch: number): TemperatureStep {
  for (const s of steps) {
    if (epoch < s.firstEpoch + s.epochs) return s;
  }
  throw new RangeError(`epoch ${epoch} is past the end of phase 1`);
}
