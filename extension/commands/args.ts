/**
 * Commands are invoked from the palette (no argument), the Runs tree (a node), CodeLens (a run
 * folder string or a Uri) and the explorer (a Uri): these helpers turn any of them into a path,
 * or ask the user.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runLabel } from '../views/runsTree';
import type { RunState } from '../../runner/protocol';
import type { Ctx } from '../context';

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

export function runDirFrom(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  const r = record(arg);
  return typeof r?.runDir === 'string' ? r.runDir : undefined;
}

export function configFrom(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.file(arg);
  const r = record(arg);
  if (typeof r?.configPath === 'string') return vscode.Uri.file(r.configPath);
  const doc = vscode.window.activeTextEditor?.document;
  return doc && doc.uri.fsPath.endsWith('.akd.json') ? doc.uri : undefined;
}

/** The run named by the argument, or one the user picks among those `accept` allows. */
export async function runFromArgOrPick(
  ctx: Ctx,
  arg: unknown,
  accept: (r: RunState) => boolean,
  placeHolder: string,
): Promise<RunState | undefined> {
  const given = runDirFrom(arg);
  if (given) return ctx.runs.get(given) ?? { runId: path.basename(given), runDir: given, status: 'unknown' };
  const candidates = ctx.runs.allRuns().filter(accept);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(
      `Anneal KD: no run to choose from (${placeHolder.toLowerCase()}).`,
    );
    return undefined;
  }
  if (candidates.length === 1) return candidates[0];
  const picked = await vscode.window.showQuickPick(
    candidates.map((r) => ({
      label: `${r.name ?? r.runId}  ${runLabel(r)}`,
      description: r.status,
      detail: r.runDir,
      run: r,
    })),
    { placeHolder },
  );
  return picked?.run;
}
