/**
 * Whole-block snippets offered by completion (json-languageservice `defaultSnippets`).
 * Values are small working defaults; the template in extension/commands/experimentTemplate.ts
 * uses the same ones so a user never meets two sets of numbers.
 */
import type { JSONSchema } from 'vscode-json-languageservice';

const sgd = { type: 'sgd', learningRate: 0.05, momentum: 0.9 };
const adam = { type: 'adam', learningRate: 0.001 };

export const DEFAULT_ANNEALING_METHOD = {
  type: 'annealing',
  tauMax: 4,
  phase1: { epochs: 8, optimizer: adam },
  phase2: { epochs: 2, optimizer: adam },
};

type Snippets = NonNullable<JSONSchema['defaultSnippets']>;

export const METHOD_SNIPPETS: Snippets = [
  {
    label: 'annealing',
    description: 'Annealing-KD: phase 1 over T = tauMax..1, phase 2 on the labels',
    body: DEFAULT_ANNEALING_METHOD,
  },
  {
    label: 'kd',
    description: 'Hinton knowledge distillation',
    body: { type: 'kd', epochs: 10, optimizer: adam, temperature: 4, alpha: 0.9 },
  },
  {
    label: 'scratch',
    description: 'Student from scratch, labels only',
    body: { type: 'scratch', epochs: 10, optimizer: sgd },
  },
];

export const TEACHER_SNIPPETS: Snippets = [
  {
    label: 'trained teacher',
    description: 'Train the teacher in the run',
    body: { model: { type: 'cnn', filters: [32, 64], dense: [128] }, epochs: 3, optimizer: adam },
  },
  {
    label: 'teacher checkpoint',
    description: 'Load a trained teacher',
    body: { checkpoint: '${1:.akd/runs/RUN/teacher/model.json}' },
  },
];

export const DATA_SNIPPETS: Snippets = [
  { label: 'mnist', description: 'The bundled MNIST', body: { dataset: 'mnist' } },
  {
    label: 'idx files',
    description: 'Your own MNIST-style IDX files',
    body: { format: 'idx', trainImages: '$1', trainLabels: '$2', testImages: '$3', testLabels: '$4' },
  },
  { label: 'cifar10', description: 'CIFAR-10 binary version', body: { format: 'cifar10', dir: '$1' } },
];
