/**
 * Where the credential `*_file` settings are read from: one rule for code, docs and `check`.
 * No SDK import, so `check` can print the paths without loading the cloud libraries.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { CredentialsConfig } from '../config/schema';
import { stsHostFor, type Env } from './sts-host';

/**
 * Where a `*_file` setting is read. One rule, said the same in docs/configuration.md: a name with
 * no `/` is a systemd credential (the unit's `LoadCredential=NAME:/path` places it in
 * $CREDENTIALS_DIRECTORY, readable by the service's dynamic user only, gone when the service
 * stops); any other path is a file path, a relative one taken from the config file's directory
 * (config validation makes it absolute, like `ca_file`; here, for a hand-built config, from the
 * working directory).
 */
export function secretFilePath(file: string, env: Env, what: string): string {
  if (isAbsolute(file)) return file;
  if (file.includes('/')) return resolve(file);
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) throw new Error(`${what}: "${file}" is a systemd credential name (no "/") but $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit; give a path with a "/" for a plain file)`);
  return join(dir, file);
}

/** One `*_file` setting: the path it is read from now, or why it cannot be. */
export interface CredentialFile {
  readonly setting: string;
  readonly file: string;
  readonly path?: string;
  readonly problem?: string;
}

/** The `*_file` settings of a config and where each is read from, for `check`. */
export function credentialFiles(config: CredentialsConfig, env: Env): CredentialFile[] {
  const files: [string, string | undefined][] = config.type === 'access_key' || config.type === 'ram_role_arn'
    ? [['access_key_id_file', config.accessKeyIdFile], ['access_key_secret_file', config.accessKeySecretFile]]
    : [];
  if (config.type === 'access_key') files.push(['security_token_file', config.securityTokenFile]);
  return files.flatMap(([setting, file]): CredentialFile[] => {
    if (file === undefined) return [];
    try {
      return [{ setting: `privatelink.credentials.${setting}`, file, path: secretFilePath(file, env, setting) }];
    } catch (err) {
      return [{ setting: `privatelink.credentials.${setting}`, file, problem: (err as Error).message }];
    }
  });
}

/** The lines `check` prints about credentials: each file's resolved path, and the STS host with its source. */
export function credentialsReport(config: CredentialsConfig, env: Env): string[] {
  const lines = credentialFiles(config, env).map((f) => `${f.setting}: ${f.file} → ${f.path ?? `(${f.problem ?? ''})`}`);
  const sts = stsHostFor(config, env);
  if (sts) lines.push(`privatelink.credentials: STS host ${sts.host} (${sts.source})`);
  return lines;
}
