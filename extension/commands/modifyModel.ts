/**
 * What "Modify and Run…" / "Modify and Queue…" edit: a config plus `--set KEY=VALUE` changes,
 * checked as they are typed with the runner's own validation (runner/config/overrides.ts, the
 * code `akd run --set` runs), so what the quick input accepts is what akd accepts. No vscode
 * import: tested with node:test.
 */
import {
  configLeaves,
  formatOverrideProblem,
  OverrideSyntaxError,
  overrideText,
  parseOverride,
  parseOverrides,
  validateWithOverrides,
  type OverriddenValidation,
} from '../../runner/config/overrides';

export interface ModifyLeaf {
  key: string;
  /** The value with the changes so far (the config's own when unchanged). */
  value: unknown;
  /** Changed by a `--set` of this session. */
  changed: boolean;
}

export class ModifyModel {
  /** key -> JSON text, in the order they were set (a later set of a key replaces it in place). */
  private readonly sets = new Map<string, string>();

  constructor(
    readonly configPath: string,
    private readonly text: string,
    initial: readonly string[] = [],
  ) {
    for (const s of initial) {
      const o = parseOverride(s);
      this.sets.set(o.key, JSON.stringify(o.value));
    }
  }

  /** `KEY=VALUE` texts, as `akd run --set` takes them. */
  setTexts(): string[] {
    return [...this.sets].map(([k, v]) => `${k}=${v}`);
  }

  get changes(): number {
    return this.sets.size;
  }

  private validate(texts: readonly string[]): OverriddenValidation {
    return validateWithOverrides(this.text, this.configPath, parseOverrides(texts));
  }

  /**
   * Why `KEY=VALUE` (added to the changes so far) cannot run, in one line; undefined when it can.
   * Warnings do not block; the config's own errors do (they are the file's, said as such).
   */
  check(extra?: string): string | undefined {
    const texts = this.setTexts();
    if (extra !== undefined) {
      let key: string;
      try {
        key = parseOverride(extra).key;
      } catch (e) {
        if (e instanceof OverrideSyntaxError) return e.message;
        throw e;
      }
      const i = texts.findIndex((t) => t.startsWith(`${key}=`));
      if (i >= 0) texts.splice(i, 1);
      texts.push(extra);
    }
    const result = this.validate(texts);
    const own = result.fileProblems.find((p) => p.severity === 'error');
    if (own) return `the config itself has an error: ${own.path || '(root)'}: ${own.message}`;
    const bad = result.overrideProblems.find((p) => p.problem.severity === 'error');
    return bad ? formatOverrideProblem(bad) : undefined;
  }

  /** Add (or replace) a change; returns why it was refused, or undefined when it was taken. */
  set(text: string): string | undefined {
    const why = this.check(text);
    if (why) return why;
    const o = parseOverride(text);
    this.sets.set(o.key, JSON.stringify(o.value));
    return undefined;
  }

  unset(key: string): void {
    this.sets.delete(key);
  }

  /** Every key of the config with its value, changes applied (the config's own when they do not validate). */
  leaves(): ModifyLeaf[] {
    const result = this.validate(this.setTexts());
    const base = result.config ?? this.validate([]).config;
    if (!base) return [];
    const leaves = configLeaves(base);
    const keys = new Set(leaves.map((l) => l.key));
    const out = leaves.map((l) => ({ ...l, changed: this.sets.has(l.key) }));
    // A change to a key the validated config does not list (e.g. an array element): shown too.
    for (const [key, value] of this.sets)
      if (!keys.has(key)) out.push({ key, value: JSON.parse(value) as unknown, changed: true });
    return out.sort((a, b) => Number(b.changed) - Number(a.changed));
  }

  /** The text of one change, for a quick input's initial value. */
  static valueText(value: unknown): string {
    return JSON.stringify(value);
  }

  static text(key: string, value: unknown): string {
    return overrideText(key, value);
  }
}
