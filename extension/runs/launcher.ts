/**
 * What the extension reads from a config's text before starting it: its `launcher` block (which
 * decides the `--launcher` flag) and its `sweep` block (Run Sweep is offered only then). Pure.
 */
import { parse as parseJsonc } from 'jsonc-parser';
import type { LauncherType } from '../../runner/protocol';

/**
 * The `--launcher` to pass for a config: the setting, unless the config has its own `launcher`
 * block. akd lets `--launcher` override the block's type (runner/launch/runControl.ts
 * resolveLauncher), so the flag is left out when the block is there and the block wins.
 */
export function launcherArgs(configText: string | undefined, setting: LauncherType | undefined): string[] {
  if (!setting) return [];
  const config =
    configText === undefined ? undefined : (parseJsonc(configText) as { launcher?: unknown } | undefined);
  if (config && typeof config === 'object' && config.launcher !== undefined) return [];
  return ['--launcher', setting];
}

/** Where a config trains: its `launcher` block's type, else the setting, else local. */
export function launcherTypeOf(
  configText: string | undefined,
  setting: LauncherType | undefined,
): LauncherType {
  const config =
    configText === undefined
      ? undefined
      : (parseJsonc(configText) as { launcher?: { type?: unknown } } | undefined);
  const own = config && typeof config === 'object' ? config.launcher?.type : undefined;
  if (own === 'slurm' || own === 'local') return own;
  return setting ?? 'local';
}

/** Whether a config's text has a `sweep` block (Run Sweep and its CodeLens are offered only then). */
export function hasSweepBlock(configText: string): boolean {
  const config = parseJsonc(configText) as { sweep?: unknown } | undefined;
  return !!config && typeof config === 'object' && typeof config.sweep === 'object' && config.sweep !== null;
}
