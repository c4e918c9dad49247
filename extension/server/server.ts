/** Entry of dist/server.js: the language server process the client starts over IPC. */
import { ProposedFeatures, createConnection } from 'vscode-languageserver/node';
import { startServer } from './akdServer';

const connection = createConnection(ProposedFeatures.all);
startServer(connection);
connection.listen();
