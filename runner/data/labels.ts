/**
 * Class names, where the data says them: MNIST's digits, and CIFAR's label files
 * (`batches.meta.txt` in cifar-10-batches-bin, `fine_label_names.txt` in cifar-100-binary),
 * CIFAR-10's published names when its file is absent. IDX files carry no names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataConfig } from '../protocol/configTypes';

const CIFAR10_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

const CIFAR_LABEL_FILES = {
  cifar10: { folder: 'cifar-10-batches-bin', file: 'batches.meta.txt' },
  cifar100: { folder: 'cifar-100-binary', file: 'fine_label_names.txt' },
} as const;

/** The names of classes 0..classes-1, or undefined when the data does not say. */
export function classLabels(data: DataConfig, configDir: string, classes: number): string[] | undefined {
  if ('dataset' in data) return Array.from({ length: classes }, (_, i) => String(i));
  if (data.format === 'idx') return undefined;
  const where = CIFAR_LABEL_FILES[data.format];
  const dir = path.resolve(configDir, data.dir);
  for (const file of [path.join(dir, where.file), path.join(dir, where.folder, where.file)]) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const names = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (names.length === classes) return names;
  }
  return data.format === 'cifar10' && classes === CIFAR10_NAMES.length ? [...CIFAR10_NAMES] : undefined;
}
