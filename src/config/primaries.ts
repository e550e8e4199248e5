import type { ConfigReader } from './reader';
import { checkPeerAddress, formatHostPort, sameSocket, type HostPort } from './units';
import { readTsigKey, type SecretFiles } from './tsig-key';
import { readZone } from './transfer';
import { DEFAULTS, type PrimariesConfig } from './schema';

/** The `primaries` section: a fleet edge takes its table by zone transfer from these servers. */
export function readPrimaries(r: ConfigReader, raw: unknown, files: SecretFiles, listenDns: readonly HostPort[]): PrimariesConfig | null {
  if (raw === undefined) return null;
  if (raw === null) {
    r.report('primaries', 'must be a mapping with at least "servers"');
    return null;
  }
  const p = r.section(raw, 'primaries', ['zone', 'servers', 'key', 'refresh', 'retry', 'timeout', 'max_stale']);
  const zone = readZone(r, p, 'primaries');
  const servers = r.hostPortList(p, 'servers', 'primaries', [], 53, false);
  if (p.servers === undefined || p.servers === null) r.report('primaries.servers', 'is required: the hubs to transfer the zone from');
  servers.forEach((hp, i) => {
    const problem = checkPeerAddress(hp) ?? (listenDns.some((l) => sameSocket(l, hp)) ? `${formatHostPort(hp)} is this daemon itself` : undefined);
    if (problem) r.report(`primaries.servers[${i}]`, problem);
  });
  const key = p.key === undefined ? null : readTsigKey(r, p.key, 'primaries.key', files);
  const refreshMs = p.refresh === undefined || p.refresh === null ? null : r.durationMs(p, 'refresh', 'primaries', 0, 1000, 86_400_000);
  return {
    zone,
    servers,
    key,
    refreshMs,
    retryMs: r.durationMs(p, 'retry', 'primaries', DEFAULTS.primariesRetryMs, 100, 3_600_000),
    timeoutMs: r.durationMs(p, 'timeout', 'primaries', DEFAULTS.primariesTimeoutMs, 100, 300_000),
    maxStaleMs: r.durationMs(p, 'max_stale', 'primaries', DEFAULTS.primariesMaxStaleMs, 1000),
  };
}
