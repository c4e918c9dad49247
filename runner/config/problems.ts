/**
 * Problems found in a config file, with the text positions editors and the CLI need. The
 * positions come from the jsonc-parser tree, so they are exact even with comments and
 * trailing commas in the file.
 */
import type { Node } from 'jsonc-parser';

export type Severity = 'error' | 'warning' | 'info';

export interface ConfigProblem {
  severity: Severity;
  /** JSON path like "method.phase1.epochs" or "student.model.hidden[0]" ("" for the root). For a missing key, the path the key would have. */
  path: string;
  message: string;
  /** 0-based offset and length in the text of the offending KEY for unknown keys, else the VALUE (or the enclosing object when a key is missing); line/column are 1-based. */
  offset: number;
  length: number;
  line: number;
  column: number;
  /** Machine-readable code for quick fixes (see PROBLEM_CODES). */
  code: string;
  /** Optional data for quick fixes, e.g. { key: 'foo' } or { suggested: 20 }. */
  data?: Record<string, unknown>;
}

/** Every code a problem can carry, so quick fixes and docs can enumerate them. */
export const PROBLEM_CODES = [
  // The file itself
  'file-unreadable',
  'file-not-regular',
  'file-too-large',
  'json-too-deep',
  'json-syntax',
  'duplicate-key',
  // Schema
  'unknown-key',
  'conflicting-key',
  'missing-key',
  'type',
  'enum',
  'range',
  'pattern',
  // Files the config refers to
  'file-missing',
  'idx-invalid',
  'checkpoint-invalid',
  'checkpoint-shape-mismatch',
  // Models
  'resnet-depth',
  'input-too-small',
  'student-not-smaller',
  'assistant-size',
  'model-large-for-wasm',
  // Methods and optimizers
  'epochs-lt-taumax',
  'epochs-not-multiple',
  'phase2-skipped',
  'kd-alpha-zero',
  'milestones-order',
  'milestone-ineffective',
  'nesterov-without-momentum',
  'lr-high',
  // Data sizes
  'limit-exceeds-dataset',
  'no-training-data',
  'no-validation',
  'validation-empty',
  'batch-too-large',
  // Augmentation and the evaluation protocol
  'augment-flip-digits',
  'augment-crop-large',
  'protocol-ignores-validation',
  // Sweeps
  'sweep-grid-key',
  'sweep-duplicate',
  'sweep-member',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** A path into the JSON value: object keys and array indices. */
export type JsonPath = (string | number)[];

export function pathToString(path: JsonPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** Where in the text a problem points. */
export type Target =
  | 'value' // the value at the path (or its nearest existing ancestor)
  | 'key'; // the property key at the path (unknown, conflicting, duplicate keys)

export interface ProblemSpec {
  severity?: Severity;
  code: ProblemCode;
  /** Reported path. */
  path: JsonPath;
  message: string;
  /** Node to point at, when not `path` (e.g. the enclosing object of a missing key). */
  at?: JsonPath;
  target?: Target;
  data?: Record<string, unknown>;
}

/** The parsed text plus what is needed to turn a JSON path into a text position. */
export class ConfigDocument {
  private readonly lineStarts: number[];

  constructor(
    readonly text: string,
    readonly root: Node | undefined,
  ) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 10 /* \n */) this.lineStarts.push(i + 1);
      else if (ch === 13 /* \r */ && text.charCodeAt(i + 1) !== 10) this.lineStarts.push(i + 1);
    }
  }

  /** 1-based line and column (in UTF-16 code units, as editors count) of a 0-based offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  /**
   * The value node at `path`, or undefined. With duplicate keys the LAST one wins, as in the
   * parsed value (jsonc-parser's findNodeAtLocation would take the first).
   */
  findNode(path: JsonPath): Node | undefined {
    let node = this.root;
    for (const seg of path) {
      if (!node) return undefined;
      if (typeof seg === 'number') {
        node = node.type === 'array' ? node.children?.[seg] : undefined;
      } else if (node.type === 'object') {
        const props = (node.children ?? []).filter(
          (p) => p.children?.[0]?.value === seg && p.children.length === 2,
        );
        node = props.length > 0 ? props[props.length - 1].children?.[1] : undefined;
      } else {
        return undefined;
      }
    }
    return node;
  }

  /** The node for a path, falling back to the nearest ancestor that exists in the text. */
  nodeOrAncestor(path: JsonPath): Node | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.findNode(path.slice(0, n));
      if (node) return node;
    }
    return undefined;
  }

  problem(spec: ProblemSpec): ConfigProblem {
    const at = spec.at ?? spec.path;
    let node = this.nodeOrAncestor(at);
    if (spec.target === 'key' && node && this.findNode(at) === node && node.parent?.type === 'property') {
      node = node.parent.children?.[0] ?? node;
    }
    const offset = node?.offset ?? 0;
    const length = node?.length ?? 0;
    const problem: ConfigProblem = {
      severity: spec.severity ?? 'error',
      path: pathToString(spec.path),
      message: spec.message,
      offset,
      length,
      ...this.position(offset),
      code: spec.code,
    };
    if (spec.data) problem.data = spec.data;
    return problem;
  }
}

/** A value as shown in messages: `got 3`, `got "abc"`, `got an object`. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) {
    const json = JSON.stringify(value);
    return json.length <= 40 ? json : 'an array';
  }
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** `"a", "b" or "c"` */
export function quoteList(values: readonly unknown[], last = 'or'): string {
  const items = values.map((v) => JSON.stringify(v));
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${last} ${items[items.length - 1]}`;
}

/** Edit distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The closest candidate to a misspelt name, if it is close enough to be a likely typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[_\-\s]/g, '');
  const exact = candidates.find((c) => norm(c) === norm(name));
  if (exact !== undefined) return exact;
  const limit = Math.min(3, Math.floor(name.length / 4) + 1);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(norm(name), norm(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
