/**
 * The extension's context object (rust-analyzer style): the things every feature needs, created
 * once in activate() and handed to the command factories and providers.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { RunManager } from './runs/runManager';
import type { AkdSettings } from './settings';

export interface Ctx {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly runs: RunManager;
  settings(): AkdSettings;
  /** Started at activation without waiting; undefined only if it could not be created. */
  readonly client: LanguageClient | undefined;
  /** Register for disposal at deactivation. */
  push(...disposables: vscode.Disposable[]): void;
}
