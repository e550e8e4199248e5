/**
 * The TLS trust store for the API and STS hosts: what this process trusts anyway, plus
 * privatelink.ca_file. Node's `ca` option replaces the store rather than adding to it, and Node 20
 * copies only its bundled roots when a certificate is added to a default context (dropping
 * NODE_EXTRA_CA_CERTS), so the list is rebuilt here: Node's own list where it offers one
 * (tls.getCACertificates, Node 22.15+), else the bundled roots or, under --use-openssl-ca /
 * --use-system-ca, OpenSSL's CA file, then the NODE_EXTRA_CA_CERTS file.
 */
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';

type Env = Readonly<Record<string, string | undefined>>;

/** OpenSSL's default CA bundle on Debian/Ubuntu and RHEL-like systems (SSL_CERT_FILE wins). */
const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

function readPem(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    return text.includes('-----BEGIN CERTIFICATE-----') ? text : undefined;
  } catch {
    return undefined;
  }
}

function usesSystemStore(env: Env, execArgv: readonly string[]): boolean {
  const flags = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((f) => f === '--use-openssl-ca' || f === '--use-system-ca');
}

/** The CA certificates (PEM, one string may hold several) the process trusts, plus `extraPem`. */
export function trustedCas(extraPem: string, env: Env = process.env, execArgv: readonly string[] = process.execArgv): string[] {
  const own = (tls as unknown as { getCACertificates?: (type?: string) => string[] }).getCACertificates;
  if (typeof own === 'function') return [...own('default'), extraPem];
  let base: readonly string[] = tls.rootCertificates;
  if (usesSystemStore(env, execArgv)) {
    const files = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE, ...SYSTEM_CA_FILES] : SYSTEM_CA_FILES;
    const system = files.map(readPem).find((pem) => pem !== undefined);
    if (system !== undefined) base = [system];
  }
  const extra = env.NODE_EXTRA_CA_CERTS ? readPem(env.NODE_EXTRA_CA_CERTS) : undefined;
  return [...base, ...(extra !== undefined ? [extra] : []), extraPem];
}

/** One TLS context for every connection of a client (parsing the roots once, not per connection). */
export function trustStoreWith(extraPem: string): tls.SecureContext {
  return tls.createSecureContext({ ca: trustedCas(extraPem) });
}
