import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { DataError, readIdx } from '../../../runner/data/idxReader';
import { readCifar, cifarFileNames, type CifarKind } from '../../../runner/data/cifarReader';
import { loadDataset } from '../../../runner/data/dataset';
import type { DataConfig } from '../../../runner/protocol/configTypes';

// ---- fixture helpers ----

let tmp = '';
const file = (name: string): string => path.join(tmp, name);

function idxBytes(dims: number[], data: ArrayLike<number>, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Array.from(data))]);
}

/** Deterministic pixel values so each position is recognizable. */
const pixel = (i: number): number => (i * 37 + 11) % 256;
function range(n: number): number[];
function range<T>(n: number, f: (i: number) => T): T[];
function range(n: number, f: (i: number) => unknown = (i) => i): unknown[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

const IMG_DIMS = [10, 2, 3];
const IMG_DATA = range(60, pixel);
const LABELS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];

function write(name: string, bytes: Uint8Array): string {
  const p = file(name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  return p;
}

/** A CIFAR record: label byte(s) + planar R, G, B; value at (channel c, pixel p) = cifarPixel(rec, c, p). */
const cifarPixel = (rec: number, c: number, p: number): number => (rec * 31 + c * 101 + p * 7) % 256;
function cifarRecords(labels: number[][], firstRec: number): Buffer {
  const recs = labels.map((lab, r) => {
    const planes = range(3072, (i) => cifarPixel(firstRec + r, Math.floor(i / 1024), i % 1024));
    return Buffer.from([...lab, ...planes]);
  });
  return Buffer.concat(recs);
}

function writeCifar10(dir: string, perBatch: number, testCount: number): void {
  let rec = 0;
  for (let b = 1; b <= 5; b++) {
    write(
      path.join(dir, `data_batch_${b}.bin`),
      cifarRecords(
        range(perBatch, (i) => [(rec + i) % 10]),
        rec,
      ),
    );
    rec += perBatch;
  }
  write(
    path.join(dir, 'test_batch.bin'),
    cifarRecords(
      range(testCount, (i) => [(i * 3) % 10]),
      1000,
    ),
  );
}

function assertDataError(fn: () => unknown, fileName: string, ...reasonParts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${String(err)}`);
    assert.equal(err.name, 'DataError');
    assert.ok(err.message.includes(fileName), `message "${err.message}" should name ${fileName}`);
    assert.ok(err.file.includes(fileName));
    for (const part of reasonParts) {
      assert.ok(err.message.includes(part), `message "${err.message}" should contain "${part}"`);
      assert.ok(err.reason.includes(part));
    }
    return true;
  });
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-data-'));
  const images = idxBytes(IMG_DIMS, IMG_DATA);
  const labels = idxBytes([10], LABELS);
  write('idx/train-images-idx3-ubyte', images);
  write('idx/train-labels-idx1-ubyte', labels);
  write(
    'idx/t10k-images-idx3-ubyte',
    idxBytes(
      [4, 2, 3],
      range(24, (i) => pixel(i + 100)),
    ),
  );
  write('idx/t10k-labels-idx1-ubyte', idxBytes([4], [7, 0, 12, 1]));
  write('gz/train-images-idx3-ubyte.gz', zlib.gzipSync(images));
  write('gz/train-labels-idx1-ubyte.gz', zlib.gzipSync(labels));
  write('gz/t10k-images-idx3-ubyte.gz', zlib.gzipSync(fs.readFileSync(file('idx/t10k-images-idx3-ubyte'))));
  write('gz/t10k-labels-idx1-ubyte.gz', zlib.gzipSync(fs.readFileSync(file('idx/t10k-labels-idx1-ubyte'))));
  writeCifar10('c10', 2, 3);
  // CIFAR-100: coarse label byte then fine label byte.
  write(
    'c100/train.bin',
    cifarRecords(
      [
        [1, 42],
        [19, 99],
        [0, 7],
      ],
      0,
    ),
  );
  write(
    'c100/test.bin',
    cifarRecords(
      [
        [5, 55],
        [6, 66],
      ],
      500,
    ),
  );
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- IDX ----

describe('readIdx', () => {
  test('reads plain IDX images and labels', () => {
    const img = readIdx(file('idx/train-images-idx3-ubyte'));
    assert.deepEqual(img.dims, IMG_DIMS);
    assert.deepEqual(Array.from(img.data), IMG_DATA);
    assert.equal(img.fullCount, 10);
    const lab = readIdx(file('idx/train-labels-idx1-ubyte'));
    assert.deepEqual(lab.dims, [10]);
    assert.deepEqual(Array.from(lab.data), LABELS);
  });

  test('reads gzip by extension and by sniffing the magic', () => {
    const gz = readIdx(file('gz/train-images-idx3-ubyte.gz'));
    assert.deepEqual(gz.dims, IMG_DIMS);
    assert.deepEqual(Array.from(gz.data), IMG_DATA);
    const sniffed = write('gz/no-extension', zlib.gzipSync(idxBytes([3], [7, 8, 9])));
    assert.deepEqual(Array.from(readIdx(sniffed).data), [7, 8, 9]);
  });

  test('a .gz name holding plain IDX (browser auto-decompressed) is read as plain', () => {
    const p = write('gz/already-decompressed.gz', idxBytes([2], [4, 2]));
    assert.deepEqual(Array.from(readIdx(p).data), [4, 2]);
  });

  test('limit truncates the first dimension (plain and gzip), larger limits clamp', () => {
    for (const p of [file('idx/train-images-idx3-ubyte'), file('gz/train-images-idx3-ubyte.gz')]) {
      const r = readIdx(p, { limit: 2 });
      assert.deepEqual(r.dims, [2, 2, 3]);
      assert.deepEqual(Array.from(r.data), IMG_DATA.slice(0, 12));
      assert.equal(r.fullCount, 10);
    }
    assert.deepEqual(readIdx(file('idx/train-images-idx3-ubyte'), { limit: 99 }).dims, IMG_DIMS);
  });

  test('reads 4-D images [n, rows, cols, channels]', () => {
    const p = write('idx/rgb-idx4', idxBytes([2, 1, 2, 3], range(12)));
    const r = readIdx(p);
    assert.deepEqual(r.dims, [2, 1, 2, 3]);
    assert.deepEqual(Array.from(r.data), range(12));
  });

  test('missing file', () => {
    assertDataError(() => readIdx(file('idx/nope-idx3-ubyte')), 'nope-idx3-ubyte', 'file not found');
  });

  test('bad magic', () => {
    const p = write('bad/bad-magic', Buffer.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
    assertDataError(
      () => readIdx(p),
      'bad-magic',
      'not an IDX file: magic 0x12345678 (expected 0x00000803/0x00000801)',
    );
  });

  test('unsupported data type', () => {
    const p = write('bad/float-idx', idxBytes([1], [0, 0, 0, 0], 0x0d));
    assertDataError(() => readIdx(p), 'float-idx', 'unsupported IDX data type 0x0d');
  });

  test('truncated data', () => {
    const full = idxBytes(IMG_DIMS, IMG_DATA);
    const p = write('bad/truncated-idx3-ubyte', full.subarray(0, 16 + 10));
    assertDataError(
      () => readIdx(p),
      'truncated-idx3-ubyte',
      'truncated: header says 10x2x3 = 60 bytes of data, file has 10',
    );
    // Even when the limit would fit: the file contradicts its own header.
    assertDataError(() => readIdx(p, { limit: 1 }), 'truncated-idx3-ubyte', 'truncated');
  });

  test('truncated header and empty file', () => {
    const p = write('bad/short-header', idxBytes(IMG_DIMS, []).subarray(0, 9));
    assertDataError(() => readIdx(p), 'short-header', 'truncated');
    const e = write('bad/empty', new Uint8Array(0));
    assertDataError(() => readIdx(e), 'empty', 'truncated');
  });

  test('corrupt gzip', () => {
    const gz = zlib.gzipSync(idxBytes(IMG_DIMS, IMG_DATA));
    const cut = write('bad/cut-images.gz', gz.subarray(0, gz.length - 12));
    assertDataError(() => readIdx(cut), 'cut-images.gz', 'corrupt gzip');
    const garbage = write('bad/garbage.gz', Buffer.from('hello, not gzip at all'));
    assertDataError(() => readIdx(garbage), 'garbage.gz', 'corrupt gzip');
    const flipped = Buffer.from(gz);
    flipped[flipped.length - 6] ^= 0xff; // CRC/size trailer
    const crc = write('bad/bad-crc.gz', flipped);
    assertDataError(() => readIdx(crc), 'bad-crc.gz', 'corrupt gzip');
  });

  test('a directory is reported, not crashed on', () => {
    assertDataError(() => readIdx(file('idx')), 'idx', 'directory');
  });
});

// ---- CIFAR ----

describe('readCifar', () => {
  const at = (img: number, y: number, x: number, c: number): number => img * 3072 + (y * 32 + x) * 3 + c;

  test('CIFAR-10: NHWC pixel order, labels, record order across batches', () => {
    const s = readCifar(file('c10'), 'cifar10', 'train');
    assert.equal(s.n, 10);
    assert.equal(s.images.length, 10 * 3072);
    assert.deepEqual(Array.from(s.labels), range(10));
    for (const [img, y, x] of [
      [0, 0, 0],
      [0, 0, 1],
      [3, 5, 7],
      [9, 31, 31],
    ]) {
      for (let c = 0; c < 3; c++) {
        assert.equal(
          s.images[at(img, y, x, c)],
          cifarPixel(img, c, y * 32 + x),
          `img ${img} (${y},${x}) c${c}`,
        );
      }
    }
    const t = readCifar(file('c10'), 'cifar10', 'test');
    assert.equal(t.n, 3);
    assert.deepEqual(Array.from(t.labels), [0, 3, 6]);
    assert.equal(t.images[at(2, 1, 2, 1)], cifarPixel(1002, 1, 34));
  });

  test('CIFAR-10 limit reads the first N records, spanning batch files', () => {
    const s = readCifar(file('c10'), 'cifar10', 'train', { limit: 3 });
    assert.equal(s.n, 3);
    assert.equal(s.images.length, 3 * 3072);
    assert.deepEqual(Array.from(s.labels), [0, 1, 2]);
    assert.equal(s.images[at(2, 0, 0, 2)], cifarPixel(2, 2, 0));
  });

  test('CIFAR-100 uses the fine label', () => {
    const s = readCifar(file('c100'), 'cifar100', 'train');
    assert.deepEqual(Array.from(s.labels), [42, 99, 7]);
    assert.equal(s.images[at(1, 2, 3, 0)], cifarPixel(1, 0, 67));
    assert.equal(s.images[at(2, 31, 0, 2)], cifarPixel(2, 2, 31 * 32));
    const t = readCifar(file('c100'), 'cifar100', 'test', { limit: 1 });
    assert.deepEqual(Array.from(t.labels), [55]);
  });

  test('accepts the parent folder of the official archive folder', () => {
    writeCifar10('parent/cifar-10-batches-bin', 1, 1);
    assert.equal(readCifar(file('parent'), 'cifar10', 'train').n, 5);
  });

  test('truncated file names the file, record size and byte count', () => {
    writeCifar10('c10trunc', 2, 1);
    const p = file('c10trunc/data_batch_3.bin');
    fs.writeFileSync(p, fs.readFileSync(p).subarray(0, 3073 + 100));
    assertDataError(
      () => readCifar(file('c10trunc'), 'cifar10', 'train'),
      'data_batch_3.bin',
      'truncated',
      '3173 bytes',
      '3073-byte',
    );
  });

  test('CIFAR-100 truncated file uses the 3074-byte record size', () => {
    write('c100trunc/train.bin', cifarRecords([[1, 2]], 0).subarray(0, 3000));
    write('c100trunc/test.bin', cifarRecords([[1, 2]], 0));
    assertDataError(
      () => readCifar(file('c100trunc'), 'cifar100', 'train'),
      'train.bin',
      '3000 bytes',
      '3074-byte',
    );
  });

  test('label out of range', () => {
    writeCifar10('c10badlabel', 1, 1);
    write('c10badlabel/test_batch.bin', cifarRecords([[3], [10]], 0));
    assertDataError(
      () => readCifar(file('c10badlabel'), 'cifar10', 'test'),
      'test_batch.bin',
      'label 10 out of range 0..9',
    );
    write('c100badlabel/train.bin', cifarRecords([[1, 100]], 0));
    write('c100badlabel/test.bin', cifarRecords([[1, 2]], 0));
    assertDataError(
      () => readCifar(file('c100badlabel'), 'cifar100', 'train'),
      'train.bin',
      'label 100 out of range 0..99',
    );
  });

  test('missing file lists what the folder must contain', () => {
    writeCifar10('c10missing', 1, 1);
    fs.rmSync(file('c10missing/data_batch_4.bin'));
    const all = [...cifarFileNames('cifar10', 'train'), ...cifarFileNames('cifar10', 'test')];
    assertDataError(
      () => readCifar(file('c10missing'), 'cifar10', 'train'),
      'data_batch_4.bin',
      'file not found',
      ...all,
    );
    const kind: CifarKind = 'cifar100';
    assertDataError(
      () => readCifar(file('no-such-folder'), kind, 'test'),
      'no-such-folder',
      'train.bin',
      'test.bin',
    );
  });
});

// ---- loadDataset ----

describe('loadDataset', () => {
  const idxConfig = (extra: Partial<DataConfig> = {}, folder = 'idx', ext = ''): DataConfig =>
    ({
      format: 'idx',
      trainImages: `${folder}/train-images-idx3-ubyte${ext}`,
      trainLabels: `${folder}/train-labels-idx1-ubyte${ext}`,
      testImages: `${folder}/t10k-images-idx3-ubyte${ext}`,
      testLabels: `${folder}/t10k-labels-idx1-ubyte${ext}`,
      ...extra,
    }) as DataConfig;

  test('IDX: paths relative to configDir, shapes, scaling, classes from labels', () => {
    const d = loadDataset(idxConfig({ validationFraction: 0.2 }), tmp);
    assert.equal(d.name, 'idx:train-images-idx3-ubyte');
    assert.deepEqual(d.inputShape, [2, 3, 1]);
    assert.equal(d.classes, 13); // test label 12
    assert.equal(d.train.n, 8);
    assert.equal(d.validation.n, 2);
    assert.equal(d.test.n, 4);
    assert.equal(d.train.x.length, 8 * 6);
    assert.equal(d.train.x[7], Math.fround(IMG_DATA[7] / 255));
    // Validation = the LAST samples of the train file, in order.
    assert.deepEqual(Array.from(d.validation.y), LABELS.slice(8));
    assert.equal(d.validation.x[0], Math.fround(IMG_DATA[48] / 255));
    assert.deepEqual(Array.from(d.train.y), LABELS.slice(0, 8));
    assert.deepEqual(Array.from(d.test.y), [7, 0, 12, 1]);
    assert.ok(d.train.y instanceof Int32Array && d.train.x instanceof Float32Array);
  });

  test('IDX: absolute paths and gzip give the same data and fingerprint', () => {
    const abs = (f: string): string => file(`gz/${f}.gz`);
    const gz = loadDataset(
      {
        format: 'idx',
        trainImages: abs('train-images-idx3-ubyte'),
        trainLabels: abs('train-labels-idx1-ubyte'),
        testImages: abs('t10k-images-idx3-ubyte'),
        testLabels: abs('t10k-labels-idx1-ubyte'),
      },
      '/nonexistent',
    );
    const plain = loadDataset(idxConfig(), tmp);
    assert.deepEqual(gz.train.x, plain.train.x);
    assert.equal(gz.fingerprint, plain.fingerprint);
  });

  test('validation split sizes: default 0.1, explicit 0, rounding', () => {
    const def = loadDataset(idxConfig(), tmp);
    assert.equal(def.validation.n, 1);
    assert.equal(def.train.n, 9);
    const none = loadDataset(idxConfig({ validationFraction: 0 }), tmp);
    assert.equal(none.validation.n, 0);
    assert.equal(none.validation.x.length, 0);
    assert.equal(none.validation.y.length, 0);
    assert.equal(none.train.n, 10);
    const limited = loadDataset(idxConfig({ trainLimit: 6, testLimit: 2, validationFraction: 0.25 }), tmp);
    assert.equal(limited.validation.n, 2); // round(1.5)
    assert.equal(limited.train.n, 4);
    assert.deepEqual(Array.from(limited.validation.y), LABELS.slice(4, 6));
    assert.equal(limited.test.n, 2);
  });

  test('fingerprint: stable, and differs when limits or the split differ', () => {
    const base = loadDataset(idxConfig(), tmp).fingerprint;
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(loadDataset(idxConfig(), tmp).fingerprint, base);
    const others = [
      loadDataset(idxConfig({ trainLimit: 5 }), tmp).fingerprint,
      loadDataset(idxConfig({ testLimit: 3 }), tmp).fingerprint,
      loadDataset(idxConfig({ validationFraction: 0.3 }), tmp).fingerprint,
    ];
    assert.equal(new Set([base, ...others]).size, 4);
  });

  test('image/label count mismatch names both files', () => {
    write('mismatch/train-images-idx3-ubyte', idxBytes(IMG_DIMS, IMG_DATA));
    write('mismatch/train-labels-idx1-ubyte', idxBytes([9], LABELS.slice(0, 9)));
    write('mismatch/t10k-images-idx3-ubyte', fs.readFileSync(file('idx/t10k-images-idx3-ubyte')));
    write('mismatch/t10k-labels-idx1-ubyte', fs.readFileSync(file('idx/t10k-labels-idx1-ubyte')));
    assertDataError(
      () => loadDataset(idxConfig({ trainLimit: 2 }, 'mismatch'), tmp),
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
      'count mismatch',
      '10 images',
      '9 labels',
    );
  });

  test('4-D IDX images give [rows, cols, channels]', () => {
    write('rgb/train-images-idx3-ubyte', idxBytes([2, 1, 2, 3], range(12)));
    write('rgb/train-labels-idx1-ubyte', idxBytes([2], [0, 1]));
    write('rgb/t10k-images-idx3-ubyte', idxBytes([1, 1, 2, 3], range(6)));
    write('rgb/t10k-labels-idx1-ubyte', idxBytes([1], [1]));
    const d = loadDataset(idxConfig({ validationFraction: 0 }, 'rgb'), tmp);
    assert.deepEqual(d.inputShape, [1, 2, 3]);
    assert.equal(d.classes, 10);
    assert.equal(d.train.x[11], Math.fround(11 / 255));
  });

  test('CIFAR-10: NHWC with per-channel standardization', () => {
    const d = loadDataset({ format: 'cifar10', dir: 'c10', validationFraction: 0.2 }, tmp);
    assert.equal(d.name, 'cifar10');
    assert.deepEqual(d.inputShape, [32, 32, 3]);
    assert.equal(d.classes, 10);
    assert.equal(d.train.n, 8);
    assert.equal(d.validation.n, 2);
    assert.equal(d.test.n, 3);
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.247, 0.2435, 0.2616];
    const norm = (v: number, c: number): number => Math.fround((v / 255 - mean[c]) / std[c]);
    for (let c = 0; c < 3; c++) {
      assert.equal(d.train.x[3 * 3072 + (4 * 32 + 6) * 3 + c], norm(cifarPixel(3, c, 4 * 32 + 6), c));
      assert.equal(d.validation.x[(1 * 32 + 1) * 3 + c], norm(cifarPixel(8, c, 33), c)); // record 8 = first validation sample
    }
    assert.deepEqual(Array.from(d.validation.y), [8, 9]);
  });

  test('CIFAR-100: 100 classes, its own statistics, fingerprint differs from limits', () => {
    const d = loadDataset({ format: 'cifar100', dir: 'c100', validationFraction: 0 }, tmp);
    assert.equal(d.classes, 100);
    assert.deepEqual(Array.from(d.train.y), [42, 99, 7]);
    assert.equal(d.train.x[0], Math.fround((cifarPixel(0, 0, 0) / 255 - 0.5071) / 0.2673));
    assert.equal(d.train.x[2], Math.fround((cifarPixel(0, 2, 0) / 255 - 0.4409) / 0.2762));
    const limited = loadDataset(
      { format: 'cifar100', dir: 'c100', validationFraction: 0, trainLimit: 2 },
      tmp,
    );
    assert.equal(limited.train.n, 2);
    assert.notEqual(limited.fingerprint, d.fingerprint);
  });

  test('invalid options are DataErrors', () => {
    assertDataError(
      () => loadDataset(idxConfig({ validationFraction: 1 }), tmp),
      'validationFraction',
      'must be in [0, 1)',
    );
    assertDataError(() => loadDataset(idxConfig({ trainLimit: 0 }), tmp), 'trainLimit', 'positive integer');
    assertDataError(
      () => loadDataset(idxConfig({ trainLimit: 1, validationFraction: 0.9 }), tmp),
      'validationFraction',
      'no training data',
    );
  });

  test('embedded MNIST with limits', () => {
    const progress: string[] = [];
    const d = loadDataset({ dataset: 'mnist', trainLimit: 1000, testLimit: 500 }, '/anywhere', {
      onProgress: (m) => progress.push(m),
    });
    assert.equal(d.name, 'mnist');
    assert.deepEqual(d.inputShape, [28, 28, 1]);
    assert.equal(d.classes, 10);
    assert.equal(d.train.n, 900);
    assert.equal(d.validation.n, 100);
    assert.equal(d.test.n, 500);
    assert.equal(d.train.x.length, 900 * 784);
    assert.equal(d.validation.x.length, 100 * 784);
    assert.equal(d.test.y.length, 500);
    assert.deepEqual(Array.from(d.train.y.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.train.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    assert.ok(progress.length > 0);
    for (const y of [d.train.y, d.validation.y, d.test.y]) assert.ok(y.every((l) => l >= 0 && l < 10));
  });

  test('full embedded MNIST loads quickly', () => {
    const t0 = Date.now();
    const d = loadDataset({ dataset: 'mnist' }, '/anywhere');
    const ms = Date.now() - t0;
    assert.equal(d.train.n + d.validation.n, 60000);
    assert.equal(d.validation.n, 6000);
    assert.equal(d.test.n, 10000);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});
