/**
 * Opaque NextToken values. A token carries the offset and a fingerprint of the query it belongs
 * to, so a token replayed with other filters (or for another action) is refused, as a real
 * service would refuse a token it did not issue for that listing.
 */
import { createHash } from 'node:crypto';

export function queryFingerprint(action: string, filters: Record<string, string | undefined>): string {
  const canonical = Object.keys(filters).sort().map((k) => `${k}=${filters[k] ?? ''}`).join('&');
  return createHash('sha256').update(`${action}?${canonical}`).digest('hex').slice(0, 16);
}

export function encodeNextToken(offset: number, fingerprint: string): string {
  return Buffer.from(`v1:${offset}:${fingerprint}`).toString('base64url');
}

/** The offset, or undefined when the token is malformed or was issued for another query. */
export function decodeNextToken(token: string, fingerprint: string): number | undefined {
  const m = /^v1:(\d{1,9}):([0-9a-f]{16})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m || m[2] !== fingerprint) return undefined;
  return Number(m[1]);
}
