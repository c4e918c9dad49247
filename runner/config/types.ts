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

export interface MlpModel { type: 'mlp'; hidden: number[]; }
export interface CnnModel { type: 'cnn'; filters: number[]; dense: number[]; }
export interface ResnetModel { type: 'resnet'; depth: number; width?: number; }
export type ModelConfig = MlpModel | CnnModel | ResnetModel;

export interface EmbeddedData { dataset: 'mnist'; }
export interface IdxData { format: 'idx'; trainImages: string; trainLabels: string; testImages: string; testLabels: string; }
export interface CifarData { format: 'cifar10' | 'cifar100'; dir: string; }
export type DataSource = EmbeddedData | IdxData | CifarData;
export type DataConfig = DataSource & {
  trainLimit?: number;
  testLimit?: number;
  validationFraction?: number;
};

export interface TrainedTeacher {
  model: ModelConfig;
  epochs: number;
  optimizer: OptimizerConfig;
}
export interface CheckpointTeacher { checkpoint: string; }
export type TeacherConfig = TrainedTeacher | CheckpointTeacher;

export interface StudentConfig { model: ModelConfig; }

export interface PhaseConfig { epochs: number; optimizer: OptimizerConfig; }

export interface ScratchMethod { type: 'scratch'; epochs: number; optimizer: OptimizerConfig; }
export interface KdMethod {
  type: 'kd';
  epochs: number;
  optimizer: OptimizerConfig;
  temperature: number;
  /** Weight of the soft (teacher) term; (1 - alpha) weights the hard-label cross-entropy. */
  alpha: number;
}
export interface AnnealingMethod {
  type: 'annealing';
  tauMax: number;
  phase1: PhaseConfig;
  phase2: PhaseConfig;
}
export type MethodConfig = ScratchMethod | KdMethod | AnnealingMethod;
export type MethodType = MethodConfig['type'];

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
}

export function isCheckpointTeacher(t: TeacherConfig): t is CheckpointTeacher {
  return typeof (t as CheckpointTeacher).checkpoint === 'string';
}
