import ipaddr from 'ipaddr.js';
import type { ConfigReader } from './reader';
import { checkPeerAddress, formatHostPort, sameSocket, type HostPort } from './units';
import { readTsigKey, type SecretFiles } from './tsig-key';
import { readZone } from './transfer';
import { DEFAULTS, type PrimariesConfig } from './schema';
import { checkDnsName, normalizeName } from './names';

/** The `primaries` section: a fleet edge takes its table by zone transfer from these servers. */
export function readPrimaries(r: ConfigReader, raw: unknown, files: SecretFiles, listenDns: readonly HostPort[], region: string): PrimariesConfig | null {
  if (raw === undefined) return null;
  if (raw === null) {
    r.report('primaries', 'must be a mapping with at least "servers"');
    return null;
  }
  const p = r.section(raw, 'primaries', ['zone', 'servers', 'key', 'refresh', 'retry', 'timeout', 'max_stale', 'managed', 'max_records', 'max_drop', 'refused_ranges']);
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
    managed: readManaged(r, p.managed, region),
    maxRecords: r.integer(p, 'max_records', 'primaries', DEFAULTS.primariesMaxRecords, 10, 10_000_000),
    maxDropShare: readShare(r, p.max_drop, 'primaries.max_drop', DEFAULTS.primariesMaxDropShare),
    refusedRanges: readRanges(r, p, DEFAULTS.primariesRefusedRanges),
  };
}

/**
 * `managed`: what this edge may take from a zone and must never forward. Required: an edge that
 * learned its names only from the zone would forward them whenever it has no zone.
 */
function readManaged(r: ConfigReader, raw: unknown, region: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    r.report('primaries.managed', 'is required: the names this edge takes from the zone and never forwards, e.g. ["cs-anony-vpc.{region}.aliyuncs.com", "{region}.privatelink.aliyuncs.com"]');
    return [];
  }
  const out: string[] = [];
  raw.forEach((item, i) => {
    const problem = managedProblem(item, region);
    if (problem) r.report(`primaries.managed[${i}]`, problem);
    else {
      const name = normalizeName((item as string).replaceAll('{region}', region));
      if (!out.includes(name)) out.push(name);
    }
  });
  return out;
}

function managedProblem(item: unknown, region: string): string | undefined {
  if (typeof item !== 'string') return 'must be a DNS name';
  if (item.includes('{region}') && region === '') return 'uses "{region}" but region is not set';
  const name = normalizeName(item.replaceAll('{region}', region));
  if (name.startsWith('*.')) return 'is a suffix already (it covers every name below it): drop the "*."';
  return checkDnsName(name) ?? (name.split('.').length < 2 ? 'must have at least two labels (a whole top-level domain cannot be managed)' : undefined);
}

function readRanges(r: ConfigReader, p: Record<string, unknown>, fallback: readonly string[]): string[] {
  const list = r.stringList(p, 'refused_ranges', 'primaries', fallback);
  list.forEach((cidr, i) => {
    try {
      ipaddr.parseCIDR(cidr);
    } catch {
      r.report(`primaries.refused_ranges[${i}]`, `"${cidr}" is not a CIDR such as "100.64.0.0/10"`);
    }
  });
  return list;
}

/** A share as "50%" or 0.5. */
function readShare(r: ConfigReader, raw: unknown, path: string, fallback: number): number {
  if (raw === undefined || raw === null) return fallback;
  const value = typeof raw === 'string' && /^\d+(\.\d+)?%$/.test(raw.trim()) ? Number(raw.trim().slice(0, -1)) / 100 : typeof raw === 'number' ? raw : Number.NaN;
  if (!(value >= 0 && value <= 1)) {
    r.report(path, 'must be a share such as "50%" or 0.5 (0 to 100%)');
    return fallback;
  }
  return value;
}
