/**
 * `--set KEY=VALUE`: a config changed on the command line (or by "Modify and Run…" in the editor)
 * without copying the file. KEY is a dotted path (`method.tauMax`, `student.model.hidden`, an
 * array element as `hidden.0` or `hidden[0]`); VALUE is JSON (`5`, `[64]`, `{"type": "sgd"}`), or
 * a bare word taken as a string (`method.type=kd`). The changed config is validated exactly like
 * the file (validate.ts); a problem an override brings is reported naming its key.
 */
import * as path from 'node:path';
import { getNodeValue, parseTree } from 'jsonc-parser';
import { pathToString, type ConfigProblem, type JsonPath } from './problems';
import { setPath } from './sweepExpand';
import {
  formatProblem,
  hasErrors,
  readConfigText,
  validateConfigText,
  type ValidationResult,
} from './validate';

export interface ConfigOverride {
  /** As written: "student.model.hidden". */
  key: string;
  path: JsonPath;
  value: unknown;
}

/** A `--set` that cannot be read (no "=", an empty or malformed key). */
export class OverrideSyntaxError extends Error {}

const SEGMENT = /^[A-Za-z_$][\w$-]*$/;

/** "a.b[0].c" or "a.b.0.c" -> ["a", "b", 0, "c"]; undefined when it is not a key path. */
export function parseKeyPath(key: string): JsonPath | undefined {
  const out: JsonPath = [];
  for (const part of key.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    const [, name, indices] = m;
    if (name === '' && (out.length === 0 || indices === '')) return undefined;
    if (name !== '') {
      if (/^\d+$/.test(name)) {
        if (out.length === 0) return undefined;
        out.push(Number(name));
      } else if (SEGMENT.test(name)) out.push(name);
      else return undefined;
    }
    for (const i of indices.matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out.length > 0 ? out : undefined;
}

/** A value as written after "=": JSON, or else a bare word as a string. */
export function parseOverrideValue(text: string): unknown {
  const t = text.trim();
  try {
    return JSON.parse(t) as unknown;
  } catch {
    // Something meant as JSON but broken ([64, {"a" ...) is an error, not a string.
    if (t === '' || /^[[{"]/.test(t))
      throw new OverrideSyntaxError(t === '' ? 'the value is empty' : `the value ${t} is not valid JSON`);
    return t;
  }
}

/** One `KEY=VALUE`. */
export function parseOverride(text: string): ConfigOverride {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new OverrideSyntaxError(`"${text}" is not KEY=VALUE (e.g. method.tauMax=5)`);
  const key = text.slice(0, eq).trim();
  const keyPath = parseKeyPath(key);
  if (!keyPath)
    throw new OverrideSyntaxError(`"${key}" is not a config key path (e.g. method.phase1.epochs)`);
  let value: unknown;
  try {
    value = parseOverrideValue(text.slice(eq + 1));
  } catch (e) {
    throw new OverrideSyntaxError(`${key}: ${(e as Error).message}`);
  }
  return { key, path: keyPath, value };
}

/** `--set` values in order; a later one for the same key wins. */
export function parseOverrides(texts: readonly string[]): ConfigOverride[] {
  return texts.map(parseOverride);
}

/** The overrides as summary.json records them: key -> value. */
export function overrideRecord(overrides: readonly ConfigOverride[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of overrides) out[o.key] = o.value;
  return out;
}

/** "KEY=VALUE" again (JSON values; what `akd run --set` takes). */
export function overrideText(key: string, value: unknown): string {
  return `${key}=${JSON.stringify(value)}`;
}

/** A copy of a config value with the overrides set (objects created on the way). */
export function applyOverrides(
  value: Record<string, unknown>,
  overrides: readonly ConfigOverride[],
): Record<string, unknown> {
  const out = structuredClone(value);
  for (const o of overrides) setPath(out, o.path.map(String), o.value);
  return out;
}

const relates = (a: string, b: string): boolean =>
  a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`) || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);

export interface OverrideProblem {
  /** The override it comes from ("" when none relates: a rule over several keys). */
  key: string;
  problem: ConfigProblem;
}

export interface OverriddenValidation extends ValidationResult {
  /** Problems of the file itself, with their positions in the file. */
  fileProblems: ConfigProblem[];
  /** Problems the overrides bring (not in the file as written), each with the key it comes from. */
  overrideProblems: OverrideProblem[];
}

/**
 * Validate a config's text with overrides applied: the file's own problems keep their positions;
 * new ones (an unknown key, a bad value, a rule the new value breaks) are named by the override
 * that brings them. `config` is the validated config (defaults filled in, paths as written).
 */
export function validateWithOverrides(
  text: string,
  configPath: string,
  overrides: readonly ConfigOverride[],
): OverriddenValidation {
  const own = validateConfigText(text, configPath);
  if (overrides.length === 0 || hasErrors(own.problems))
    return { ...own, fileProblems: own.problems, overrideProblems: [] };
  const root = parseTree(text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text, [], {
    allowTrailingComma: true,
  });
  const value = structuredClone(getNodeValue(root!)) as Record<string, unknown>;
  const changed = validateConfigText(JSON.stringify(applyOverrides(value, overrides), null, 2), configPath);
  const ownKeys = new Set(own.problems.map((p) => `${p.path}|${p.code}|${p.message}`));
  const keys = overrides.map((o) => ({ key: o.key, path: pathToString(o.path) }));
  const overrideProblems: OverrideProblem[] = changed.problems
    .filter((p) => !ownKeys.has(`${p.path}|${p.code}|${p.message}`))
    .map((problem) => {
      // The most specific override that relates to the problem's path (the last one given wins ties).
      // A rule across keys broken elsewhere (phase1.epochs < a new tauMax): with one override, that one.
      const hit =
        [...keys].reverse().find((k) => relates(problem.path, k.path)) ??
        (keys.length === 1 ? keys[0] : undefined);
      return { key: hit?.key ?? '', problem };
    });
  return {
    ...(changed.config ? { config: changed.config } : {}),
    problems: changed.problems,
    fileProblems: own.problems,
    overrideProblems,
  };
}

/** One line per override problem: "--set method.tauMax: must be >= 1 [range]". */
export function formatOverrideProblem(p: OverrideProblem): string {
  const severity = p.problem.severity === 'error' ? '' : `${p.problem.severity}: `;
  const where =
    p.key === ''
      ? 'with the --set values'
      : `--set ${p.key}${p.problem.path !== p.key ? ` (${p.problem.path})` : ''}`;
  return `${where}: ${severity}${p.problem.message} [${p.problem.code}]`;
}

/** Read, override and validate a config file; the lines to print go to `report`. */
export function validateFileWithOverrides(
  configPath: string,
  overrides: readonly ConfigOverride[],
  report: (line: string) => void,
  shownAs: string = configPath,
): OverriddenValidation {
  const abs = path.resolve(configPath);
  const read = readConfigText(abs);
  if ('problem' in read) {
    report(formatProblem(shownAs, read.problem));
    return { problems: [read.problem], fileProblems: [read.problem], overrideProblems: [] };
  }
  const text = read.text;
  const result = validateWithOverrides(text, abs, overrides);
  for (const p of result.fileProblems) report(formatProblem(shownAs, p));
  for (const p of result.overrideProblems) report(`${shownAs}: ${formatOverrideProblem(p)}`);
  return result;
}

/**
 * Every key of a config with its value, as "Modify and Run…" offers them: the leaves of the
 * validated config (defaults filled in), arrays and empty objects as one value each.
 */
export function configLeaves(config: unknown, prefix: JsonPath = []): { key: string; value: unknown }[] {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    return prefix.length > 0 ? [{ key: dotted(prefix), value: config }] : [];
  const entries = Object.entries(config as Record<string, unknown>);
  if (entries.length === 0) return prefix.length > 0 ? [{ key: dotted(prefix), value: config }] : [];
  return entries.flatMap(([k, v]) => configLeaves(v, [...prefix, k]));
}

/** ["a", 0, "b"] -> "a.0.b" (the form --set takes). */
export function dotted(p: JsonPath): string {
  return p.map(String).join('.');
}
