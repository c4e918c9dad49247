/**
 * JSON Schema validation of a config (ajv) and the translation of ajv's errors into problems a
 * person can act on: the field, the reason, the offending value, a suggestion where one exists.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import schemaJson from './schema.json';
import {
  closest,
  ConfigDocument,
  quoteList,
  show,
  type ConfigProblem,
  type JsonPath,
  type ProblemSpec,
} from './problems';

/** The parts of a JSON Schema node this module reads. */
export interface SchemaNode {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, SchemaNode | boolean>;
  items?: SchemaNode;
  required?: string[];
  oneOf?: SchemaNode[];
  discriminator?: { propertyName: string };
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  patternErrorMessage?: string;
  description?: string;
  default?: unknown;
  definitions?: Record<string, SchemaNode>;
}

export const configSchema = schemaJson as unknown as SchemaNode;

let compiled: ValidateFunction | undefined;

/** The compiled validator (compiled once; it fills defaults into the value it checks). */
export function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({
      allErrors: true,
      discriminator: true,
      useDefaults: true,
      verbose: true,
      strict: true,
      strictRequired: false,
    });
    // strictRequired would reject the `required`-only subschemas of anyOf/if that select a data or teacher form.
    // VS Code's JSON support reads this for pattern messages; ajv only needs to accept it.
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    // VS Code's JSON language service shows these beside each enum value in completion.
    ajv.addKeyword({ keyword: 'enumDescriptions', schemaType: 'array' });
    compiled = ajv.compile(configSchema);
  }
  return compiled;
}

/** Resolve a local `#/definitions/x` reference. */
export function resolveSchema(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const parts = node.$ref.replace(/^#\//, '').split('/');
  let cur: unknown = configSchema;
  for (const p of parts) cur = (cur as Record<string, unknown>)[p];
  return resolveSchema(cur as SchemaNode);
}

/** The tag values of a discriminated union, e.g. ["mlp", "cnn", "resnet"]. */
function tagValues(union: SchemaNode): string[] {
  const tag = union.discriminator?.propertyName ?? 'type';
  return (union.oneOf ?? []).map((b) => {
    const prop = resolveSchema(b).properties?.[tag];
    return typeof prop === 'object' ? String(prop.const) : '?';
  });
}

/** `an integer >= 1`, `a number >= 0 and < 1`, `an array of integers >= 1`, `one of "a" or "b"`. */
export function describeSchema(s: SchemaNode, plural = false): string {
  if (s.enum) return `${plural ? '' : 'one of '}${quoteList(s.enum)}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  const noun = (one: string, many: string, article: string): string => (plural ? many : `${article} ${one}`);
  switch (s.type) {
    case 'integer':
      return noun('integer', 'integers', 'an') + bounds(s);
    case 'number':
      return noun('number', 'numbers', 'a') + bounds(s);
    case 'string':
      return noun('string', 'strings', 'a');
    case 'boolean':
      return plural ? 'booleans' : 'true or false';
    case 'array':
      return (
        noun('array', 'arrays', 'an') + (s.items ? ` of ${describeSchema(resolveSchema(s.items), true)}` : '')
      );
    case 'object':
      return noun('object', 'objects', 'an');
    default:
      return 'a valid value';
  }
}

function bounds(s: SchemaNode): string {
  const lo =
    s.minimum !== undefined
      ? (['>=', s.minimum] as const)
      : s.exclusiveMinimum !== undefined
        ? (['>', s.exclusiveMinimum] as const)
        : undefined;
  const hi =
    s.maximum !== undefined
      ? (['<=', s.maximum] as const)
      : s.exclusiveMaximum !== undefined
        ? (['<', s.exclusiveMaximum] as const)
        : undefined;
  if (lo && hi) {
    return lo[0] === '>=' && hi[0] === '<='
      ? ` between ${lo[1]} and ${hi[1]}`
      : ` ${lo[0]} ${lo[1]} and ${hi[0]} ${hi[1]}`;
  }
  if (lo) return ` ${lo[0]} ${lo[1]}`;
  if (hi) return ` ${hi[0]} ${hi[1]}`;
  return '';
}

/** ajv's JSON Pointer instance path as a path with numeric array indices. */
function toPath(pointer: string, root: unknown): JsonPath {
  if (!pointer) return [];
  const path: JsonPath = [];
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      path.push(seg);
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

function valueAt(root: unknown, path: JsonPath): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** Validate `value` (defaults are filled into it in place) and return the problems. */
export function schemaProblems(doc: ConfigDocument, value: unknown): ConfigProblem[] {
  const validate = schemaValidator();
  if (validate(value)) return [];
  const errors = [...(validate.errors ?? [])];
  return dedupe(translate(doc, value, errors));
}

function translate(doc: ConfigDocument, root: unknown, errors: ErrorObject[]): ConfigProblem[] {
  const specs: ProblemSpec[] = [];
  const consumed = new Set<ErrorObject>();

  // "One of these keys is required" (anyOf of `required`s): one problem naming all the keys.
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue;
    const branches = errors.filter(
      (b) => b !== e && b.instancePath === e.instancePath && b.schemaPath.startsWith(`${e.schemaPath}/`),
    );
    if (branches.length > 0 && branches.every((b) => b.keyword === 'required')) {
      const keys = branches.map((b) => String(b.params.missingProperty));
      const parent = toPath(e.instancePath, root);
      specs.push({
        code: 'missing-key',
        path: parent,
        at: parent,
        message: `missing required key ${quoteList(keys)}${anyOfHint(parent)}`,
        data: { key: keys[0], keys },
      });
      branches.forEach((b) => consumed.add(b));
      consumed.add(e);
    }
  }

  for (const e of errors) {
    if (consumed.has(e)) continue;
    const spec = translateOne(e, root);
    if (spec) specs.push(spec);
  }
  return specs.map((s) => doc.problem(s));
}

function anyOfHint(parent: JsonPath): string {
  if (parent.length === 1 && parent[0] === 'data') {
    return ': {"dataset": "mnist"} for the bundled MNIST, or "format": "idx" | "cifar10" | "cifar100" for your own files';
  }
  return '';
}

function translateOne(e: ErrorObject, root: unknown): ProblemSpec | undefined {
  const at = toPath(e.instancePath, root);
  const parentSchema = (e.parentSchema ?? {}) as SchemaNode;
  const value: unknown = e.data;
  switch (e.keyword) {
    case 'if':
      // The branch's own errors say what is wrong; "must match then" adds nothing.
      return undefined;
    case 'additionalProperties':
      return unknownKey(at, String(e.params.additionalProperty), parentSchema, valueAt(root, at));
    case 'required':
      return missingKey(at, String(e.params.missingProperty), parentSchema, valueAt(root, at));
    case 'false schema':
      return conflictingKey(at, valueAt(root, at.slice(0, -1)));
    case 'discriminator':
      return badTag(at, e, parentSchema);
    case 'type':
      return {
        code: 'type',
        path: at,
        message: `must be ${describeSchema(parentSchema)}, got ${show(value)}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        code: 'range',
        path: at,
        message: `must be ${describeSchema(parentSchema)}, got ${show(value)}`,
        data: { limit: e.params.limit },
      };
    case 'minLength':
      return {
        code: 'range',
        path: at,
        message:
          parentSchema.minLength === 1
            ? 'must not be empty'
            : `must have at least ${parentSchema.minLength} characters`,
      };
    case 'maxLength':
      return {
        code: 'range',
        path: at,
        message: `must have at most ${parentSchema.maxLength} characters, got ${String(value).length}`,
      };
    case 'minItems':
      return {
        code: 'range',
        path: at,
        message: `must have at least ${parentSchema.minItems} item${parentSchema.minItems === 1 ? '' : 's'}, got ${show(value)}`,
      };
    case 'enum':
    case 'const': {
      const allowed = parentSchema.enum ?? [parentSchema.const];
      return enumProblem(at, allowed, value);
    }
    case 'pattern':
      return {
        code: 'pattern',
        path: at,
        message: `${parentSchema.patternErrorMessage ?? `must match the pattern ${parentSchema.pattern}`}, got ${show(value)}`,
      };
    default:
      return { code: 'type', path: at, message: e.message ?? `is invalid (${e.keyword})` };
  }
}

function enumProblem(at: JsonPath, allowed: unknown[], value: unknown): ProblemSpec {
  const guess = typeof value === 'string' ? closest(value, allowed.map(String)) : undefined;
  const head =
    allowed.length === 1 ? `must be ${JSON.stringify(allowed[0])}` : `must be one of ${quoteList(allowed)}`;
  return {
    code: 'enum',
    path: at,
    message: `${head}, got ${show(value)}${guess !== undefined ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`,
    data: { allowed, ...(guess !== undefined ? { suggested: guess } : {}) },
  };
}

function unknownKey(parent: JsonPath, key: string, schema: SchemaNode, obj: unknown): ProblemSpec {
  const allowed = Object.keys(schema.properties ?? {});
  const guess = closest(key, allowed);
  let message = `unknown key ${JSON.stringify(key)}`;
  if (guess !== undefined) {
    message += ` (did you mean ${JSON.stringify(guess)}?)`;
  } else {
    // Say which variant we are in (e.g. an "sgd" optimizer has no "beta1"), and what it accepts.
    const tag = asObject(obj)?.type;
    const variant =
      typeof tag === 'string' && typeof schema.properties?.type === 'object'
        ? ` for type ${JSON.stringify(tag)}`
        : '';
    message += `${variant}; allowed keys: ${quoteList(allowed, 'and')}`;
  }
  return {
    code: 'unknown-key',
    path: [...parent, key],
    target: 'key',
    message,
    data: { key, ...(guess !== undefined ? { suggested: guess } : {}) },
  };
}

function missingKey(parent: JsonPath, key: string, schema: SchemaNode, obj: unknown): ProblemSpec {
  let hint = '';
  const o = asObject(obj);
  if (schema.discriminator?.propertyName === key) {
    hint = `: one of ${quoteList(tagValues(schema))}`;
  } else if (pathIs(parent, 'teacher')) {
    hint = ' to train the teacher (or give only "checkpoint" to load a trained one)';
  } else if (pathIs(parent, 'data') && typeof o?.format === 'string') {
    hint = ` (needed for "format": ${JSON.stringify(o.format)})`;
  }
  return {
    code: 'missing-key',
    path: [...parent, key],
    at: parent,
    message: `missing required key ${JSON.stringify(key)}${hint}`,
    data: { key },
  };
}

function pathIs(path: JsonPath, ...expected: string[]): boolean {
  return path.length === expected.length && path.every((s, i) => s === expected[i]);
}

/** A key that exists in the object's schema but not together with the keys already there. */
function conflictingKey(at: JsonPath, parentValue: unknown): ProblemSpec {
  const key = String(at[at.length - 1]);
  const parent = at.slice(0, -1);
  const o = asObject(parentValue) ?? {};
  let message = `${JSON.stringify(key)} cannot be used here`;
  if (pathIs(parent, 'data')) {
    if (o.dataset !== undefined) {
      message = `${JSON.stringify(key)} does not go with "dataset": ${JSON.stringify(o.dataset)} (a bundled dataset needs no files); remove one of them`;
    } else if (o.format === 'idx') {
      message = `${JSON.stringify(key)} does not go with "format": "idx", which reads "trainImages", "trainLabels", "testImages" and "testLabels"`;
    } else {
      message = `${JSON.stringify(key)} does not go with "format": ${JSON.stringify(o.format)}, which reads the folder in "dir"`;
    }
  } else if (pathIs(parent, 'teacher')) {
    message = `${JSON.stringify(key)} does not go with "checkpoint": a checkpoint teacher is loaded, not trained; remove ${JSON.stringify(key)} or "checkpoint"`;
  }
  return { code: 'conflicting-key', path: at, target: 'key', message, data: { key } };
}

function badTag(at: JsonPath, e: ErrorObject, union: SchemaNode): ProblemSpec | undefined {
  const tagName = union.discriminator?.propertyName ?? 'type';
  const tag = asObject(e.data)?.[tagName];
  // A missing tag is reported by `required`, which names the allowed values.
  if (tag === undefined) return undefined;
  const spec = enumProblem([...at, tagName], tagValues(union), tag);
  if (typeof tag !== 'string') spec.code = 'type';
  return spec;
}

/** Value problems (type, range, enum, pattern) at the same path say the same thing: keep the first. */
function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const valueCodes = new Set(['type', 'enum', 'range', 'pattern']);
  const seenValue = new Set<string>();
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  const ordered = [...problems].sort((a, b) => rank(a.code) - rank(b.code));
  for (const p of ordered) {
    const full = `${p.code}|${p.path}|${p.message}`;
    if (seen.has(full)) continue;
    if (valueCodes.has(p.code)) {
      if (seenValue.has(p.path)) continue;
      seenValue.add(p.path);
    }
    seen.add(full);
    out.push(p);
  }
  return out;
}

function rank(code: string): number {
  return code === 'type' ? 0 : code === 'enum' ? 1 : code === 'range' ? 2 : 3;
}
