/**
 * TypeScript view of an experiment config (`*.akd.json`).
 * The JSON Schema in `schema.json` is the source of truth for shape and defaults;
 * these types mirror it for code. No TensorFlow import here: the extension, the
 * language server and the webview import this module.
 */

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface StepSchedule {
  type: 'step';
  /** Fractions of the phase's epochs at which the LR is multiplied by `gamma` (e.g. [0.5, 0.75]). */
  milestones: number[];
  gamma: number;
}

export interface SgdOptimizer {
  type: 'sgd';
  learningRate: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  schedule?: StepSchedule;
}

export interface AdamOptimizer {
  type: 'adam';
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  schedule?: StepSchedule;
}

export type OptimizerConfig = SgdOptimizer | AdamOptimizer;

/**
 * The 0-based epoch from which a step-schedule milestone (a fraction of the phase's epochs)
 * applies: floor, as the reference code's `int(epochs / 2)` and `int(3 * epochs / 4)` (the
 * epsilon keeps e.g. 0.7 * 10 = 7.000000000000001 and 0.57 * 100 = 56.99999999999999 exact).
 */
export function milestoneEpoch(milestone: number, epochs: number): number {
  return Math.floor(milestone * epochs + 1e-9);
}

export interface MlpModel {
  type: 'mlp';
  hidden: number[];
}
export interface CnnModel {
  type: 'cnn';
  filters: number[];
  dense: number[];
}
export interface ResnetModel {
  type: 'resnet';
  depth: number;
  width?: number;
}
export type ModelConfig = MlpModel | CnnModel | ResnetModel;

export interface EmbeddedData {
  dataset: 'mnist';
}
export interface IdxData {
  format: 'idx';
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}
export interface CifarData {
  format: 'cifar10' | 'cifar100';
  dir: string;
}
export type DataSource = EmbeddedData | IdxData | CifarData;
/** Augmentation of training batches (see schema.json `data.augment`). */
export interface AugmentConfig {
  /** Zero-pad (raw pixel value 0) this many pixels each side, crop back at a random offset; 0 or absent: off. */
  randomCrop?: number;
  horizontalFlip?: boolean;
}
export type DataConfig = DataSource & {
  trainLimit?: number;
  testLimit?: number;
  validationFraction?: number;
  augment?: AugmentConfig;
};

/** True when the config augments training batches at all. */
export function augments(a: AugmentConfig | undefined): boolean {
  return !!a && ((a.randomCrop ?? 0) > 0 || a.horizontalFlip === true);
}

/**
 * "held-out" (default): select on a validation split, report the final test accuracy.
 * "reference": the Annealing-KD reference code's protocol: whole training set, teacher and
 * phase-1 checkpoints selected on the test set, the best test epoch of the last phase reported.
 */
export type EvaluationProtocol = 'held-out' | 'reference';
export interface EvaluationConfig {
  protocol?: EvaluationProtocol;
}
export function protocolOf(config: { evaluation?: EvaluationConfig }): EvaluationProtocol {
  return config.evaluation?.protocol ?? 'held-out';
}

export interface TrainedTeacher {
  model: ModelConfig;
  epochs: number;
  optimizer: OptimizerConfig;
  /** Seed of the teacher's initialisation and shuffling; default: the run's `seed`. A sweep pins it so all members share one teacher. */
  seed?: number;
}
export interface CheckpointTeacher {
  checkpoint: string;
}
export type TeacherConfig = TrainedTeacher | CheckpointTeacher;

export interface StudentConfig {
  model: ModelConfig;
}

export interface PhaseConfig {
  epochs: number;
  optimizer: OptimizerConfig;
}

export interface ScratchMethod {
  type: 'scratch';
  epochs: number;
  optimizer: OptimizerConfig;
}
export interface KdMethod {
  type: 'kd';
  epochs: number;
  optimizer: OptimizerConfig;
  temperature: number;
  /** Weight of the soft (teacher) term; (1 - alpha) weights the hard-label cross-entropy. */
  alpha: number;
}
/** TAKD's assistant: trained with Hinton KD from the teacher; unset keys default to the method's. */
export interface TakdAssistant {
  model: ModelConfig;
  epochs?: number;
  optimizer?: OptimizerConfig;
  temperature?: number;
  alpha?: number;
}
/** Teacher-assistant KD (Mirzadeh et al. 2020): teacher -> assistant (KD) -> student (KD from the assistant). */
export interface TakdMethod {
  type: 'takd';
  assistant: TakdAssistant;
  /** Student epochs (KD from the assistant). */
  epochs: number;
  optimizer: OptimizerConfig;
  temperature: number;
  /** Weight of the soft (assistant) term; (1 - alpha) weights the hard-label cross-entropy. */
  alpha: number;
}
export interface AnnealingMethod {
  type: 'annealing';
  tauMax: number;
  phase1: PhaseConfig;
  phase2: PhaseConfig;
}
export type MethodConfig = ScratchMethod | KdMethod | TakdMethod | AnnealingMethod;
export type MethodType = MethodConfig['type'];
export const METHOD_TYPES: readonly MethodType[] = ['scratch', 'kd', 'takd', 'annealing'];

/** The assistant's effective settings: its own where set, else the TAKD method's. */
export function takdAssistantSettings(m: TakdMethod): {
  model: ModelConfig;
  epochs: number;
  optimizer: OptimizerConfig;
  temperature: number;
  alpha: number;
} {
  const a = m.assistant;
  return {
    model: a.model,
    epochs: a.epochs ?? m.epochs,
    optimizer: a.optimizer ?? m.optimizer,
    temperature: a.temperature ?? m.temperature,
    alpha: a.alpha ?? m.alpha,
  };
}

/**
 * A sweep: one config expanded into a grid of runs ("members") that share one teacher.
 * See schema.json (`sweep`) for every key.
 */
export interface SweepConfig {
  /** One member per seed (replaces `seed`); default: [seed]. */
  seeds?: number[];
  /** Methods to compare; default: [method.type]. Methods other than `method`'s get derived defaults. */
  methods?: MethodType[];
  /** Per-method settings merged over the derived defaults, e.g. {"kd": {"temperature": 2}}. */
  methodSettings?: Partial<Record<MethodType, Record<string, unknown>>>;
  /** Dotted config path -> values; the grid is their cartesian product. "kd.temperature" applies to kd members only, "method.x" to members whose method has x. */
  grid?: Record<string, unknown[]>;
  /** Members running at once; default: the number of cores. */
  concurrency?: number;
}

/** Where `akd run`/`akd sweep` train: in the akd process, or as Slurm batch jobs (see schema.json `launcher`). */
export interface LocalLauncher {
  type: 'local';
}
export interface SlurmLauncher {
  type: 'slurm';
  partition?: string;
  /** Slurm time limit, e.g. "30", "2:00:00", "1-12:00:00". */
  time?: string;
  cpusPerTask?: number;
  /** e.g. "8G". */
  mem?: string;
  gres?: string;
  account?: string;
  /** More sbatch options, one per entry, e.g. "--qos=high". */
  extraArgs?: string[];
}
export type LauncherConfig = LocalLauncher | SlurmLauncher;
export type LauncherType = LauncherConfig['type'];

export interface ExperimentConfig {
  $schema?: string;
  name: string;
  description?: string;
  seed: number;
  data: DataConfig;
  teacher: TeacherConfig;
  student: StudentConfig;
  method: MethodConfig;
  batchSize: number;
  backend: BackendName;
  /** Training threads for wasm/cpu: 'auto' = every core (data-parallel workers), 1 = main thread only. */
  threads?: 'auto' | number;
  /** Evaluation batch size (forward passes only). */
  evalBatchSize?: number;
  /** Model selection and what test accuracy is reported (see EvaluationProtocol). */
  evaluation?: EvaluationConfig;
  /** Where the run trains; default local. `--launcher` overrides the type. */
  launcher?: LauncherConfig;
  /** Expand into a grid of runs (`akd sweep`); ignored by `akd run`. */
  sweep?: SweepConfig;
}

/** The data a run trains on: under the reference protocol nothing is held out for validation. */
export function trainingData(config: Pick<ExperimentConfig, 'data' | 'evaluation'>): DataConfig {
  return protocolOf(config) === 'reference' ? { ...config.data, validationFraction: 0 } : config.data;
}

export function isCheckpointTeacher(t: TeacherConfig): t is CheckpointTeacher {
  return typeof (t as CheckpointTeacher).checkpoint === 'string';
}
