/**
 * Hover on `method` or `tauMax` in a config: the last runs of this config and their results, so
 * the effect of a change is visible where it is made. Off with annealKd.hover.enabled. The
 * schema's own description comes from the language server; this adds results only.
 */
import { getLocation } from 'jsonc-parser';
import * as vscode from 'vscode';
import type { RunManager } from '../runs/runManager';
import { formatAccuracy, formatAgo } from './resultFormat';

const SHOWN = 5;

export function isResultsKey(path: readonly (string | number)[]): boolean {
  return (
    (path.length === 1 && path[0] === 'method') ||
    (path.length === 2 && path[0] === 'method' && path[1] === 'tauMax')
  );
}

export class ResultsHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly runs: RunManager,
    private readonly enabled: () => boolean,
  ) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    if (!this.enabled() || document.uri.scheme !== 'file') return undefined;
    const location = getLocation(document.getText(), document.offsetAt(position));
    if (!location.isAtPropertyKey || !isResultsKey(location.path)) return undefined;
    const runs = this.runs.runsOf(document.uri.fsPath).slice(0, SHOWN);
    const md = new vscode.MarkdownString();
    md.appendMarkdown('**Anneal KD · last runs of this config**\n\n');
    if (runs.length === 0) {
      md.appendMarkdown('No runs yet.');
    } else {
      md.appendMarkdown(
        '| run | method | τmax | student | teacher | status |\n|---|---|---:|---:|---:|---|\n',
      );
      for (const r of runs) {
        const when = formatAgo(r.endedAt ?? r.startedAt);
        md.appendMarkdown(
          `| ${when} | ${r.method ?? ''} | ${r.tauMax ?? ''} | ${formatAccuracy(r.summary?.student.testAccuracy)} | ${formatAccuracy(r.summary?.teacher.testAccuracy)} | ${r.status} |\n`,
        );
      }
    }
    const range = document.getWordRangeAtPosition(position, /"[^"]*"/);
    return new vscode.Hover(md, range);
  }
}
