/**
 * Completion and hover from the runner's JSON Schema (runner/config/schema.json), through
 * vscode-json-languageservice. Its own validation is off: diagnostics come from the runner only.
 * The snippets added here are editor help (whole blocks to insert), not rules.
 */
import {
  getLanguageService,
  type CompletionList,
  type Hover,
  type JSONSchema,
  type LanguageService,
} from 'vscode-json-languageservice';
import type { Position } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import runnerSchema from '../../runner/config/schema.json';
import { METHOD_SNIPPETS, TEACHER_SNIPPETS, DATA_SNIPPETS } from './snippets';

export const SCHEMA_URI = 'akd://schema/experiment.schema.json';

/** The runner's schema plus `defaultSnippets` (a json-languageservice extension) for whole blocks. */
export function editorSchema(): JSONSchema {
  const schema = JSON.parse(JSON.stringify(runnerSchema)) as JSONSchema & {
    definitions: Record<string, JSONSchema>;
  };
  const defs = schema.definitions;
  if (defs.method) defs.method.defaultSnippets = METHOD_SNIPPETS;
  if (defs.teacher) defs.teacher.defaultSnippets = TEACHER_SNIPPETS;
  if (defs.data) defs.data.defaultSnippets = DATA_SNIPPETS;
  return schema;
}

export class SchemaService {
  private readonly service: LanguageService;

  constructor() {
    const schema = editorSchema();
    this.service = getLanguageService({
      // A `$schema` property in a config must not make the server fetch anything: always ours.
      schemaRequestService: async () => JSON.stringify(schema),
    });
    this.service.configure({
      validate: false,
      allowComments: true,
      schemas: [{ uri: SCHEMA_URI, fileMatch: ['*'], schema }],
    });
  }

  async completion(doc: TextDocument, position: Position): Promise<CompletionList | null> {
    return this.service.doComplete(doc, position, this.service.parseJSONDocument(doc));
  }

  async hover(doc: TextDocument, position: Position): Promise<Hover | null> {
    return this.service.doHover(doc, position, this.service.parseJSONDocument(doc));
  }
}
