/**
 * The file paths a config refers to, resolved the one way the validator and the runner share:
 * relative to the folder of the config file.
 */
import * as path from 'node:path';
import type { DataConfig, ExperimentConfig } from '../protocol/configTypes';
import { isCheckpointTeacher } from '../protocol/configTypes';

/** A path from the config as an absolute path, relative to the config file's folder. */
export function resolveFromConfig(p: string, configPath: string): string {
  return path.resolve(path.dirname(path.resolve(configPath)), p);
}

/**
 * The model.json of a teacher checkpoint: the path itself when it names a .json file,
 * otherwise `<path>/model.json` (a checkpoint folder, e.g. a run's teacher/).
 */
export function checkpointModelJson(checkpoint: string, configPath: string): string {
  const abs = resolveFromConfig(checkpoint, configPath);
  return abs.toLowerCase().endsWith('.json') ? abs : path.join(abs, 'model.json');
}

/**
 * A copy of the config with every path absolute: the IDX files or the CIFAR folder, and the
 * teacher checkpoint as the absolute path of its model.json.
 */
export function resolveConfigPaths(config: ExperimentConfig, configPath: string): ExperimentConfig {
  const out = structuredClone(config);
  out.data = resolveDataPaths(out.data, configPath);
  if (isCheckpointTeacher(out.teacher)) {
    out.teacher = { ...out.teacher, checkpoint: checkpointModelJson(out.teacher.checkpoint, configPath) };
  }
  return out;
}

function resolveDataPaths(data: DataConfig, configPath: string): DataConfig {
  if (!('format' in data)) return data;
  const r = (p: string): string => resolveFromConfig(p, configPath);
  if (data.format === 'idx') {
    return {
      ...data,
      trainImages: r(data.trainImages),
      trainLabels: r(data.trainLabels),
      testImages: r(data.testImages),
      testLabels: r(data.testLabels),
    };
  }
  return { ...data, dir: r(data.dir) };
}
