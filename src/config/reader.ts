import { parseDurationMs, parseHostPort, type HostPort } from './units';

/** One validation problem, printed as `path.to.key: problem`. */
export interface ConfigProblem {
  readonly path: string;
  readonly problem: string;
}

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Walks untrusted YAML data and collects every problem instead of stopping at the first,
 * so `check` can print them all at once. Each getter returns a usable fallback on error.
 */
export class ConfigReader {
  readonly problems: ConfigProblem[] = [];

  report(path: string, problem: string): void {
    this.problems.push({ path: path === '' ? '(root)' : path, problem });
  }

  /** Reports keys of `obj` that are not in `known`. */
  section(value: unknown, path: string, known: readonly string[]): Obj {
    if (value === undefined || value === null) return {};
    if (!isObject(value)) {
      this.report(path, 'must be a mapping');
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.report(join(path, key), `unknown key (expected one of: ${known.join(', ')})`);
    }
    return value;
  }

  string(obj: Obj, key: string, path: string, fallback: string, check?: (s: string) => string | undefined): string {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || v === '') {
      this.report(join(path, key), 'must be a non-empty string');
      return fallback;
    }
    const problem = check?.(v);
    if (problem) {
      this.report(join(path, key), problem);
      return fallback;
    }
    return v;
  }

  optionalString(obj: Obj, key: string, path: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') {
      this.report(join(path, key), 'must be a non-empty string');
      return undefined;
    }
    return v;
  }

  boolean(obj: Obj, key: string, path: string, fallback: boolean): boolean {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.report(join(path, key), 'must be true or false');
      return fallback;
    }
    return v;
  }

  integer(obj: Obj, key: string, path: string, fallback: number, min: number, max: number): number {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.report(join(path, key), `must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return v;
  }

  oneOf<T extends string>(obj: Obj, key: string, path: string, fallback: T, allowed: readonly T[]): T {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.report(join(path, key), `must be one of: ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }

  durationMs(obj: Obj, key: string, path: string, fallbackMs: number, minMs = 0, maxMs = 30 * 86_400_000): number {
    const v = obj[key];
    if (v === undefined || v === null) return fallbackMs;
    const ms = typeof v === 'string' ? parseDurationMs(v) : typeof v === 'number' && v === 0 ? 0 : undefined;
    if (ms === undefined) {
      this.report(join(path, key), 'must be a duration such as "500ms", "30s", "5m" or "24h"');
      return fallbackMs;
    }
    if (ms < minMs || ms > maxMs) {
      this.report(join(path, key), `must be between ${minMs}ms and ${maxMs}ms`);
      return fallbackMs;
    }
    return ms;
  }

  /** Whole seconds, written as a plain integer (seconds) or a duration such as "30s" or "5m". */
  seconds(obj: Obj, key: string, path: string, fallbackS: number, minS: number, maxS: number): number {
    const v = obj[key];
    if (v === undefined || v === null) return fallbackS;
    const ms = typeof v === 'string' ? parseDurationMs(v) : typeof v === 'number' && Number.isInteger(v) ? v * 1000 : undefined;
    if (ms === undefined || ms % 1000 !== 0 || ms < minS * 1000 || ms > maxS * 1000) {
      this.report(join(path, key), `must be whole seconds from ${minS} to ${maxS}, as an integer or a duration such as "30s" or "5m"`);
      return fallbackS;
    }
    return ms / 1000;
  }

  stringList(obj: Obj, key: string, path: string, fallback: readonly string[], allowEmpty = true): string[] {
    const v = obj[key];
    if (v === undefined || v === null) return [...fallback];
    const p = join(path, key);
    if (!Array.isArray(v)) {
      this.report(p, 'must be a list');
      return [...fallback];
    }
    if (!allowEmpty && v.length === 0) this.report(p, 'must not be empty');
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item !== 'string' || item === '') this.report(`${p}[${i}]`, 'must be a non-empty string');
      else out.push(item);
    });
    return out;
  }

  hostPortList(obj: Obj, key: string, path: string, fallback: readonly string[], defaultPort: number, allowEmpty: boolean): HostPort[] {
    const p = join(path, key);
    const raw = this.stringList(obj, key, path, fallback, allowEmpty);
    const out: HostPort[] = [];
    raw.forEach((text, i) => {
      const hp = parseHostPort(text, defaultPort);
      if (typeof hp === 'string') this.report(`${p}[${i}]`, hp);
      else out.push(hp);
    });
    return out;
  }
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
