/**
 * A `lookup` that answers one host name with a fixed address and passes every other name on.
 * For a node that reaches the API only over a leased line: the socket goes to the VPC endpoint's
 * IP while the URL keeps the real host name, so TLS SNI, the Host header and the certificate
 * check all see that name (and the request signature, which covers `host`, still matches).
 */
import { lookup as systemLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

export function createPinnedLookup(host: string, address: string, next?: LookupFunction): LookupFunction {
  const family = isIP(address);
  if (family === 0) throw new Error(`createPinnedLookup: ${address} is not an IP address`);
  const pinned = host.toLowerCase();
  const fallback = next ?? (systemLookup as unknown as LookupFunction);
  const lookup = (hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
    if (hostname.toLowerCase() !== pinned) {
      (fallback as unknown as (h: string, o: unknown, c: unknown) => void)(hostname, options, callback);
      return;
    }
    // Both callback shapes: `all: true` (autoSelectFamily, the Node 20 default) and single address.
    if (options?.all) process.nextTick(callback, null, [{ address, family }]);
    else process.nextTick(callback, null, address, family);
  };
  return lookup as LookupFunction;
}
