/**
 * Modify and Run… / Modify and Queue…: a config (or the config a run came from, with that run's
 * `--set` values) changed key by key in a quick input, each change checked as it is typed by the
 * runner's own validation (modifyModel.ts), then `akd run --set ...` (queued when no slot is
 * free) or `akd queue add --set ...`. The config file is never edited.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from '../context';
import { configFrom, runDirFrom } from './args';
import { ModifyModel } from './modifyModel';
import { readyToRun, reportQueued, reportRefusal } from './runCommands';

/** Optional second argument (tests, scripts): the changes, without the quick input. */
export interface ModifyArgs {
  set?: string[];
}

type Mode = 'run' | 'queue';

interface Target {
  configPath: string;
  /** The changes to start from (a run's own --set values). */
  initial: string[];
}

/** The config a command argument names: a config, or a run (the config it ran from, with its overrides). */
function targetOf(ctx: Ctx, arg: unknown): Target | undefined {
  const runDir = runDirFrom(arg);
  const run = runDir && !runDir.endsWith('.akd.json') ? ctx.runs.get(runDir) : undefined;
  if (run) {
    if (!run.configPath || !fs.existsSync(run.configPath)) {
      void vscode.window.showErrorMessage(
        `Anneal KD: the config of run ${run.runId} (${run.configPath ?? 'unknown'}) is gone; open a config to modify.`,
      );
      return undefined;
    }
    return {
      configPath: run.configPath,
      initial: Object.entries(run.overrides ?? {}).map(([k, v]) => ModifyModel.text(k, v)),
    };
  }
  const uri = configFrom(arg);
  return uri ? { configPath: uri.fsPath, initial: [] } : undefined;
}

interface Item extends vscode.QuickPickItem {
  action: 'go' | 'set-typed' | 'edit' | 'unset';
  key?: string;
}

/** The quick input: resolves with the changes to run with, or undefined when dismissed. */
async function pickChanges(model: ModifyModel, mode: Mode): Promise<string[] | undefined> {
  const verb = mode === 'run' ? 'Run' : 'Queue';
  for (;;) {
    const qp = vscode.window.createQuickPick<Item>();
    qp.title = `${verb} ${path.basename(model.configPath)} with changes`;
    qp.placeholder = 'Pick a key to change it, or type KEY=VALUE (JSON values), e.g. method.tauMax=5';
    qp.matchOnDescription = true;
    const base = (): Item[] => {
      const changes = model.setTexts();
      const go: Item = {
        label: `$(${mode === 'run' ? 'play' : 'list-ordered'}) ${verb} with ${changes.length} change${changes.length === 1 ? '' : 's'}`,
        description: changes.join(' '),
        action: 'go',
        alwaysShow: true,
      };
      const leaves = model.leaves().map((l): Item => ({
        label: `${l.changed ? '$(edit) ' : ''}${l.key}`,
        description: JSON.stringify(l.value),
        action: 'edit',
        key: l.key,
      }));
      return [go, { label: '', kind: vscode.QuickPickItemKind.Separator, action: 'edit' }, ...leaves];
    };
    const typed = (value: string): Item | undefined => {
      if (!value.includes('=')) return undefined;
      const why = model.check(value);
      return {
        label: `$(edit) Set ${value}`,
        detail: why ? `$(error) ${why}` : '$(check) valid: Enter sets it',
        action: 'set-typed',
        alwaysShow: true,
      };
    };
    qp.items = base();
    const picked = await new Promise<Item | undefined>((resolve) => {
      qp.onDidChangeValue((value) => {
        const t = typed(value);
        qp.items = t ? [t, ...base()] : base();
      });
      qp.onDidAccept(() => {
        const item = qp.selectedItems[0];
        if (item?.action === 'set-typed') {
          if (model.set(qp.value) === undefined) {
            qp.value = '';
            qp.items = base();
          }
          return; // stays open: more changes, or the go item
        }
        resolve(item);
        qp.hide();
      });
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
    qp.dispose();
    if (!picked) return undefined;
    if (picked.action === 'go') return model.setTexts();
    if (picked.action === 'edit' && picked.key) {
      const key = picked.key;
      const current = model.leaves().find((l) => l.key === key)?.value;
      const value = await vscode.window.showInputBox({
        title: `${key} (JSON)`,
        value: ModifyModel.valueText(current),
        prompt: `A JSON value for ${key}; empty: back to the config's value`,
        validateInput: (v) => (v.trim() === '' ? undefined : model.check(`${key}=${v}`)),
      });
      if (value === undefined) continue;
      if (value.trim() === '') model.unset(key);
      else model.set(`${key}=${value}`);
    }
  }
}

function modify(ctx: Ctx, mode: Mode) {
  return async (arg?: unknown, options?: ModifyArgs): Promise<unknown> => {
    const target = targetOf(ctx, arg);
    if (!target) {
      if (!runDirFrom(arg))
        void vscode.window.showErrorMessage(
          'Anneal KD: open or select a *.akd.json config (or a run) to modify.',
        );
      return undefined;
    }
    try {
      ctx.runs.assertCanStart(mode === 'run' ? 'Modify and Run' : 'Modify and Queue', { slots: false });
      const uri = vscode.Uri.file(target.configPath);
      if (!(await readyToRun(uri, mode === 'run' ? 'run' : 'queued'))) return undefined;
      const model = new ModifyModel(
        target.configPath,
        fs.readFileSync(target.configPath, 'utf8'),
        target.initial,
      );
      let set: string[] | undefined;
      if (options?.set) {
        for (const s of options.set) {
          const why = model.set(s);
          if (why) {
            void vscode.window.showErrorMessage(
              `Anneal KD: --set ${s}: ${why}; nothing was ${mode === 'run' ? 'run' : 'queued'}.`,
            );
            return undefined;
          }
        }
        set = model.setTexts();
      } else set = await pickChanges(model, mode);
      if (!set) return undefined;
      if (mode === 'queue') {
        const queued = await ctx.runs.enqueue(target.configPath, set);
        reportQueued(ctx, queued, path.basename(target.configPath));
        return { queued };
      }
      const outcome = await ctx.runs.startOrQueue(target.configPath, set);
      if ('started' in outcome) return outcome.started;
      reportQueued(ctx, outcome.queued, path.basename(target.configPath));
      return outcome;
    } catch (e) {
      return reportRefusal(e);
    }
  };
}

export function modifyAndRun(ctx: Ctx) {
  return modify(ctx, 'run');
}

export function modifyAndQueue(ctx: Ctx) {
  return modify(ctx, 'queue');
}
