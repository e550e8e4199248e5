import { hostname } from 'node:os';
import { MAX_NSID_BYTES } from '../wire/constants';
import { checkDnsName, normalizeName } from './names';
import type { ConfigReader } from './reader';

/**
 * How this instance names itself: the EDNS NSID it answers with (`nsid`) and the name servers of
 * every managed apex (`records.nameservers`). Both default to the host name, so an operator can
 * tell which node answered (`dig +nsid`) and an NS query names the server that was asked.
 */

/** The host name as a DNS name (lower case, no trailing dot), or "localhost" when it is not one. */
export function hostDnsName(host = hostname()): string {
  const name = normalizeName(host);
  return checkDnsName(name) === undefined ? name : 'localhost';
}

/** `nsid`: printable text of at most MAX_NSID_BYTES, or false (never answered). Default: the host name. */
export function readNsid(r: ConfigReader, raw: unknown, host = hostname()): string | null {
  if (raw === false) return null;
  if (raw === undefined || raw === null) return host.slice(0, MAX_NSID_BYTES);
  if (typeof raw !== 'string' || raw === '') {
    r.report('nsid', 'must be a non-empty string, or false to answer no NSID');
    return null;
  }
  if (Buffer.byteLength(raw) > MAX_NSID_BYTES) r.report('nsid', `must be at most ${MAX_NSID_BYTES} bytes`);
  else if (!/^[\x20-\x7e]+$/.test(raw)) r.report('nsid', 'must be printable ASCII');
  return raw;
}

/** `records.nameservers`: DNS names, normalized; default the host name. */
export function readNameservers(r: ConfigReader, recRaw: Record<string, unknown>, host = hostname()): string[] {
  const names = r.stringList(recRaw, 'nameservers', 'records', [hostDnsName(host)], false).map(normalizeName);
  names.forEach((n, i) => {
    const problem = checkDnsName(n);
    if (problem) r.report(`records.nameservers[${i}]`, problem);
  });
  return [...new Set(names)];
}
