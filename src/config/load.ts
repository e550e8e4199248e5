import { readFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type * as Yaml from 'yaml';
import { PldnsError } from '../errors';
import { validateConfig, type ValidateOptions } from './validate';
import type { Config } from './schema';
import type { ConfigProblem } from './reader';

/**
 * yaml (70 modules, ~0.7 MB of a daemon's heap) is needed only while a config is read: at start
 * and at SIGHUP. It is required then, and `releaseConfigParser()` lets a long-running daemon drop
 * it between reads; the next read loads it again (~15 ms, once per reload).
 */
function yaml(): typeof Yaml {
  return require('yaml');
}

/**
 * Drops yaml's modules from the module cache (and from this module's children), so nothing
 * holds them and the collector frees their code; the next parse requires them afresh.
 */
export function releaseConfigParser(): void {
  const inYaml = (id: string): boolean => id.includes(`${sep}node_modules${sep}yaml${sep}`);
  for (const id of Object.keys(require.cache)) if (inYaml(id)) delete require.cache[id];
  module.children = module.children.filter((child) => !inYaml(child.id));
}

/** Parses YAML text; every problem is reported at once. */
export function parseConfigText(text: string, options: ValidateOptions = {}): { config?: Config; problems: ConfigProblem[] } {
  let raw: unknown;
  try {
    const YAML = yaml();
    const lineCounter = new YAML.LineCounter();
    const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
    if (doc.errors.length > 0) {
      return {
        problems: doc.errors.map((e) => {
          const { line, col } = lineCounter.linePos(e.pos[0]);
          return { path: `(yaml line ${line}, column ${col})`, problem: e.message.split('\n')[0] };
        }),
      };
    }
    // A copy whose strings are their own: the parser's are slices of the whole text, and any one
    // kept (a zone name in an IXFR journal, state_dir) kept that text alive, one per reload.
    raw = structuredClone(doc.toJS({ maxAliasCount: 100 }));
  } catch (err) {
    return { problems: [{ path: '(yaml)', problem: (err as Error).message.split('\n')[0] }] };
  }
  const result = validateConfig(raw, options);
  return result.config ? { config: result.config, problems: [] } : { problems: result.problems };
}

/** Reads and validates a config file; throws CONFIG_READ or CONFIG_INVALID (with the problems). */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PldnsError('CONFIG_READ', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  // Key files named relative to the config file are found next to it.
  const files = { baseDir: dirname(resolve(path)), readText: (file: string) => readFileSync(file, 'utf8') };
  const { config, problems } = parseConfigText(text, { files });
  if (!config) {
    throw new PldnsError('CONFIG_INVALID', `${path}: ${problems.length} problem(s)`, { details: { problems } });
  }
  return config;
}

export function formatProblems(problems: readonly ConfigProblem[]): string[] {
  return problems.map((p) => `${p.path}: ${p.problem}`);
}
