import { resolve } from 'node:path';
import { isObject, join, type ConfigReader } from './reader';
import { checkDnsName, normalizeName } from './names';
import { DEFAULTS, type TsigAlgorithm, type TsigKeyConfig } from './schema';

export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = ['hmac-sha256', 'hmac-sha512'];
/** The keys of a key mapping (docs/configuration.md lists them under each place a key is read). */
export const TSIG_KEY_KEYS: readonly string[] = ['name', 'algorithm', 'secret', 'secret_file'];
/**
 * The shortest secret per algorithm: its HMAC output (RFC 8945 §6, "the secret should be at least as
 * long as the hash output"). Shorter secrets are refused, never padded.
 */
export const TSIG_MIN_SECRET_BYTES: Readonly<Record<TsigAlgorithm, number>> = { 'hmac-sha256': 32, 'hmac-sha512': 64 };
/**
 * Secrets that were shipped as examples and are public: config/fleet.key's placeholder, today's and the one
 * releases up to 0.1 carried (a copy of that file may still sit on a host). Refused wherever they appear.
 */
export const PLACEHOLDER_SECRETS: readonly string[] = [
  'REPLACE-WITH-tsig-keygen-OUTPUT',
  'UkVQTEFDRSBNRTogbWFrZSBhIHJlYWwga2V5IHdpdGggdHNpZy1rZXlnZW4=',
];
const HOW_TO_MAKE_A_KEY = 'make one with "tsig-keygen -a ALGORITHM NAME" or "openssl rand -base64 BYTES"';

/** How key files are found and read: relative paths are taken from the config file's directory. */
export interface SecretFiles {
  readonly baseDir: string;
  readonly readText: (path: string) => string;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// A BIND key file (`tsig-keygen` output): key "name" { algorithm hmac-sha256; secret "..."; };
const BIND_SECRET_RE = /\bsecret\s+"([^"]*)"\s*;/;
const BIND_ALGORITHM_RE = /\balgorithm\s+"?([A-Za-z0-9.-]+)"?\s*;/;

/** Reads `{ name, algorithm, secret | secret_file }`; reports problems under `path` and returns null on any. */
export function readTsigKey(r: ConfigReader, raw: unknown, path: string, files: SecretFiles): TsigKeyConfig | null {
  const before = r.problems.length;
  if (!isObject(raw)) {
    r.report(path, 'must be a mapping with name, algorithm and secret or secret_file');
    return null;
  }
  const k = r.section(raw, path, TSIG_KEY_KEYS);
  const name = normalizeName(r.string(k, 'name', path, '', (s) => checkDnsName(normalizeName(s))));
  if (k.name === undefined) r.report(join(path, 'name'), 'is required');
  let algorithm = r.oneOf(k, 'algorithm', path, DEFAULTS.transferKeyAlgorithm, TSIG_ALGORITHMS);

  let text: string | undefined;
  let textPath = join(path, 'secret');
  if ((k.secret === undefined) === (k.secret_file === undefined)) {
    r.report(path, 'needs exactly one of "secret" or "secret_file"');
  } else if (k.secret !== undefined) {
    text = r.string(k, 'secret', path, '') || undefined;
  } else {
    textPath = join(path, 'secret_file');
    const file = r.string(k, 'secret_file', path, '');
    if (file !== '') {
      const fromFile = readSecretFile(resolve(files.baseDir, file), files);
      if ('problem' in fromFile) r.report(textPath, fromFile.problem);
      else {
        text = fromFile.secret;
        // A BIND key file names its algorithm; it must agree with the config, or stand in for a missing one.
        if (fromFile.algorithm !== undefined && fromFile.algorithm !== algorithm) {
          const known = (TSIG_ALGORITHMS as readonly string[]).includes(fromFile.algorithm);
          if (k.algorithm === undefined && known) algorithm = fromFile.algorithm as TsigAlgorithm;
          else r.report(textPath, `the file says algorithm ${fromFile.algorithm}, the config says ${algorithm}`);
        }
      }
    }
  }
  let secret: Buffer | undefined;
  if (text !== undefined) {
    const compact = text.replace(/\s+/g, '');
    const problem = secretProblem(compact, algorithm);
    if (problem) r.report(textPath, problem);
    else secret = Buffer.from(compact, 'base64');
  }
  if (r.problems.length > before || secret === undefined) return null;
  return { name, algorithm, secret };
}

/** Why a base64 secret cannot sign for `algorithm`, or undefined. Never quotes the secret. */
function secretProblem(compact: string, algorithm: TsigAlgorithm): string | undefined {
  const minBytes = TSIG_MIN_SECRET_BYTES[algorithm];
  if (PLACEHOLDER_SECRETS.includes(compact)) {
    return `is the placeholder shipped in config/fleet.key, not a key: ${HOW_TO_MAKE_A_KEY.replace('ALGORITHM', algorithm).replace('BYTES', String(minBytes))}`;
  }
  if (!BASE64_RE.test(compact)) return 'is not valid base64';
  const secret = Buffer.from(compact, 'base64');
  if (secret.length < minBytes) {
    return `decodes to ${secret.length} bytes; ${algorithm} needs at least ${minBytes} (RFC 8945 §6: as long as its output; tsig-keygen -a ${algorithm} makes ${minBytes})`;
  }
  // Random bytes are almost never all printable (32 of them: about 1 in 10^13); a base64'd passphrase or placeholder is.
  if (secret.every((b) => b >= 0x20 && b <= 0x7e)) {
    return `decodes to printable text, not random bytes: a passphrase or placeholder is not a key; ${HOW_TO_MAKE_A_KEY.replace('ALGORITHM', algorithm).replace('BYTES', String(minBytes))}`;
  }
  return undefined;
}

function readSecretFile(file: string, files: SecretFiles): { secret: string; algorithm?: string } | { problem: string } {
  let content: string;
  try {
    content = files.readText(file);
  } catch (err) {
    return { problem: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  const bind = BIND_SECRET_RE.exec(content);
  if (bind) return { secret: bind[1], algorithm: BIND_ALGORITHM_RE.exec(content)?.[1]?.toLowerCase() };
  const trimmed = content.trim();
  if (trimmed === '') return { problem: `${file} is empty` };
  return { secret: trimmed };
}
