/**
 * The language client: it only starts dist/server.js and wires it to `akd-json` documents
 * (lsp-sample style). The one thing it adds is the annealKd.validation.enabled switch.
 */
import * as vscode from 'vscode';
import {
  LanguageClient,
  vsdiag,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';

export const AKD_LANGUAGE_ID = 'akd-json';

export function createLanguageClient(
  context: vscode.ExtensionContext,
  validationEnabled: () => boolean,
): LanguageClient {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: AKD_LANGUAGE_ID }],
    diagnosticCollectionName: 'akd',
    middleware: {
      // Pull (the server's choice when the client supports it) and push both pass through here.
      provideDiagnostics: (document, previousResultId, token, next) =>
        validationEnabled()
          ? next(document, previousResultId, token)
          : { kind: vsdiag.DocumentDiagnosticReportKind.full, items: [] },
      handleDiagnostics: (uri, diagnostics, next) => next(uri, validationEnabled() ? diagnostics : []),
    },
  };
  return new LanguageClient('annealKd', 'Anneal KD Language Server', serverOptions, clientOptions);
}
