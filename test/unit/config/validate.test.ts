import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  formatProblem,
  hasErrors,
  resolveConfigPaths,
  validateConfigFile,
  validateConfigText,
  type ConfigProblem,
  type ValidateOptions,
  type ValidationResult,
} from '../../../runner/config/validate';

// ------------------------------------------------------------------ fixtures

/** The example from the brief, exactly as in examples/mnist-cnn-to-mlp.akd.json. */
const EXAMPLE_TEXT = `{
  "name": "mnist-cnn-to-mlp",
  "seed": 42,
  "data": { "dataset": "mnist", "trainLimit": 10000, "testLimit": 2000, "validationFraction": 0.1 },
  "teacher": { "model": { "type": "cnn", "filters": [32, 64], "dense": [128] },
               "epochs": 2, "optimizer": { "type": "adam", "learningRate": 0.001 } },
  "student": { "model": { "type": "mlp", "hidden": [32] } },
  "method": { "type": "annealing", "tauMax": 10,
              "phase1": { "epochs": 10, "optimizer": { "type": "adam", "learningRate": 0.001 } },
              "phase2": { "epochs": 5, "optimizer": { "type": "adam", "learningRate": 0.0005 } } },
  "batchSize": 128,
  "backend": "auto"
}
`;

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-validate-'));
const CONFIG_PATH = path.join(TMP, 'exp.akd.json');
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

type Json = Record<string, unknown>;

/** The example with changes: `{ 'method.phase1.epochs': 5 }`; undefined deletes the key. */
function variant(changes: Record<string, unknown>): string {
  const config = JSON.parse(EXAMPLE_TEXT) as Json;
  for (const [dotted, value] of Object.entries(changes)) {
    const keys = dotted.split('.');
    let obj = config;
    for (const k of keys.slice(0, -1)) obj = obj[k] as Json;
    const last = keys[keys.length - 1];
    if (value === undefined) delete obj[last];
    else obj[last] = value;
  }
  return JSON.stringify(config, null, 2);
}

function validate(text: string, options?: ValidateOptions): ValidationResult {
  return validateConfigText(text, CONFIG_PATH, options);
}

interface Expected {
  path: string;
  code: string;
  severity?: ConfigProblem['severity'];
  says: (string | RegExp)[];
}

/** Asserts exactly one problem with this path and code, of this severity, whose message says all of `says`. */
function expectProblem(result: ValidationResult, e: Expected): ConfigProblem {
  const found = result.problems.filter((p) => p.path === e.path && p.code === e.code);
  assert.equal(found.length, 1, `expected one ${e.code} at "${e.path}", got:\n${dump(result)}`);
  const p = found[0];
  assert.equal(p.severity, e.severity ?? 'error', dump(result));
  for (const s of e.says) {
    if (typeof s === 'string')
      assert.ok(
        p.message.includes(s),
        `message ${JSON.stringify(p.message)} should say ${JSON.stringify(s)}`,
      );
    else assert.match(p.message, s);
  }
  return p;
}

const dump = (r: ValidationResult): string =>
  r.problems.map((p) => formatProblem('exp.akd.json', p)).join('\n');

/** 1-based line/column of the n-th occurrence of `needle` in `text`. */
function positionOf(
  text: string,
  needle: string,
  occurrence = 1,
): { offset: number; line: number; column: number } {
  let offset = -1;
  for (let i = 0; i < occurrence; i++) offset = text.indexOf(needle, offset + 1);
  assert.ok(offset >= 0, `${needle} not in text`);
  const before = text.slice(0, offset).split('\n');
  return { offset, line: before.length, column: before[before.length - 1].length + 1 };
}

// ------------------------------------------------------------------ the example

test('the example validates with zero problems and gets its defaults filled in', () => {
  const result = validate(EXAMPLE_TEXT);
  assert.deepEqual(result.problems, [], dump(result));
  const config = result.config;
  assert.ok(config);
  assert.equal(config.evalBatchSize, 1000);
  assert.equal(config.data.validationFraction, 0.1);
  assert.deepEqual(config.method.type === 'annealing' && config.method.phase1.optimizer, {
    type: 'adam',
    learningRate: 0.001,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    weightDecay: 0,
  });
});

test('examples/mnist-cnn-to-mlp.akd.json is the example and validates from disk', () => {
  const file = path.resolve(__dirname, '../../../../examples/mnist-cnn-to-mlp.akd.json');
  assert.equal(fs.readFileSync(file, 'utf8'), EXAMPLE_TEXT);
  const result = validateConfigFile(file);
  assert.deepEqual(result.problems, []);
  assert.ok(result.config);
});

test('comments and trailing commas are fine', () => {
  const text = `// an experiment
{
  /* block comment */
  "name": "commented",
  "data": { "dataset": "mnist", },
  "teacher": { "model": { "type": "cnn", "filters": [32, 64,], "dense": [128] }, "epochs": 2,
               "optimizer": { "type": "sgd", "learningRate": 0.1, "momentum": 0.9 }, },
  "student": { "model": { "type": "mlp", "hidden": [32], }, }, // trailing
  "method": { "type": "kd", "epochs": 3, "optimizer": { "type": "adam", "learningRate": 0.001 } },
}
`;
  const result = validate(text);
  assert.deepEqual(result.problems, [], dump(result));
  assert.equal(result.config?.method.type, 'kd');
  assert.deepEqual(
    result.config?.method.type === 'kd' && [result.config.method.temperature, result.config.method.alpha],
    [4, 0.9],
  );
  assert.equal(result.config?.seed, 42);
  assert.equal(result.config?.batchSize, 128);
  assert.equal(result.config?.backend, 'auto');
});

test('defaults fill omitted optional keys: tauMax, resnet width, sgd momentum, schedule gamma', () => {
  const result = validate(
    variant({
      'method.tauMax': undefined,
      'student.model': { type: 'resnet', depth: 8 },
      'method.phase2.optimizer': {
        type: 'sgd',
        learningRate: 0.01,
        schedule: { type: 'step', milestones: [0.5] },
      },
    }),
  );
  assert.deepEqual(
    result.problems.filter((p) => p.severity === 'error'),
    [],
    dump(result),
  );
  const c = result.config;
  assert.ok(c && c.method.type === 'annealing');
  assert.equal(c.method.tauMax, 10);
  assert.deepEqual(c.student.model, { type: 'resnet', depth: 8, width: 16 });
  assert.deepEqual(c.method.phase2.optimizer, {
    type: 'sgd',
    learningRate: 0.01,
    momentum: 0,
    weightDecay: 0,
    nesterov: false,
    schedule: { type: 'step', milestones: [0.5], gamma: 0.1 },
  });
});

// ------------------------------------------------------------------ schema errors

test('wrong type: batchSize as a string', () => {
  const text = variant({ batchSize: '128' });
  const result = validate(text);
  const p = expectProblem(result, {
    path: 'batchSize',
    code: 'type',
    says: ['must be an integer >= 1', 'got "128"'],
  });
  assert.equal(p.offset, text.indexOf('"128"'));
  assert.equal(result.config, undefined);
});

test('wrong type: a non-integer epochs', () => {
  expectProblem(validate(variant({ 'teacher.epochs': 2.5 })), {
    path: 'teacher.epochs',
    code: 'type',
    says: ['must be an integer >= 1, got 2.5'],
  });
});

test('negative limit: data.trainLimit -5', () => {
  expectProblem(validate(variant({ 'data.trainLimit': -5 })), {
    path: 'data.trainLimit',
    code: 'range',
    says: ['must be an integer >= 1, got -5'],
  });
});

test('range: validationFraction 1 and kd temperature 0', () => {
  expectProblem(validate(variant({ 'data.validationFraction': 1 })), {
    path: 'data.validationFraction',
    code: 'range',
    says: ['must be a number >= 0 and < 1, got 1'],
  });
  const kd = {
    type: 'kd',
    epochs: 3,
    temperature: 0,
    alpha: 1.5,
    optimizer: { type: 'adam', learningRate: 0.001 },
  };
  const result = validate(variant({ method: kd }));
  expectProblem(result, { path: 'method.temperature', code: 'range', says: ['must be a number > 0, got 0'] });
  expectProblem(result, {
    path: 'method.alpha',
    code: 'range',
    says: ['must be a number between 0 and 1, got 1.5'],
  });
});

test('unknown key at the root, with a suggestion, pointing at the key', () => {
  const text = variant({ seeed: 7 });
  const p = expectProblem(validate(text), {
    path: 'seeed',
    code: 'unknown-key',
    says: ['unknown key "seeed"', 'did you mean "seed"?'],
  });
  const at = positionOf(text, '"seeed"');
  assert.deepEqual([p.offset, p.length, p.line, p.column], [at.offset, '"seeed"'.length, at.line, at.column]);
  assert.deepEqual(p.data, { key: 'seeed', suggested: 'seed' });
});

test('unknown key three levels down: method.phase1.optimizer.lerningRate', () => {
  const text = variant({ 'method.phase1.optimizer': { type: 'adam', lerningRate: 0.001 } });
  const result = validate(text);
  const p = expectProblem(result, {
    path: 'method.phase1.optimizer.lerningRate',
    code: 'unknown-key',
    says: ['unknown key "lerningRate" (did you mean "learningRate"?)'],
  });
  assert.equal(p.offset, text.indexOf('"lerningRate"'));
  expectProblem(result, {
    path: 'method.phase1.optimizer.learningRate',
    code: 'missing-key',
    says: ['missing required key "learningRate"'],
  });
});

test('unknown key with no close match lists the allowed keys', () => {
  expectProblem(validate(variant({ 'student.model': { type: 'mlp', hidden: [32], dropout: 0.5 } })), {
    path: 'student.model.dropout',
    code: 'unknown-key',
    says: ['unknown key "dropout"', 'allowed keys: "type" and "hidden"'],
  });
});

test('a key of another variant: "beta1" on an sgd optimizer', () => {
  expectProblem(validate(variant({ 'teacher.optimizer': { type: 'sgd', learningRate: 0.1, beta1: 0.9 } })), {
    path: 'teacher.optimizer.beta1',
    code: 'unknown-key',
    says: ['unknown key "beta1" for type "sgd"', '"momentum"'],
  });
});

test('missing method: one problem on the root object', () => {
  const text = variant({ method: undefined });
  const result = validate(text);
  const p = expectProblem(result, {
    path: 'method',
    code: 'missing-key',
    says: ['missing required key "method"'],
  });
  assert.deepEqual([p.offset, p.line, p.column], [0, 1, 1]);
  assert.deepEqual(p.data, { key: 'method' });
  assert.equal(result.problems.length, 1, dump(result));
});

test('missing phase2 of annealing points at the method object', () => {
  const text = variant({ 'method.phase2': undefined });
  const p = expectProblem(validate(text), { path: 'method.phase2', code: 'missing-key', says: ['"phase2"'] });
  assert.equal(p.offset, positionOf(text, '"method"').offset + '"method": '.length);
});

test('bad enum: model type "transformer", lists the choices', () => {
  const text = variant({ 'student.model': { type: 'transformer', layers: 2 } });
  const result = validate(text);
  const p = expectProblem(result, {
    path: 'student.model.type',
    code: 'enum',
    says: ['must be one of "mlp", "cnn" or "resnet"', 'got "transformer"'],
  });
  assert.equal(p.offset, text.indexOf('"transformer"'));
  assert.equal(result.problems.length, 1, `only the tag is reported:\n${dump(result)}`);
});

test('bad enum: backend "gpu" and method type "annealed" (with a suggestion)', () => {
  expectProblem(validate(variant({ backend: 'gpu' })), {
    path: 'backend',
    code: 'enum',
    says: ['must be one of "auto", "tensorflow", "wasm" or "cpu", got "gpu"'],
  });
  const p = expectProblem(validate(variant({ 'method.type': 'annealed' })), {
    path: 'method.type',
    code: 'enum',
    says: ['got "annealed"', 'did you mean "annealing"?'],
  });
  assert.equal(p.data?.suggested, 'annealing');
});

test('missing tag: a model without "type"', () => {
  expectProblem(validate(variant({ 'student.model': { hidden: [32] } })), {
    path: 'student.model.type',
    code: 'missing-key',
    says: ['missing required key "type": one of "mlp", "cnn" or "resnet"'],
  });
});

test('pattern: a name with a space and a slash', () => {
  expectProblem(validate(variant({ name: 'my run/1' })), {
    path: 'name',
    code: 'pattern',
    says: ['only letters, digits', 'folder name', 'got "my run/1"'],
  });
});

test('array items: hidden [32, 0] and cnn filters []', () => {
  expectProblem(validate(variant({ 'student.model.hidden': [32, 0] })), {
    path: 'student.model.hidden[1]',
    code: 'range',
    says: ['must be an integer >= 1, got 0'],
  });
  expectProblem(validate(variant({ 'teacher.model.filters': [] })), {
    path: 'teacher.model.filters',
    code: 'range',
    says: ['at least 1 item'],
  });
});

test('data with neither "dataset" nor "format"', () => {
  expectProblem(validate(variant({ data: { trainLimit: 10 } })), {
    path: 'data',
    code: 'missing-key',
    says: ['missing required key "dataset" or "format"'],
  });
});

test('data mixing a bundled dataset with files; cifar without "dir"', () => {
  const text = variant({ data: { dataset: 'mnist', dir: 'cifar' } });
  const p = expectProblem(validate(text), {
    path: 'data.dir',
    code: 'conflicting-key',
    says: ['"dir" does not go with "dataset": "mnist"'],
  });
  assert.equal(p.offset, text.indexOf('"dir"'));
  expectProblem(validate(variant({ data: { format: 'cifar10' } })), {
    path: 'data.dir',
    code: 'missing-key',
    says: ['missing required key "dir"', '"format": "cifar10"'],
  });
});

test('teacher with both a checkpoint and training settings', () => {
  const result = validate(variant({ 'teacher.checkpoint': 'teacher/model.json' }));
  for (const key of ['model', 'epochs', 'optimizer']) {
    expectProblem(result, {
      path: `teacher.${key}`,
      code: 'conflicting-key',
      says: [`"${key}" does not go with "checkpoint"`],
    });
  }
});

test('teacher with nothing: names what is missing and the checkpoint alternative', () => {
  expectProblem(validate(variant({ teacher: {} })), {
    path: 'teacher.model',
    code: 'missing-key',
    says: ['missing required key "model"', '"checkpoint"'],
  });
});

test('a wrong type for a whole section: method as a string', () => {
  const result = validate(variant({ method: 'annealing' }));
  expectProblem(result, { path: 'method', code: 'type', says: ['must be an object, got "annealing"'] });
  assert.equal(result.problems.length, 1, dump(result));
});

test('the root must be an object', () => {
  expectProblem(validate('[1, 2]'), { path: '', code: 'type', says: ['must be an object'] });
});

test('schedule milestones outside (0, 1)', () => {
  const opt = { type: 'sgd', learningRate: 0.1, schedule: { type: 'step', milestones: [0.5, 1.5] } };
  expectProblem(validate(variant({ 'method.phase1.optimizer': opt })), {
    path: 'method.phase1.optimizer.schedule.milestones[1]',
    code: 'range',
    says: ['must be a number > 0 and < 1, got 1.5'],
  });
});

// ------------------------------------------------------------------ syntax

test('broken JSON: a missing comma, at its exact line and column', () => {
  const text = '{\n  "name": "x",\n  "seed": 42\n  "data": {}\n}\n';
  const result = validate(text);
  assert.equal(result.problems.length, 1, dump(result));
  const p = result.problems[0];
  assert.equal(p.code, 'json-syntax');
  assert.equal(p.path, '');
  assert.match(p.message, /expected ","/);
  assert.deepEqual([p.line, p.column], [4, 3]);
  assert.equal(p.data?.parseError, 'CommaExpected');
});

test('broken JSON: an unterminated string and an empty file', () => {
  const p = validate('{ "name": "abc }').problems[0];
  assert.equal(p.code, 'json-syntax');
  assert.match(p.message, /unterminated string/);
  assert.deepEqual([p.line, p.column], [1, 11]);
  const empty = validate('  // nothing\n');
  assert.equal(empty.problems[0].code, 'json-syntax');
  assert.match(empty.problems[0].message, /empty/);
});

test('duplicate keys are errors at the second key', () => {
  const text = '{\n  "name": "a",\n  "name": "b"\n}';
  const result = validate(text);
  const p = expectProblem(result, {
    path: 'name',
    code: 'duplicate-key',
    says: ['duplicate key "name"', 'line 2'],
  });
  assert.deepEqual([p.line, p.column], [3, 3]);
});

test('positions count CRLF line ends right', () => {
  const text = variant({ batchSize: 0 }).replace(/\n/g, '\r\n');
  const p = expectProblem(validate(text), { path: 'batchSize', code: 'range', says: ['got 0'] });
  const lines = text.slice(0, p.offset).split('\r\n');
  assert.deepEqual([p.line, p.column], [lines.length, lines[lines.length - 1].length + 1]);
  assert.equal(text.slice(p.offset, p.offset + p.length), '0');
});

// ------------------------------------------------------------------ cross-field rules

test('phase1.epochs < tauMax is an error suggesting tauMax', () => {
  const text = variant({ 'method.phase1.epochs': 5 });
  const result = validate(text);
  const p = expectProblem(result, {
    path: 'method.phase1.epochs',
    code: 'epochs-lt-taumax',
    says: ['at least one epoch per temperature', '5 epochs < tauMax 10'],
  });
  assert.deepEqual(p.data, { suggested: 10 });
  const at = positionOf(text, '"epochs": 5');
  assert.deepEqual([p.line, p.column], [at.line, at.column + '"epochs": '.length]);
  assert.equal(result.config, undefined);
});

test('phase1.epochs not a multiple of tauMax is a warning that explains the spread', () => {
  const result = validate(variant({ 'method.phase1.epochs': 25 }));
  const p = expectProblem(result, {
    path: 'method.phase1.epochs',
    code: 'epochs-not-multiple',
    severity: 'warning',
    says: ['not a multiple of tauMax 10', 'gets 2 epochs', 'last 5 (T = 5..1) get 3', 'Phi never exceeds 1'],
  });
  assert.equal(p.data?.suggested, 30);
  assert.ok(result.config, 'a warning does not block the run');
  assert.equal(hasErrors(result.problems), false);
});

test('resnet depth that is not 6n+2 suggests the nearest valid depths', () => {
  const p = expectProblem(validate(variant({ 'teacher.model': { type: 'resnet', depth: 10 } })), {
    path: 'teacher.model.depth',
    code: 'resnet-depth',
    says: ['6n+2', 'got 10', '8 or 14'],
  });
  assert.deepEqual(p.data, { suggested: 8, options: [8, 14] });
  const small = expectProblem(validate(variant({ 'teacher.model': { type: 'resnet', depth: 3 } })), {
    path: 'teacher.model.depth',
    code: 'resnet-depth',
    says: ['use 8'],
  });
  assert.equal(small.data?.suggested, 8);
});

test('schedule milestones that are not increasing', () => {
  const opt = { type: 'adam', learningRate: 0.001, schedule: { type: 'step', milestones: [0.75, 0.5] } };
  const p = expectProblem(validate(variant({ 'teacher.optimizer': opt })), {
    path: 'teacher.optimizer.schedule.milestones[1]',
    code: 'milestones-order',
    says: ['strictly increasing', '0.5 comes after 0.75'],
  });
  assert.deepEqual(p.data?.suggested, [0.5, 0.75]);
});

test('a cnn with too many convs for 28x28 inputs', () => {
  // 13 convs leave 2x2, pooled to 1x1: still fine. 14 leave 0x0.
  const filters = Array.from({ length: 13 }, () => 8);
  const ok = validate(variant({ 'teacher.model': { type: 'cnn', filters, dense: [] } }));
  assert.equal(
    ok.problems.some((p) => p.code === 'input-too-small'),
    false,
    dump(ok),
  );
  expectProblem(
    validate(variant({ 'teacher.model': { type: 'cnn', filters: [...filters, 8], dense: [] } })),
    {
      path: 'teacher.model.filters',
      code: 'input-too-small',
      says: ['14 3x3', 'at least 30x30', 'the data is 28x28'],
    },
  );
});

test('a student not smaller than its teacher is a warning with both counts', () => {
  const result = validate(variant({ 'student.model': { type: 'mlp', hidden: [2048] } }));
  const p = expectProblem(result, {
    path: 'student.model',
    code: 'student-not-smaller',
    severity: 'warning',
    says: ['1,628,170', '1,199,882'],
  });
  assert.deepEqual(p.data, { student: 1628170, teacher: 1199882 });
  assert.ok(result.config);
});

test('small warnings: kd alpha 0, nesterov without momentum, phase 2 skipped', () => {
  const kd = {
    type: 'kd',
    epochs: 3,
    alpha: 0,
    optimizer: { type: 'sgd', learningRate: 0.1, nesterov: true },
  };
  const result = validate(variant({ method: kd }));
  expectProblem(result, {
    path: 'method.alpha',
    code: 'kd-alpha-zero',
    severity: 'warning',
    says: ['no weight'],
  });
  expectProblem(result, {
    path: 'method.optimizer.nesterov',
    code: 'nesterov-without-momentum',
    severity: 'warning',
    says: ['momentum'],
  });
  expectProblem(validate(variant({ 'method.phase2.epochs': 0 })), {
    path: 'method.phase2.epochs',
    code: 'phase2-skipped',
    severity: 'info',
    says: ['skipped'],
  });
});

test('cross-field rules wait for the schema: no tauMax rule when method has a schema error', () => {
  const result = validate(variant({ 'method.phase1.epochs': 5, 'method.phase2.epochs': -1 }));
  expectProblem(result, {
    path: 'method.phase2.epochs',
    code: 'range',
    says: ['must be an integer >= 0, got -1'],
  });
  assert.equal(
    result.problems.some((p) => p.code === 'epochs-lt-taumax'),
    false,
    dump(result),
  );
});

// ------------------------------------------------------------------ files

function dataDir(name: string): string {
  const dir = path.join(TMP, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

test('idx: missing files name the resolved path and the config folder', () => {
  const data = {
    format: 'idx',
    trainImages: 'mnist/train-images',
    trainLabels: 'mnist/train-labels',
    testImages: 'mnist/t10k-images',
    testLabels: '/abs/t10k-labels',
  };
  const result = validate(variant({ data }));
  const p = expectProblem(result, {
    path: 'data.trainImages',
    code: 'file-missing',
    says: [`not found: ${path.join(TMP, 'mnist', 'train-images')}`, `relative to ${TMP}`],
  });
  assert.equal(p.data?.path, path.join(TMP, 'mnist', 'train-images'));
  const abs = expectProblem(result, {
    path: 'data.testLabels',
    code: 'file-missing',
    says: ['/abs/t10k-labels'],
  });
  assert.equal(abs.message.includes('relative to'), false, 'absolute paths need no folder note');
  assert.equal(result.problems.filter((q) => q.code === 'file-missing').length, 4);
});

test('idx: "x" missing but "x.gz" present suggests the .gz name', () => {
  const dir = dataDir('gz');
  for (const f of ['train-images.gz', 'train-labels', 'test-images', 'test-labels'])
    fs.writeFileSync(path.join(dir, f), '');
  const data = {
    format: 'idx',
    trainImages: 'gz/train-images',
    trainLabels: 'gz/train-labels',
    testImages: 'gz/test-images',
    testLabels: 'gz/test-labels',
  };
  const p = expectProblem(validate(variant({ data })), {
    path: 'data.trainImages',
    code: 'file-missing',
    says: ['"gz/train-images.gz" exists'],
  });
  assert.equal(p.data?.suggested, 'gz/train-images.gz');
});

function idxFile(file: string, dims: number[]): void {
  // The header and the (zero) data it promises: validate checks a file holds what its header says.
  const buf = Buffer.alloc(4 + 4 * dims.length + dims.reduce((a, b) => a * b, 1));
  buf[2] = 0x08;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  fs.writeFileSync(file, buf);
}

test('idx: headers that disagree are reported; good headers pass and set the input shape', () => {
  const dir = dataDir('idx');
  idxFile(path.join(dir, 'train-images'), [100, 28, 28]);
  idxFile(path.join(dir, 'train-labels'), [99]);
  idxFile(path.join(dir, 'test-images'), [10, 28, 28]);
  idxFile(path.join(dir, 'test-labels'), [10]);
  const data = {
    format: 'idx',
    trainImages: 'idx/train-images',
    trainLabels: 'idx/train-labels',
    testImages: 'idx/test-images',
    testLabels: 'idx/test-labels',
  };
  expectProblem(validate(variant({ data })), {
    path: 'data.trainLabels',
    code: 'idx-invalid',
    says: ['99 labels', '100 images'],
  });
  idxFile(path.join(dir, 'train-labels'), [100]);
  const ok = validate(variant({ data: { ...data, trainLimit: 10000 }, batchSize: 64 }));
  assert.equal(hasErrors(ok.problems), false, dump(ok));
  // trainLimit 10000 > 100 examples: an info, not an error.
  expectProblem(ok, {
    path: 'data.trainLimit',
    code: 'limit-exceeds-dataset',
    severity: 'info',
    says: ['100 training examples'],
  });
});

test('cifar10: a missing folder, then a folder one level too high', () => {
  expectProblem(validate(variant({ data: { format: 'cifar10', dir: 'nope' } })), {
    path: 'data.dir',
    code: 'file-missing',
    says: [`folder not found: ${path.join(TMP, 'nope')}`, `relative to ${TMP}`],
  });
  const dir = dataDir('cifar/cifar-10-batches-bin');
  for (const f of [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ]) {
    fs.writeFileSync(path.join(dir, f), '');
  }
  const p = expectProblem(validate(variant({ data: { format: 'cifar10', dir: 'cifar' } })), {
    path: 'data.dir',
    code: 'file-missing',
    says: ['has no data_batch_1.bin', 'use "cifar/cifar-10-batches-bin"'],
  });
  assert.equal(p.data?.suggested, 'cifar/cifar-10-batches-bin');
  const ok = validate(
    variant({
      data: { format: 'cifar10', dir: 'cifar/cifar-10-batches-bin' },
      'teacher.model': { type: 'resnet', depth: 20 },
      'student.model': { type: 'resnet', depth: 8 },
    }),
  );
  assert.deepEqual(ok.problems, [], dump(ok));
});

test('cifar100 checks train.bin and test.bin (with an injected fileExists)', () => {
  const seen: string[] = [];
  const fileExists = (p: string): boolean => {
    seen.push(p);
    return !p.endsWith('test.bin');
  };
  const p = expectProblem(
    validate(variant({ data: { format: 'cifar100', dir: '/data/c100' } }), { fileExists }),
    {
      path: 'data.dir',
      code: 'file-missing',
      says: ['has no test.bin'],
    },
  );
  assert.deepEqual(p.data?.missing, ['test.bin']);
  assert.ok(seen.includes(path.join('/data/c100', 'train.bin')));
});

function writeCheckpoint(
  folder: string,
  weights: { name: string; shape: number[] }[],
  withShard = true,
): void {
  const dir = dataDir(folder);
  const modelJson = {
    modelTopology: {
      class_name: 'Sequential',
      config: { layers: [{ class_name: 'Flatten', config: { batch_input_shape: [null, 28, 28, 1] } }] },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: weights.map((w) => ({ ...w, dtype: 'float32' })) }],
  };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  // As many float32 bytes as the manifest lists: validate checks the weights file against it.
  const bytes = 4 * weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if (withShard) fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(bytes));
}

test('checkpoint teacher: missing, invalid JSON, missing shard', () => {
  expectProblem(validate(variant({ teacher: { checkpoint: 'runs/none/teacher' } })), {
    path: 'teacher.checkpoint',
    code: 'file-missing',
    says: [path.join(TMP, 'runs/none/teacher/model.json'), 'relative to'],
  });
  fs.writeFileSync(path.join(dataDir('bad-ckpt'), 'model.json'), '{ not json');
  expectProblem(validate(variant({ teacher: { checkpoint: 'bad-ckpt/model.json' } })), {
    path: 'teacher.checkpoint',
    code: 'checkpoint-invalid',
    says: ['not valid JSON'],
  });
  writeCheckpoint('noshard', [{ name: 'w', shape: [784, 10] }], false);
  expectProblem(validate(variant({ teacher: { checkpoint: 'noshard' } })), {
    path: 'teacher.checkpoint',
    code: 'checkpoint-invalid',
    says: ['"weights.bin"', 'missing'],
  });
});

test('checkpoint teacher: its weights manifest is counted against the student', () => {
  // A linear 784 -> 10 teacher: 7,850 parameters, smaller than the student mlp [32] (25,450).
  writeCheckpoint('ckpt', [
    { name: 'dense/kernel', shape: [784, 10] },
    { name: 'dense/bias', shape: [10] },
  ]);
  const result = validate(variant({ teacher: { checkpoint: 'ckpt' } }));
  expectProblem(result, {
    path: 'student.model',
    code: 'student-not-smaller',
    severity: 'warning',
    says: ['25,450', '7,850'],
  });
  assert.ok(result.config);
  assert.deepEqual(result.config.teacher, { checkpoint: 'ckpt' }, 'paths stay as written');
});

test('checkpoint teacher with a different input shape than the data', () => {
  writeCheckpoint('ckpt28', [{ name: 'w', shape: [10] }]);
  expectProblem(
    validate(
      variant({ teacher: { checkpoint: 'ckpt28/model.json' }, data: { format: 'cifar10', dir: '/x' } }),
      { fileExists: () => true },
    ),
    {
      path: 'teacher.checkpoint',
      code: 'checkpoint-shape-mismatch',
      says: ['28x28x1', '32x32x3'],
    },
  );
});

test('validateConfigFile: a missing file is one problem at the root', () => {
  const result = validateConfigFile(path.join(TMP, 'missing.akd.json'));
  assert.equal(result.problems.length, 1);
  const p = result.problems[0];
  assert.deepEqual([p.path, p.code, p.line, p.column], ['', 'file-missing', 1, 1]);
  assert.match(p.message, /not found/);
});

// ------------------------------------------------------------------ helpers of the API

test('formatProblem: FILE:LINE:COL PATH [severity: ]message [code]', () => {
  const p = expectProblem(validate(variant({ 'method.phase1.epochs': 25 })), {
    path: 'method.phase1.epochs',
    code: 'epochs-not-multiple',
    severity: 'warning',
    says: [],
  });
  assert.equal(
    formatProblem('a.akd.json', p),
    `a.akd.json:${p.line}:${p.column} method.phase1.epochs warning: ${p.message} [epochs-not-multiple]`,
  );
  const root = validate('[]').problems[0];
  assert.equal(formatProblem('a.akd.json', root), 'a.akd.json:1:1 (root) must be an object, got [] [type]');
});

test('resolveConfigPaths makes data paths and the checkpoint absolute', () => {
  const configPath = '/home/u/exp/a.akd.json';
  const base = validate(EXAMPLE_TEXT).config;
  assert.ok(base);
  const idx = resolveConfigPaths(
    {
      ...base,
      data: {
        format: 'idx',
        trainImages: 'd/ti',
        trainLabels: '../tl',
        testImages: '/abs/si',
        testLabels: 'sl.gz',
      },
    },
    configPath,
  );
  assert.deepEqual(idx.data, {
    format: 'idx',
    trainImages: '/home/u/exp/d/ti',
    trainLabels: '/home/u/tl',
    testImages: '/abs/si',
    testLabels: '/home/u/exp/sl.gz',
  });
  const cifar = resolveConfigPaths(
    {
      ...base,
      data: { format: 'cifar100', dir: 'c100', trainLimit: 5 },
      teacher: { checkpoint: 'runs/r1/teacher' },
    },
    configPath,
  );
  assert.deepEqual(cifar.data, { format: 'cifar100', dir: '/home/u/exp/c100', trainLimit: 5 });
  assert.deepEqual(cifar.teacher, { checkpoint: '/home/u/exp/runs/r1/teacher/model.json' });
  assert.deepEqual(resolveConfigPaths(base, configPath), base, 'mnist has no paths');
});

test('augmentation: horizontalFlip on digits is a warning at its position; fine on CIFAR; a large crop is a warning', () => {
  const text = variant({ 'data.augment': { randomCrop: 2, horizontalFlip: true } });
  const result = validate(text);
  assert.ok(result.config, 'a warning, not an error: the run may start');
  const p = expectProblem(result, {
    path: 'data.augment.horizontalFlip',
    code: 'augment-flip-digits',
    severity: 'warning',
    says: ['changes digits'],
  });
  const at = positionOf(text, 'true');
  assert.deepEqual([p.line, p.column], [at.line, at.column]);
  assert.ok(!result.problems.some((q) => q.code === 'augment-crop-large'), 'a 2-pixel crop on 28x28 is fine');
  assert.ok(
    !validate(variant({ 'data.augment': { randomCrop: 2 } })).problems.some((q) =>
      q.code.startsWith('augment-'),
    ),
  );
  expectProblem(validate(variant({ 'data.augment': { randomCrop: 8 } })), {
    path: 'data.augment.randomCrop',
    code: 'augment-crop-large',
    severity: 'warning',
    says: ['more than a quarter'],
  });
  const cifar = validate(
    variant({ data: { format: 'cifar10', dir: '.', augment: { randomCrop: 4, horizontalFlip: true } } }),
  );
  assert.ok(!cifar.problems.some((q) => q.code.startsWith('augment-')), dump(cifar));
  expectProblem(validate(variant({ 'data.augment': { randomCrop: 17 } })), {
    path: 'data.augment.randomCrop',
    code: 'range',
    says: ['16'],
  });
});

test('the reference protocol: an explicit validationFraction is a warning (it is ignored), no "no-validation" note', () => {
  const result = validate(variant({ evaluation: { protocol: 'reference' } }));
  expectProblem(result, {
    path: 'data.validationFraction',
    code: 'protocol-ignores-validation',
    severity: 'warning',
    says: ['ignored'],
  });
  const quiet = validate(
    variant({ evaluation: { protocol: 'reference' }, 'data.validationFraction': undefined }),
  );
  assert.deepEqual(quiet.problems, [], dump(quiet));
  expectProblem(validate(variant({ evaluation: { protocol: 'paper' } })), {
    path: 'evaluation.protocol',
    code: 'enum',
    says: ['held-out', 'reference'],
  });
});

test("the README's CIFAR config validates (its data folder aside), with the reference code's augmentation", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'README.md'), 'utf8');
  const block = /```jsonc\n(\{\n {2}"name": "cifar10-resnet110-to-resnet8"[\s\S]*?)```/.exec(readme);
  assert.ok(block, 'the CIFAR config block is in the README');
  const result = validate(block[1], { fileExists: () => true, readBytes: () => undefined });
  assert.ok(!hasErrors(result.problems), dump(result));
  assert.deepEqual(result.config?.data.augment, { randomCrop: 4, horizontalFlip: true });
});
