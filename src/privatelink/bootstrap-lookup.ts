/**
 * A `lookup` for sockets to the PrivateLink API host that asks only the configured bootstrap
 * resolvers. On an edge node the system resolver is this daemon itself, so resolving the API
 * host through it would make the first sync depend on the table that sync is meant to build.
 */
import { Resolver } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import type { HostPort } from '../config/units';

type LookupAddress = { address: string; family: number };

function serverString(server: HostPort): string {
  return server.family === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

function resolveFamily(resolver: Resolver, hostname: string, family: 4 | 6): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const done = (err: NodeJS.ErrnoException | null, addresses: string[]) => {
      if (err) reject(err);
      else resolve(addresses.map((address) => ({ address, family })));
    };
    if (family === 4) resolver.resolve4(hostname, done);
    else resolver.resolve6(hostname, done);
  });
}

/**
 * A and AAAA are asked in turn (A first: the API hosts are IPv4 today); the first family that
 * answers wins. `timeoutMs` bounds each query to one resolver; node:dns moves on to the next
 * server by itself.
 */
export function createBootstrapLookup(servers: readonly HostPort[], opts: { timeoutMs: number }): LookupFunction {
  if (servers.length === 0) throw new Error('createBootstrapLookup needs at least one server');
  const resolver = new Resolver({ timeout: Math.max(1, opts.timeoutMs), tries: 1 });
  // Bootstrap servers must be literal IPs (validated with the config); names here would recurse.
  resolver.setServers(servers.map(serverString));

  async function lookupAll(hostname: string, family: number): Promise<LookupAddress[]> {
    const literal = isIP(hostname);
    if (literal !== 0) return [{ address: hostname, family: literal }];
    if (family === 6) return resolveFamily(resolver, hostname, 6);
    try {
      const v4 = await resolveFamily(resolver, hostname, 4);
      if (v4.length > 0 || family === 4) return v4;
    } catch (err) {
      if (family === 4) throw err;
    }
    return resolveFamily(resolver, hostname, 6);
  }

  // net calls lookup with `all: true` when autoSelectFamily (happy eyeballs) is on, the Node 20
  // default, and with a single-address callback otherwise: both shapes must be served.
  const lookup = (hostname: string, options: { family?: number | string; all?: boolean }, callback: (...args: unknown[]) => void): void => {
    const family = options.family === 'IPv6' || options.family === 6 ? 6 : options.family === 'IPv4' || options.family === 4 ? 4 : 0;
    lookupAll(hostname, family).then(
      (addresses) => {
        if (addresses.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`bootstrap lookup of ${hostname}: no addresses`);
          err.code = 'ENOTFOUND';
          callback(err);
        } else if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (err: unknown) => callback(err),
    );
  };
  return lookup as LookupFunction;
}
