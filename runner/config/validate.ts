/**
 * Validation of experiment configs (`*.akd.json`): the one implementation the CLI and the
 * language server share. Three layers, each with exact text positions:
 *   1. syntax (JSON with comments and trailing commas, via jsonc-parser's tree),
 *   2. the JSON Schema in schema.json (ajv; also fills in defaults),
 *   3. cross-field rules (rules.ts) on the parts that passed the schema.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  getNodeValue,
  parseTree,
  printParseErrorCode,
  stripComments,
  type Node,
  type ParseError,
} from 'jsonc-parser';
import type { ExperimentConfig } from '../protocol/configTypes';
import { ConfigDocument, pathToString, type ConfigProblem } from './problems';
import { schemaProblems } from './schemaProblems';
import { crossFieldProblems } from './rules';
import { readFileStart, type ReadBytes } from './dataShape';
import {
  MAX_CONFIG_BYTES,
  MAX_JSON_DEPTH,
  NotAFileError,
  fileKind,
  jsonNestingDepth,
  readRegularText,
  type FileKind,
} from '../data/fileAccess';
import { expandSweep, gridKeyParts, gridScope } from './sweepExpand';

export type { ConfigProblem, Severity, ProblemCode } from './problems';
export { PROBLEM_CODES } from './problems';
export { resolveConfigPaths, checkpointModelJson } from './configPaths';

export interface ValidationResult {
  config?: ExperimentConfig;
  problems: ConfigProblem[];
}

export interface ValidateOptions {
  /** Whether a file or folder exists (default: fs.existsSync). */
  fileExists?: (absPath: string) => boolean;
  /** A text file's contents, or undefined if it cannot be read (default: fs, UTF-8). */
  readFile?: (absPath: string) => string | undefined;
  /** The first bytes of a binary file (IDX headers), or undefined (default: fs). */
  readBytes?: ReadBytes;
  /** What is at a path: a regular file, a folder, something else (a FIFO, a device) or nothing (default: fs.stat). */
  fileKind?: (absPath: string) => FileKind;
  /** A file's size in bytes, or undefined (default: fs.stat). */
  fileSize?: (absPath: string) => number | undefined;
  /** Whether @tensorflow/tfjs-node is installed (default: resolvable from here). */
  nativeBackend?: boolean;
}

let nativeInstalled: boolean | undefined;
function nativeBackendInstalled(): boolean {
  if (nativeInstalled === undefined) {
    try {
      require.resolve('@tensorflow/tfjs-node');
      nativeInstalled = true;
    } catch {
      nativeInstalled = false;
    }
  }
  return nativeInstalled;
}

/** A checkpoint's model.json may be large (a converted Keras model), never unbounded. */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

const defaultReadFile = (absPath: string): string | undefined => {
  try {
    return readRegularText(absPath, MAX_MODEL_JSON_BYTES);
  } catch {
    return undefined;
  }
};

const defaultFileSize = (absPath: string): number | undefined => {
  try {
    return fs.statSync(absPath).size;
  } catch {
    return undefined;
  }
};

/** A text too large or too deeply nested for the parser (it recurses: a 2,000-deep document overflows the stack). */
function inputLimitProblem(text: string): ConfigProblem | undefined {
  const doc = new ConfigDocument(text, undefined);
  if (text.length > MAX_CONFIG_BYTES) {
    return {
      severity: 'error',
      path: '',
      offset: 0,
      length: 0,
      line: 1,
      column: 1,
      code: 'file-too-large',
      message: `the config is ${text.length.toLocaleString('en-US')} characters, larger than the ${MAX_CONFIG_BYTES.toLocaleString('en-US')} a config may be`,
    };
  }
  const nesting = jsonNestingDepth(text, MAX_JSON_DEPTH);
  if (nesting.depth > MAX_JSON_DEPTH) {
    return {
      severity: 'error',
      path: '',
      offset: nesting.offset,
      length: 1,
      ...doc.position(nesting.offset),
      code: 'json-too-deep',
      message: `objects and arrays nest more than ${MAX_JSON_DEPTH} levels deep here; a config needs far fewer`,
    };
  }
  return undefined;
}

/**
 * text: the file's contents (JSON with comments and trailing commas allowed); configPath: absolute
 * path (for resolving relative paths). `config` is set (with schema defaults filled in, paths
 * left as written) only when there are no errors. Problems are sorted by position.
 */
export function validateConfigText(
  text: string,
  configPath: string,
  options: ValidateOptions = {},
): ValidationResult {
  const limit = inputLimitProblem(text);
  if (limit) return { problems: [limit] };
  const errors: ParseError[] = [];
  // A byte-order mark is not JSON; blank it out (same length, so offsets stay right).
  const source = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text;
  const root = parseTree(source, errors, { allowTrailingComma: true, disallowComments: false });
  const doc = new ConfigDocument(text, root);
  if (stripComments(source).trim() === '') return { problems: [emptyFileProblem()] };
  if (errors.length > 0 || !root) return { problems: syntaxProblems(doc, errors) };

  const problems = duplicateKeyProblems(doc, root);
  // ajv fills defaults into this value; the tree keeps the text as written. structuredClone
  // also turns jsonc-parser's null-prototype objects into plain ones.
  const value: unknown = structuredClone(getNodeValue(root));
  const schema = schemaProblems(doc, value);
  problems.push(...schema);

  if (root.type === 'object') {
    const errorPaths = schema.filter((p) => p.severity === 'error').map((p) => p.path);
    const isClean = (p: string): boolean =>
      !errorPaths.some((e) => p === '' || e === p || e.startsWith(`${p}.`) || e.startsWith(`${p}[`));
    problems.push(
      ...crossFieldProblems({
        doc,
        config: value as ExperimentConfig,
        configPath: path.resolve(configPath),
        fileExists: options.fileExists ?? fs.existsSync,
        readFile: options.readFile ?? defaultReadFile,
        readBytes: options.readBytes ?? readFileStart,
        fileKind: options.fileKind ?? fileKind,
        fileSize: options.fileSize ?? defaultFileSize,
        nativeBackend: options.nativeBackend ?? nativeBackendInstalled(),
        isClean,
      }),
    );
  }
  // A sweep: every member it expands into must be a valid experiment too (derived methods, grid values).
  if (root.type === 'object' && !hasErrors(problems) && (value as ExperimentConfig).sweep !== undefined) {
    problems.push(...sweepMemberProblems(doc, value as ExperimentConfig, configPath, options, problems));
  }
  problems.sort((a, b) => a.offset - b.offset || severityRank(a) - severityRank(b));
  return hasErrors(problems) ? { problems } : { config: value as ExperimentConfig, problems };
}

/**
 * Problems of a sweep's members that the config itself does not have, each reported once at the
 * part of the sweep block that causes it (a grid key, the method's settings, or the methods).
 */
function sweepMemberProblems(
  doc: ConfigDocument,
  config: ExperimentConfig,
  configPath: string,
  options: ValidateOptions,
  own: ConfigProblem[],
): ConfigProblem[] {
  const seen = new Map<string, { problem: ConfigProblem; members: string[]; method: string }>();
  const ownKeys = new Set(own.map((p) => `${p.path}|${p.code}`));
  for (const member of expandSweep(config)) {
    const result = validateConfigText(JSON.stringify(member.config), configPath, options);
    for (const p of result.problems) {
      if (ownKeys.has(`${p.path}|${p.code}`)) continue;
      const key = `${p.severity}|${p.path}|${p.code}|${p.message}`;
      const entry = seen.get(key) ?? { problem: p, members: [], method: member.method };
      entry.members.push(member.id);
      seen.set(key, entry);
    }
  }
  const sweep = config.sweep ?? {};
  const out: ConfigProblem[] = [];
  for (const { problem: p, members, method } of seen.values()) {
    const gridKey = Object.keys(sweep.grid ?? {}).find((k) =>
      gridKeyParts(k).some((part) => {
        const scope = gridScope(part);
        const full = pathToString(scope.kind === 'config' ? scope.path : ['method', ...scope.path]);
        return p.path === full || p.path.startsWith(`${full}.`) || p.path.startsWith(`${full}[`);
      }),
    );
    const at =
      gridKey !== undefined
        ? ['sweep', 'grid', gridKey]
        : p.path.startsWith('method') &&
            sweep.methodSettings?.[method as keyof typeof sweep.methodSettings] !== undefined
          ? ['sweep', 'methodSettings', method]
          : sweep.methods !== undefined
            ? ['sweep', 'methods']
            : ['sweep'];
    const who =
      members.length === 1
        ? `member ${members[0]}`
        : `${members.length} members (${members.slice(0, 3).join(', ')}${members.length > 3 ? ', ...' : ''})`;
    out.push(
      doc.problem({
        severity: p.severity,
        code: 'sweep-member',
        path: at,
        message: `${who}: ${p.path || '(root)'}: ${p.message} [${p.code}]`,
        data: { members, memberPath: p.path, memberCode: p.code, ...(p.data ? { memberData: p.data } : {}) },
      }),
    );
  }
  return out;
}

/**
 * A config file's text, or the one problem (path "") why it cannot be read: missing, unreadable,
 * not a regular file or too large. Only a regular file, of bounded size: /dev/zero never ends, a
 * FIFO blocks the open. Every reader of a config file goes through here (akd run --set too).
 */
export function readConfigText(configPath: string): { text: string } | { problem: ConfigProblem } {
  const abs = path.resolve(configPath);
  try {
    return { text: readRegularText(abs, MAX_CONFIG_BYTES) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err.code === 'ENOENT';
    const code =
      e instanceof NotAFileError
        ? (e.code ?? 'file-not-regular')
        : missing
          ? 'file-missing'
          : 'file-unreadable';
    return {
      problem: {
        severity: 'error',
        path: '',
        offset: 0,
        length: 0,
        line: 1,
        column: 1,
        code,
        message:
          e instanceof NotAFileError
            ? e.message
            : missing
              ? `config file not found: ${abs}`
              : `cannot read ${abs}: ${err.message}`,
        data: { path: abs },
      },
    };
  }
}

/** Reads and validates a config file; a missing or unreadable file is one problem with path "". */
export function validateConfigFile(configPath: string): ValidationResult {
  const abs = path.resolve(configPath);
  const read = readConfigText(abs);
  if ('problem' in read) return { problems: [read.problem] };
  return validateConfigText(read.text, abs);
}

/** `FILE:LINE:COL: SEVERITY: PATH: MESSAGE [CODE]` (PATH omitted when ""), the shape editors' problem matchers read. */
/** `FILE:LINE:COL PATH message [code]`; warnings and notes say so before the message. */
export function formatProblem(file: string, p: ConfigProblem): string {
  const severity = p.severity === 'error' ? '' : `${p.severity}: `;
  return `${file}:${p.line}:${p.column} ${p.path || '(root)'} ${severity}${p.message} [${p.code}]`;
}

export function hasErrors(problems: ConfigProblem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

function severityRank(p: ConfigProblem): number {
  return p.severity === 'error' ? 0 : p.severity === 'warning' ? 1 : 2;
}

// ---------------------------------------------------------------- syntax

const SYNTAX_MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":" after the key',
  CommaExpected: 'expected "," between entries',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'expected the end of the file after the top-level value',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character in string',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

function emptyFileProblem(): ConfigProblem {
  return {
    severity: 'error',
    path: '',
    message: 'the file is empty: expected a JSON object',
    offset: 0,
    length: 0,
    line: 1,
    column: 1,
    code: 'json-syntax',
  };
}

function syntaxProblems(doc: ConfigDocument, errors: ParseError[]): ConfigProblem[] {
  if (errors.length === 0) return [emptyFileProblem()];
  return errors.map((e) => {
    const name = printParseErrorCode(e.error);
    return {
      severity: 'error' as const,
      path: '',
      message: `JSON syntax error: ${SYNTAX_MESSAGES[name] ?? name}`,
      offset: e.offset,
      length: e.length,
      ...doc.position(e.offset),
      code: 'json-syntax',
      data: { parseError: name },
    };
  });
}

/** The parsed value keeps the last of duplicate keys; a silent override is almost surely a mistake. */
function duplicateKeyProblems(doc: ConfigDocument, root: Node): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const visit = (node: Node, at: (string | number)[]): void => {
    if (node.type === 'object') {
      const first = new Map<string, Node>();
      for (const prop of node.children ?? []) {
        const [key, value] = prop.children ?? [];
        if (!key) continue;
        const name = String(key.value);
        const earlier = first.get(name);
        if (earlier) {
          const where = doc.position(earlier.offset);
          out.push({
            severity: 'error',
            path: pathToString([...at, name]),
            message: `duplicate key ${JSON.stringify(name)} (also on line ${where.line}); only the last one would count`,
            offset: key.offset,
            length: key.length,
            ...doc.position(key.offset),
            code: 'duplicate-key',
            data: { key: name },
          });
        } else {
          first.set(name, key);
        }
        if (value) visit(value, [...at, name]);
      }
    } else if (node.type === 'array') {
      (node.children ?? []).forEach((child, i) => visit(child, [...at, i]));
    }
  };
  visit(root, []);
  return out;
}
