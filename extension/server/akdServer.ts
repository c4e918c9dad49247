/**
 * The Anneal KD language server's features, wired onto any connection (stdio/IPC in the editor,
 * in-memory streams in test/unit/extension/akdServer.test.ts). Like lsp-sample, it looks at the client's capabilities:
 * pull diagnostics when the client asks for them, else a debounced push on every change.
 */
import {
  CodeActionKind,
  DocumentDiagnosticReportKind,
  TextDocumentSyncKind,
  TextDocuments,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { diagnose } from './diagnostics';
import { quickFixesFor } from './quickFixes';
import { SchemaService } from './schemaService';

/** Debounce for pushed diagnostics: validation is fast, but not on every keystroke of a burst. */
export const PUSH_DEBOUNCE_MS = 150;

export function startServer(connection: Connection): TextDocuments<TextDocument> {
  const documents = new TextDocuments(TextDocument);
  const schema = new SchemaService();
  let pullDiagnostics = false;
  const pending = new Map<string, NodeJS.Timeout>();

  connection.onInitialize((params): InitializeResult => {
    pullDiagnostics = !!params.capabilities.textDocument?.diagnostic;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['"', ':'] },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        ...(pullDiagnostics
          ? { diagnosticProvider: { interFileDependencies: false, workspaceDiagnostics: false } }
          : {}),
      },
      serverInfo: { name: 'Anneal KD config server' },
    };
  });

  const push = (doc: TextDocument): void => {
    clearTimeout(pending.get(doc.uri));
    pending.set(
      doc.uri,
      setTimeout(() => {
        pending.delete(doc.uri);
        const current = documents.get(doc.uri);
        if (current)
          void connection.sendDiagnostics({
            uri: current.uri,
            version: current.version,
            diagnostics: diagnose(current),
          });
      }, PUSH_DEBOUNCE_MS),
    );
  };

  documents.onDidChangeContent((change) => {
    if (!pullDiagnostics) push(change.document);
  });
  documents.onDidClose((event) => {
    clearTimeout(pending.get(event.document.uri));
    pending.delete(event.document.uri);
    if (!pullDiagnostics) void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  connection.languages.diagnostics.on((params) => {
    const doc = documents.get(params.textDocument.uri);
    return { kind: DocumentDiagnosticReportKind.Full, items: doc ? diagnose(doc) : [] };
  });

  connection.onCompletion(async (params) => {
    const doc = documents.get(params.textDocument.uri);
    return doc ? schema.completion(doc, params.position) : null;
  });

  connection.onHover(async (params) => {
    const doc = documents.get(params.textDocument.uri);
    return doc ? schema.hover(doc, params.position) : null;
  });

  connection.onCodeAction((params) => {
    const doc = documents.get(params.textDocument.uri);
    if (!doc) return [];
    return params.context.diagnostics.flatMap((d) => quickFixesFor(doc, d));
  });

  documents.listen(connection);
  return documents;
}
