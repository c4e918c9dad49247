/**
 * Runner problems -> LSP diagnostics. The rules live in the runner (runner/config/validate.ts);
 * this file only converts offsets to ranges and keeps what the quick fixes need in `data`.
 */
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { URI } from 'vscode-uri';
import { validateConfigText, type ConfigProblem } from '../../runner/config/validate';

export const DIAGNOSTIC_SOURCE = 'akd';

/** What a diagnostic carries for the quick fixes (round-trips through the client untouched). */
export interface ProblemData {
  code: string;
  path: string;
  data?: unknown;
}

function severityOf(problem: ConfigProblem): DiagnosticSeverity {
  switch (problem.severity) {
    case 'error':
      return DiagnosticSeverity.Error;
    case 'warning':
      return DiagnosticSeverity.Warning;
    default:
      return DiagnosticSeverity.Information;
  }
}

/** The file path the runner resolves relative data files and checkpoints against. */
export function configPathOf(uri: string): string {
  const parsed = URI.parse(uri);
  return parsed.scheme === 'file' ? parsed.fsPath : parsed.path;
}

export function toDiagnostic(doc: TextDocument, problem: ConfigProblem): Diagnostic {
  const start = Math.max(0, Math.min(problem.offset, doc.getText().length));
  // A missing key points at the whole enclosing object; squiggling all of it hides everything
  // else, so (like VS Code's JSON support) underline only its opening brace.
  const length = problem.code === 'missing-key' && doc.getText()[start] === '{' ? 1 : problem.length;
  const end = Math.max(start, Math.min(problem.offset + length, doc.getText().length));
  const data: ProblemData = { code: problem.code, path: problem.path, data: problem.data };
  return {
    range: { start: doc.positionAt(start), end: doc.positionAt(end) },
    severity: severityOf(problem),
    code: problem.code,
    source: DIAGNOSTIC_SOURCE,
    message: problem.message,
    data,
  };
}

/** Validate with the runner's own function: the CLI and the editor can never disagree. */
export function diagnose(doc: TextDocument): Diagnostic[] {
  const { problems } = validateConfigText(doc.getText(), configPathOf(doc.uri));
  return problems.map((p) => toDiagnostic(doc, p));
}
