/**
 * Quick fixes for the runner's problem codes. Each fix edits the JSON through jsonc-parser so
 * comments and formatting around the edit survive.
 */
import { modify, type Edit, type JSONPath, type FormattingOptions } from 'jsonc-parser';
import { CodeActionKind, type CodeAction, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ProblemData } from './diagnostics';
import { DEFAULT_ANNEALING_METHOD } from './snippets';

/** Problem paths may be "a.b[0]", "/a/b/0" or already segments; "" is the root. */
export function toJsonPath(path: string | readonly (string | number)[] | undefined): JSONPath {
  if (path === undefined || path === '') return [];
  if (Array.isArray(path)) return [...path];
  const text = path as string;
  if (text.startsWith('/')) {
    return text
      .slice(1)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  }
  const out: JSONPath = [];
  for (const part of text.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function formatting(doc: TextDocument): FormattingOptions {
  const indent = /\n([ \t]+)\S/.exec(doc.getText())?.[1] ?? '  ';
  return {
    insertSpaces: !indent.startsWith('\t'),
    tabSize: indent.startsWith('\t') ? 4 : indent.length,
    eol: doc.getText().includes('\r\n') ? '\r\n' : '\n',
  };
}

function toTextEdits(doc: TextDocument, edits: Edit[]): TextEdit[] {
  return edits.map((e) => ({
    range: { start: doc.positionAt(e.offset), end: doc.positionAt(e.offset + e.length) },
    newText: e.content,
  }));
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function action(
  doc: TextDocument,
  title: string,
  diagnostic: Diagnostic,
  edits: Edit[],
  preferred: boolean,
): CodeAction | undefined {
  if (edits.length === 0) return undefined;
  return {
    title,
    kind: CodeActionKind.QuickFix,
    diagnostics: [diagnostic],
    isPreferred: preferred,
    edit: { changes: { [doc.uri]: toTextEdits(doc, edits) } },
  };
}

/** The name of a missing or unknown key: from the problem's data if it says, else from the path or message. */
function keyOf(problem: ProblemData, diagnostic: Diagnostic): string | undefined {
  const data = record(problem.data);
  for (const k of ['key', 'property', 'missing', 'name'])
    if (typeof data[k] === 'string') return data[k] as string;
  const message = typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
  const quoted = /"([^"]+)"/.exec(message);
  return quoted?.[1];
}

export function quickFixesFor(doc: TextDocument, diagnostic: Diagnostic): CodeAction[] {
  const problem = diagnostic.data as ProblemData | undefined;
  if (!problem || typeof problem.code !== 'string') return [];
  const text = doc.getText();
  const options = { formattingOptions: formatting(doc) };
  const path = toJsonPath(problem.path);
  const data = record(problem.data);
  const fixes: (CodeAction | undefined)[] = [];

  switch (problem.code) {
    case 'epochs-not-multiple':
    case 'epochs-lt-taumax': {
      const suggested = data.suggested;
      if (typeof suggested === 'number') {
        fixes.push(
          action(
            doc,
            `Set phase1.epochs to ${suggested} (a multiple of tauMax)`,
            diagnostic,
            modify(text, ['method', 'phase1', 'epochs'], suggested, options),
            true,
          ),
        );
      }
      break;
    }
    case 'augment-flip-digits':
    case 'protocol-ignores-validation': {
      const name = String(path[path.length - 1] ?? '');
      fixes.push(action(doc, `Remove "${name}"`, diagnostic, modify(text, path, undefined, options), true));
      break;
    }
    case 'augment-crop-large': {
      if (typeof data.suggested === 'number')
        fixes.push(
          action(
            doc,
            `Set randomCrop to ${data.suggested}`,
            diagnostic,
            modify(text, path, data.suggested, options),
            true,
          ),
        );
      break;
    }
    case 'unknown-key': {
      // The path names the unknown key itself, or its parent when data names the key.
      const key = keyOf(problem, diagnostic);
      const keyPath = key !== undefined && path[path.length - 1] !== key ? [...path, key] : path;
      const name = String(keyPath[keyPath.length - 1] ?? key ?? '');
      if (keyPath.length > 0)
        fixes.push(
          action(
            doc,
            `Remove unknown key "${name}"`,
            diagnostic,
            modify(text, keyPath, undefined, options),
            true,
          ),
        );
      break;
    }
    case 'missing-key': {
      // The path is where the key would be ("method"); older shapes gave the parent ("").
      const key = keyOf(problem, diagnostic);
      const parent = path[path.length - 1] === key ? path.slice(0, -1) : path;
      if (key === 'method' && parent.length === 0) {
        fixes.push(
          action(
            doc,
            'Add a "method" block (annealing)',
            diagnostic,
            modify(text, ['method'], DEFAULT_ANNEALING_METHOD, options),
            true,
          ),
        );
      }
      break;
    }
  }
  return fixes.filter((f): f is CodeAction => f !== undefined);
}
