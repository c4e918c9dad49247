/**
 * Sweep expansion (pure): one config with a `sweep` block -> its members, each a complete
 * experiment config. Methods the config does not spell out get derived defaults with the same
 * student epoch budget; `sweep.methodSettings` overrides them; grid values apply last.
 * No TensorFlow or file access here: the validator, the CLI and the tests call it directly.
 */
import type {
  AnnealingMethod,
  ExperimentConfig,
  MethodConfig,
  MethodType,
  ModelConfig,
  OptimizerConfig,
  SweepConfig,
} from '../protocol/configTypes';
import { METHOD_TYPES, isCheckpointTeacher } from '../protocol/configTypes';

export interface SweepMember {
  /** Unique, file-name safe, stable for the same sweep: e.g. "kd-temperature2-s3". */
  id: string;
  /** 0-based position in the sweep (the Slurm array index). */
  index: number;
  method: MethodType;
  seed: number;
  /** The grid values this member got (dotted key -> value); keys that do not apply to its method are absent. */
  overrides: Record<string, unknown>;
  /** The member's complete config: no `sweep`, `seed` = the member's, the teacher's seed pinned to the sweep's. */
  config: ExperimentConfig;
}

export interface SweepOverrides {
  seeds?: number[];
  methods?: MethodType[];
  concurrency?: number;
}

/** The sweep block with command-line flags applied (flags win). */
export function effectiveSweep(config: ExperimentConfig, flags: SweepOverrides = {}): SweepConfig {
  const s = config.sweep ?? {};
  return {
    ...s,
    ...(flags.seeds ? { seeds: flags.seeds } : {}),
    ...(flags.methods ? { methods: flags.methods } : {}),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
  };
}

/** Student epochs a method trains for (annealing: phase 1 + phase 2; TAKD: the student's, not the assistant's). */
export function studentEpochBudget(m: MethodConfig): number {
  return m.type === 'annealing' ? m.phase1.epochs + m.phase2.epochs : m.epochs;
}

/** The optimizer a derived method starts from: the method's, or annealing's phase-1 one (the bulk of its budget). */
function studentOptimizer(m: MethodConfig): OptimizerConfig {
  return m.type === 'annealing' ? m.phase1.optimizer : m.optimizer;
}

/**
 * Annealing's split of a budget of B student epochs: phase 1 gets about 2/3 (the reference code
 * runs 200 + 100..200), rounded down to a multiple of tauMax = min(10, that); phase 2 the rest.
 */
export function annealingSplit(budget: number): { tauMax: number; phase1: number; phase2: number } {
  const target = Math.max(1, Math.round((2 * budget) / 3));
  const tauMax = Math.min(10, target);
  const phase1 = Math.floor(target / tauMax) * tauMax;
  return { tauMax, phase1, phase2: Math.max(0, budget - phase1) };
}

/**
 * A default TAKD assistant between the teacher and the student: an MLP/CNN student's layers
 * four (MLP) or two (CNN) times wider; a ResNet of depth 6n+2 with n the geometric mean of the
 * teacher's and the student's blocks per stage (110 -> 8 gives 26).
 */
export function defaultAssistantModel(student: ModelConfig, teacher: ModelConfig | undefined): ModelConfig {
  switch (student.type) {
    case 'mlp':
      return { type: 'mlp', hidden: student.hidden.length > 0 ? student.hidden.map((h) => h * 4) : [32] };
    case 'cnn':
      return {
        type: 'cnn',
        filters: student.filters.map((f) => f * 2),
        dense: student.dense.map((d) => d * 2),
      };
    case 'resnet': {
      const nStudent = Math.max(1, Math.round((student.depth - 2) / 6));
      const nTeacher =
        teacher?.type === 'resnet' ? Math.max(1, Math.round((teacher.depth - 2) / 6)) : nStudent * 4;
      const n = Math.max(nStudent + 1, Math.round(Math.sqrt(nStudent * nTeacher)));
      return {
        type: 'resnet',
        depth: 6 * n + 2,
        ...(student.width !== undefined ? { width: student.width } : {}),
      };
    }
  }
}

/** Keys whose objects are replaced as a whole by a setting, never merged (a "cnn" model must not keep an "mlp"'s "hidden"). */
const REPLACE_WHOLE = new Set(['model', 'optimizer', 'schedule', 'assistant']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergeSettings<T>(base: T, settings: Record<string, unknown> | undefined): T {
  if (!settings) return base;
  const out = structuredClone(base) as Record<string, unknown>;
  for (const [k, v] of Object.entries(settings)) {
    out[k] =
      isPlainObject(v) && isPlainObject(out[k]) && !REPLACE_WHOLE.has(k)
        ? mergeSettings(out[k], v)
        : structuredClone(v);
  }
  return out as T;
}

/** The method config of `type` for this experiment: `method` itself for its own type, else derived; then `methodSettings`. */
export function methodFor(
  config: ExperimentConfig,
  type: MethodType,
  sweep: SweepConfig = config.sweep ?? {},
): MethodConfig {
  const base = config.method;
  const settings = sweep.methodSettings?.[type];
  if (base.type === type) return mergeSettings(base, settings);
  const budget = studentEpochBudget(base);
  const optimizer = structuredClone(studentOptimizer(base));
  const soft =
    base.type === 'kd' || base.type === 'takd'
      ? { temperature: base.temperature, alpha: base.alpha }
      : { temperature: 4, alpha: 0.9 };
  let derived: MethodConfig;
  switch (type) {
    case 'scratch':
      derived = { type, epochs: budget, optimizer };
      break;
    case 'kd':
      derived = { type, epochs: budget, optimizer, ...soft };
      break;
    case 'takd': {
      const teacherModel = isCheckpointTeacher(config.teacher) ? undefined : config.teacher.model;
      derived = {
        type,
        assistant: { model: defaultAssistantModel(config.student.model, teacherModel) },
        epochs: budget,
        optimizer,
        ...soft,
      };
      break;
    }
    case 'annealing': {
      const split = annealingSplit(budget);
      const a: AnnealingMethod = {
        type,
        tauMax: split.tauMax,
        phase1: { epochs: split.phase1, optimizer },
        phase2: { epochs: split.phase2, optimizer: structuredClone(optimizer) },
      };
      derived = a;
      break;
    }
  }
  return mergeSettings(derived, settings);
}

/** A grid key's scope: every member, one method's members, or members whose method has the key. */
export type GridScope =
  { kind: 'config'; path: string[] } | { kind: 'method'; method?: MethodType; path: string[] };

export function gridScope(key: string): GridScope {
  const [root, ...rest] = key.split('.');
  if ((METHOD_TYPES as readonly string[]).includes(root))
    return { kind: 'method', method: root as MethodType, path: rest };
  if (root === 'method') return { kind: 'method', path: rest };
  return { kind: 'config', path: [root, ...rest] };
}

/**
 * The paths of a grid key: one, or several tied together by commas, whose values are tuples
 * varied together ("annealing.phase1.epochs,annealing.phase2.epochs": [[10, 20], [20, 10]]
 * keeps the phase-1 + phase-2 budget fixed instead of crossing every pair).
 */
export function gridKeyParts(key: string): string[] {
  return key.split(',').map((k) => k.trim());
}

/** Whether a grid key varies a member of this method (whose method config is `method`); a tied key when all its paths do. */
export function gridKeyApplies(key: string, method: MethodConfig): boolean {
  return gridKeyParts(key).every((part) => {
    const scope = gridScope(part);
    if (scope.kind === 'config') return true;
    if (scope.method) return scope.method === method.type;
    return scope.path.length > 0 && Object.prototype.hasOwnProperty.call(method, scope.path[0]);
  });
}

/** A grid point (grid key -> value) as single paths -> values, tied keys split into their parts. */
export function expandPoint(point: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(point)) {
    const parts = gridKeyParts(key);
    if (parts.length === 1) out[key] = value;
    else
      parts.forEach((part, i) => {
        out[part] = Array.isArray(value) ? value[i] : undefined;
      });
  }
  return out;
}

/** Set a dotted path in a JSON value (numeric segments index arrays), creating objects on the way. */
export function setPath(root: Record<string, unknown>, keys: string[], value: unknown): void {
  let cur: Record<string, unknown> | unknown[] = root;
  keys.forEach((k, i) => {
    const last = i === keys.length - 1;
    const slot: string | number = Array.isArray(cur) ? Number(k) : k;
    const container = cur as Record<string | number, unknown>;
    if (last) {
      container[slot] = structuredClone(value);
    } else {
      if (container[slot] === null || typeof container[slot] !== 'object')
        container[slot] = /^\d+$/.test(keys[i + 1]) ? [] : {};
      cur = container[slot] as Record<string, unknown>;
    }
  });
}

/** Cartesian product of [key, values] pairs, as objects key -> value; one empty point for no keys. */
export function cartesian(axes: [string, unknown[]][]): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of axes) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  }
  return points;
}

/** A short, file-name safe rendering of a grid value: [16, 32] -> "16x32". */
export function valueLabel(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.map(valueLabel).join('x');
  if (isPlainObject(v)) {
    const t = typeof v.type === 'string' ? v.type : 'obj';
    const inner = Object.entries(v)
      .filter(([k]) => k !== 'type')
      .map(([, x]) => valueLabel(x))
      .join('-');
    return inner ? `${t}-${inner}` : t;
  }
  return String(v).replace(/[^A-Za-z0-9.]+/g, '_');
}

/** The shortest trailing part of each key that tells the keys apart: "phase1.learningRate" and "phase2.learningRate", else "learningRate". */
function shortKeys(keys: string[]): string[] {
  const segs = keys.map((k) =>
    k
      .split('.')
      .filter(
        (s, i, all) => !/^\d+$/.test(s) && (i === all.length - 1 || (s !== 'optimizer' && s !== 'model')),
      ),
  );
  return segs.map((parts, i) => {
    for (let n = 1; n < parts.length; n++) {
      const mine = parts.slice(-n).join('.');
      if (segs.every((other, j) => j === i || other.slice(-n).join('.') !== mine)) return mine;
    }
    return parts.join('.') || keys[i];
  });
}

function memberLabel(method: MethodType, overrides: Record<string, unknown>, seed: number): string {
  const parts: string[] = [method];
  const entries = Object.entries(overrides);
  const names = shortKeys(entries.map(([k]) => k));
  entries.forEach(([, v], i) => parts.push(`${names[i]}${valueLabel(v)}`));
  parts.push(`s${seed}`);
  return parts.join('-').slice(0, 90);
}

/**
 * Every member of the sweep, in run order: seeds outermost (so a partial sweep already compares
 * every method), then methods, then grid points. Each member config is complete and validated
 * separately (validate.ts); the shared teacher is pinned to the config's seed.
 */
export function expandSweep(config: ExperimentConfig, flags: SweepOverrides = {}): SweepMember[] {
  const sweep = effectiveSweep(config, flags);
  const seeds = sweep.seeds ?? [config.seed];
  const methods = sweep.methods ?? [config.method.type];
  const grid = Object.entries(sweep.grid ?? {});
  const members: SweepMember[] = [];
  const used = new Set<string>();
  for (const seed of seeds) {
    for (const type of methods) {
      const method = methodFor(config, type, sweep);
      const axes = grid.filter(([key]) => gridKeyApplies(key, method));
      for (const gridPoint of cartesian(axes)) {
        const point = expandPoint(gridPoint);
        const memberConfig = structuredClone(config) as ExperimentConfig & Record<string, unknown>;
        delete memberConfig.sweep;
        memberConfig.method = structuredClone(method);
        memberConfig.seed = seed;
        const teacher = config.teacher;
        if (!isCheckpointTeacher(teacher) && !isCheckpointTeacher(memberConfig.teacher))
          memberConfig.teacher.seed = teacher.seed ?? config.seed;
        for (const [key, value] of Object.entries(point)) {
          const scope = gridScope(key);
          setPath(memberConfig, scope.kind === 'config' ? scope.path : ['method', ...scope.path], value);
        }
        let id = memberLabel(type, point, seed);
        for (let k = 2; used.has(id); k++) id = `${memberLabel(type, point, seed)}-${k}`;
        used.add(id);
        members.push({
          id,
          index: members.length,
          method: type,
          seed,
          overrides: point,
          config: memberConfig,
        });
      }
    }
  }
  return members;
}

/** The grid keys that vary within a method's members (for grouping results): overrides minus the seed. */
export function variedKeys(members: SweepMember[]): string[] {
  const keys = new Set<string>();
  for (const m of members) for (const k of Object.keys(m.overrides)) keys.add(k);
  return [...keys];
}
