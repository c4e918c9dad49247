/** Typed access to the `annealKd.*` settings (package.json `contributes.configuration`). */
import * as vscode from 'vscode';
import type { LauncherType } from '../runner/protocol';

export interface AkdSettings {
  maxConcurrentRuns: number;
  stopTimeoutSeconds: number;
  nodePath: string;
  codeLensEnabled: boolean;
  /** `Experiments` in the CodeLens. */
  codeLensExperiments: boolean;
  hoverEnabled: boolean;
  statusBarEnabled: boolean;
  notificationsEnabled: boolean;
  validationEnabled: boolean;
  /** Where runs and sweeps start when their config has no `launcher` block. */
  launcher: LauncherType;
  /** Start queued runs whenever maxConcurrentRuns leaves a slot free. */
  queueAutoStart: boolean;
}

export function readSettings(): AkdSettings {
  const c = vscode.workspace.getConfiguration('annealKd');
  return {
    maxConcurrentRuns: Math.max(1, c.get<number>('maxConcurrentRuns', 2)),
    stopTimeoutSeconds: Math.max(1, c.get<number>('stopTimeoutSeconds', 15)),
    nodePath: c.get<string>('nodePath', '').trim(),
    codeLensEnabled: c.get<boolean>('codeLens.enabled', true),
    codeLensExperiments: c.get<boolean>('codeLens.experiments', true),
    hoverEnabled: c.get<boolean>('hover.enabled', true),
    statusBarEnabled: c.get<boolean>('statusBar.enabled', true),
    notificationsEnabled: c.get<boolean>('notifications.enabled', true),
    validationEnabled: c.get<boolean>('validation.enabled', true),
    launcher: c.get<string>('launcher', 'local') === 'slurm' ? 'slurm' : 'local',
    queueAutoStart: c.get<boolean>('queue.autoStart', true),
  };
}
