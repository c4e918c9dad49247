import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { cnnOutputSize, countParams, resnetBlocksPerStage } from '../../../runner/models/paramCount';
import { inputShapeFor, readIdxHeader, splitSizes } from '../../../runner/config/dataShape';

test('mlp [32] on 28x28x1, 10 classes: 784*32+32 + 32*10+10 = 25,450', () => {
  assert.equal(countParams({ type: 'mlp', hidden: [32] }, [28, 28, 1], 10), 25450);
});

test('mlp with no hidden layer is a linear classifier: 784*10+10', () => {
  assert.equal(countParams({ type: 'mlp', hidden: [] }, [28, 28, 1], 10), 7850);
});

test('cnn [32,64] dense [128] on 28x28x1: 1,199,882', () => {
  // conv1 3*3*1*32+32 = 320 (26x26), conv2 3*3*32*64+64 = 18,496 (24x24), pool 12x12x64 = 9,216,
  // dense 9,216*128+128 = 1,179,776, output 128*10+10 = 1,290.
  assert.equal(countParams({ type: 'cnn', filters: [32, 64], dense: [128] }, [28, 28, 1], 10), 1199882);
});

test('cnn pooling floors odd sizes and uses both spatial sides', () => {
  // 11x9 -> two convs 7x5 -> pool 3x2; convs: 3*3*2*3+3 = 57, 3*3*3*5+5 = 140; out 3*2*5*7+7 = 217.
  assert.deepEqual(cnnOutputSize(2, [11, 9, 2]), { height: 3, width: 2 });
  assert.equal(countParams({ type: 'cnn', filters: [3, 5], dense: [] }, [11, 9, 2], 7), 57 + 140 + 217);
});

test('cnn on an input too small for its convs throws', () => {
  assert.throws(
    () => countParams({ type: 'cnn', filters: [8, 8, 8], dense: [] }, [7, 7, 1], 10),
    /at least 8x8/,
  );
});

test('resnet depth 8 width 16 on 32x32x3, 10 classes: 78,714 (BN counts 4 per channel)', () => {
  const stem = 3 * 3 * 3 * 16 + 4 * 16; // 496
  const stage1 = 2 * (3 * 3 * 16 * 16 + 4 * 16); // 4,736, no projection (16 -> 16)
  const stage2 = 3 * 3 * 16 * 32 + 4 * 32 + (3 * 3 * 32 * 32 + 4 * 32) + (16 * 32 + 4 * 32); // 14,720
  const stage3 = 3 * 3 * 32 * 64 + 4 * 64 + (3 * 3 * 64 * 64 + 4 * 64) + (32 * 64 + 4 * 64); // 58,112
  const head = 64 * 10 + 10; // 650
  assert.equal(stem + stage1 + stage2 + stage3 + head, 78714);
  assert.equal(countParams({ type: 'resnet', depth: 8, width: 16 }, [32, 32, 3], 10), 78714);
  assert.equal(countParams({ type: 'resnet', depth: 8 }, [32, 32, 3], 10), 78714, 'width defaults to 16');
});

test('resnet-20 (n=3) on CIFAR-10: 274,042', () => {
  // Stages 1..3 add 2 more blocks each without projection: 2*4,736, 2*18,688, 2*74,240.
  assert.equal(
    countParams({ type: 'resnet', depth: 20 }, [32, 32, 3], 10),
    78714 + 2 * 4736 + 2 * 18688 + 2 * 74240,
  );
});

test('resnet depth must be 6n+2 with n >= 1', () => {
  assert.equal(resnetBlocksPerStage(8), 1);
  assert.equal(resnetBlocksPerStage(110), 18);
  assert.equal(resnetBlocksPerStage(2), undefined);
  assert.equal(resnetBlocksPerStage(10), undefined);
  assert.throws(() => countParams({ type: 'resnet', depth: 10 }, [32, 32, 3], 10), /6n\+2/);
});

test('inputShapeFor: mnist, cifar10, cifar100, idx without readable files', () => {
  assert.deepEqual(inputShapeFor({ dataset: 'mnist' }), { shape: [28, 28, 1], classes: 10 });
  assert.deepEqual(inputShapeFor({ format: 'cifar10', dir: 'x' }), { shape: [32, 32, 3], classes: 10 });
  assert.deepEqual(inputShapeFor({ format: 'cifar100', dir: 'x' }), { shape: [32, 32, 3], classes: 100 });
  const idx = {
    format: 'idx' as const,
    trainImages: '/nonexistent/a',
    trainLabels: 'b',
    testImages: 'c',
    testLabels: 'd',
  };
  assert.deepEqual(inputShapeFor(idx), { shape: [28, 28, 1], classes: 10 });
});

function idxHeader(dims: number[]): Buffer {
  const buf = Buffer.alloc(4 + 4 * dims.length);
  buf[2] = 0x08;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  return buf;
}

test('inputShapeFor and splitSizes read IDX headers, plain and gzipped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akd-shape-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'train-images'),
      Buffer.concat([idxHeader([500, 20, 24]), Buffer.alloc(100)]),
    );
    fs.writeFileSync(
      path.join(dir, 'test-images.gz'),
      zlib.gzipSync(Buffer.concat([idxHeader([70, 20, 24]), Buffer.alloc(20000)])),
    );
    const configPath = path.join(dir, 'exp.akd.json');
    const data = {
      format: 'idx' as const,
      trainImages: 'train-images',
      trainLabels: 'l',
      testImages: 'test-images.gz',
      testLabels: 'l2',
    };
    assert.deepEqual(inputShapeFor(data, configPath), { shape: [20, 24, 1], classes: 10 });
    assert.deepEqual(readIdxHeader(path.join(dir, 'test-images.gz')), { dataType: 8, dims: [70, 20, 24] });
    assert.deepEqual(splitSizes(data, configPath), { train: 500, test: 70 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
