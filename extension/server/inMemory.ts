/**
 * The server on in-memory streams, with a JSON-RPC client on the other end: what
 * test/unit/extension/akdServer.test.ts drives. (The tests bundle this file with esbuild because the LSP packages
 * resolve through package.json "exports", which the root tsconfig's resolution does not read.)
 */
import { PassThrough } from 'node:stream';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { createConnection } from 'vscode-languageserver/node';
import { startServer } from './akdServer';

export interface InMemoryServer {
  client: MessageConnection;
  dispose(): void;
}

export function startInMemoryServer(): InMemoryServer {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const server = createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
  startServer(server);
  server.listen();
  const client = createMessageConnection(
    new StreamMessageReader(toClient),
    new StreamMessageWriter(toServer),
  );
  client.listen();
  return {
    client,
    dispose() {
      client.dispose();
      server.dispose();
      toServer.destroy();
      toClient.destroy();
    },
  };
}

/** Apply LSP text edits to a text (for checking what a quick fix does). */
export { TextDocument } from 'vscode-languageserver-textdocument';
