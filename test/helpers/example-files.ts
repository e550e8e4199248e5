import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The shipped configs. */
export const CONFIG_DIR = resolve(__dirname, '..', '..', 'config');

/** A BIND key file as `tsig-keygen -a hmac-sha256 fleet` writes it, with a fresh random secret. */
export function generatedKeyFile(name = 'fleet'): string {
  return `key "${name}" {\n\talgorithm hmac-sha256;\n\tsecret "${randomBytes(32).toString('base64')}";\n};\n`;
}

/**
 * The examples' key files as an operator leaves them after the install step: config/fleet.key ships a
 * placeholder that is refused, so it reads as a generated key; every other file as shipped.
 */
export function examplesWithKey(): { baseDir: string; readText: (path: string) => string } {
  const key = generatedKeyFile();
  const placeholder = join(CONFIG_DIR, 'fleet.key');
  return { baseDir: CONFIG_DIR, readText: (path) => (resolve(path) === placeholder ? key : readFileSync(path, 'utf8')) };
}

/** A copy of config/ with a generated fleet.key, for the CLI; `remove` deletes it. */
export function examplesDirWithKey(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-examples-'));
  cpSync(CONFIG_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'fleet.key'), generatedKeyFile(), { mode: 0o600 });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
