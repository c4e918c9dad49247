/**
 * The config New Experiment writes: commented, valid, and small enough to finish in minutes on
 * a laptop CPU. The numbers match the completion snippets (extension/server/snippets.ts).
 */
export function experimentTemplate(name: string): string {
  return `// Anneal KD experiment: a teacher, a (smaller) student, and how the student learns from it.
// Hover a key for what it means; Ctrl+Space lists what fits where; "Run" above starts it.
{
  "name": ${JSON.stringify(name)},
  "seed": 42,
  // The bundled MNIST. trainLimit keeps a first run short: remove it to train on all 60,000.
  "data": { "dataset": "mnist", "trainLimit": 10000, "validationFraction": 0.1 },
  // The teacher is trained first, in the run. To reuse one instead:
  // "teacher": { "checkpoint": ".akd/runs/<run>/teacher/model.json" }
  "teacher": {
    "model": { "type": "cnn", "filters": [32, 64], "dense": [128] },
    "epochs": 3,
    "optimizer": { "type": "adam", "learningRate": 0.001 }
  },
  "student": {
    "model": { "type": "mlp", "hidden": [64] }
  },
  // Annealing-KD. Phase 1 matches the teacher's logits at temperatures T = tauMax, ..., 1
  // (phase1.epochs / tauMax epochs each, so phase1.epochs is a multiple of tauMax);
  // phase 2 fine-tunes the best phase-1 student on the labels.
  "method": {
    "type": "annealing",
    "tauMax": 4,
    "phase1": { "epochs": 8, "optimizer": { "type": "adam", "learningRate": 0.001 } },
    "phase2": { "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.001 } }
  },
  "batchSize": 128,
  // "auto" picks the fastest TensorFlow.js backend installed (native, then wasm, then cpu).
  "backend": "auto"
}
`;
}
