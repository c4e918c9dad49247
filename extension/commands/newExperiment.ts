/** New Experiment: write a commented template `<name>.akd.json` and open it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { experimentTemplate } from './experimentTemplate';

/** Optional argument (tests, other extensions): skip the prompts. */
export interface NewExperimentArgs {
  name?: string;
  folder?: string;
}

const NAME_RE = /^[A-Za-z0-9._-]+$/;

function freeName(folder: string, name: string): string {
  let candidate = name;
  for (let k = 2; fs.existsSync(path.join(folder, `${candidate}.akd.json`)); k++) candidate = `${name}-${k}`;
  return candidate;
}

export function newExperiment() {
  return async (args?: NewExperimentArgs): Promise<vscode.Uri | undefined> => {
    const folder =
      args?.folder ??
      vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ??
      (vscode.window.activeTextEditor
        ? path.dirname(vscode.window.activeTextEditor.document.uri.fsPath)
        : undefined);
    if (!folder) {
      void vscode.window.showErrorMessage(
        'Anneal KD: open a folder first; the experiment is written into it.',
      );
      return undefined;
    }
    const name =
      args?.name ??
      (await vscode.window.showInputBox({
        title: 'New Anneal KD experiment',
        prompt: 'Experiment name (becomes part of each run folder name)',
        value: freeName(folder, 'mnist-anneal'),
        validateInput: (v) => (NAME_RE.test(v) ? undefined : 'Only letters, digits, ".", "_" and "-".'),
      }));
    if (!name) return undefined;
    const file = path.join(folder, `${freeName(folder, name)}.akd.json`);
    await fs.promises.writeFile(file, experimentTemplate(path.basename(file, '.akd.json')), { flag: 'wx' });
    const uri = vscode.Uri.file(file);
    await vscode.window.showTextDocument(uri);
    return uri;
  };
}
