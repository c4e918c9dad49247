/**
 * The message contract between the dashboard webview and the extension. Both sides import this
 * module; the extension validates every incoming message with `parseWebviewMessage` (a webview
 * is a browser page: treat what it sends as untrusted input).
 */
import type { RunState } from '../extension/runs/runState';

/** webview -> extension */
export type WebviewToExtension =
  | { type: 'ready' }
  | { type: 'command'; command: 'stopRun' | 'resumeRun' | 'showRunLog' | 'revealRunFolder'; runDir: string };

/** extension -> webview */
export type ExtensionToWebview = { type: 'run'; run: RunState; resultText: string };

const COMMANDS = ['stopRun', 'resumeRun', 'showRunLog', 'revealRunFolder'] as const;

export function parseWebviewMessage(value: unknown): WebviewToExtension | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (m.type === 'ready' && Object.keys(m).length === 1) return { type: 'ready' };
  if (m.type === 'command' && typeof m.command === 'string' && (COMMANDS as readonly string[]).includes(m.command)
    && typeof m.runDir === 'string' && m.runDir.length < 4096) {
    return { type: 'command', command: m.command as (typeof COMMANDS)[number], runDir: m.runDir };
  }
  return undefined;
}
