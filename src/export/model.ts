import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { TableEntryInput } from '../resolve/table';
import type { SerialRecord } from '../fleet/zone/serial';
import type { PolicyZone, SoaTimers } from '../fleet/zone/policy-zone';

/** Addresses of one managed name, de-duplicated, in table order. */
export interface AddressSet {
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/**
 * The table as the exporters see it: exact names and wildcard bases (the part after "*."),
 * each mapped to its addresses. Insertion order follows the table; a name listed twice keeps
 * the later addresses, as AnswerTable.build does.
 */
export interface ExportModel {
  readonly exact: ReadonlyMap<string, AddressSet>;
  readonly wildcards: ReadonlyMap<string, AddressSet>;
  /** Names or addresses that were not safe to write into another server's config, for a comment. */
  readonly rejected: readonly string[];
}

export interface ExportOptions {
  /** TTL of every exported record, in seconds. */
  readonly ttl: number;
  readonly generatedAt?: Date;
  readonly version?: string;
  /** rpz: the policy zone's name (transfer.zone); default privatelink.rpz. */
  readonly zone?: string;
  /** rpz: records.on_unavailable, which picks rpz-drop or rpz-passthru for names without addresses. */
  readonly onUnavailable?: 'servfail' | 'forward';
  /** rpz: what a hub last published for this zone (state_dir), so unchanged content keeps its serial. */
  readonly previousSerial?: SerialRecord;
  /**
   * rpz: when the exported data was fetched from the API (the snapshot's data time). With it the
   * serial follows the hub's own rule (zone/serial.ts serialForData), so a hub and an export of
   * the same snapshot agree; without it (a live sync) the export time stands in.
   */
  readonly dataFetchedAt?: Date;
  /** rpz: transfer.soa's refresh/retry/expire, as the hub publishes them (default: the hub's defaults). */
  readonly soaTimers?: Partial<SoaTimers>;
  /** rpz on an edge: the zone as received from its primaries, printed as it came (serial, SOA, records). */
  readonly received?: PolicyZone;
}

// Every exported name ends up unquoted in some foreign config syntax, so only plain DNS
// labels pass; anything else (from a misbehaving API, say) is reported, never written.
const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const NAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})+$`);

export function buildModel(inputs: readonly TableEntryInput[]): ExportModel {
  const exact = new Map<string, AddressSet>();
  const wildcards = new Map<string, AddressSet>();
  const rejected: string[] = [];
  for (const input of inputs) {
    const ipv4: string[] = [];
    const ipv6: string[] = [];
    for (const a of input.ipv4) {
      if (isIPv4(a)) pushUnique(ipv4, a);
      else rejected.push(`${printable(a)} (not an IPv4 address, entry ${printable(input.id)})`);
    }
    for (const a of input.ipv6) {
      if (isIPv6(a)) pushUnique(ipv6, ipaddr.IPv6.parse(a).toString());
      else rejected.push(`${printable(a)} (not an IPv6 address, entry ${printable(input.id)})`);
    }
    const addrs: AddressSet = { ipv4, ipv6 };
    for (const raw of input.names) {
      const name = raw.toLowerCase().replace(/\.$/, '');
      const wild = name.startsWith('*.');
      const body = wild ? name.slice(2) : name;
      if (body.length > 253 || !NAME_RE.test(body)) {
        rejected.push(`${printable(raw)} (not a plain DNS name, entry ${printable(input.id)})`);
        continue;
      }
      const target = wild ? wildcards : exact;
      target.delete(body); // a later definition wins but moves to the end, like a re-insert
      target.set(body, addrs);
    }
  }
  return { exact, wildcards, rejected };
}

export function hasAddresses(a: AddressSet): boolean {
  return a.ipv4.length > 0 || a.ipv6.length > 0;
}

export function sameAddresses(a: AddressSet, b: AddressSet): boolean {
  const key = (s: AddressSet): string => [...s.ipv4].sort().join(',') + '|' + [...s.ipv6].sort().join(',');
  return key(a) === key(b);
}

/** `name` is `base` or below it. */
export function isAtOrBelow(name: string, base: string): boolean {
  return name === base || name.endsWith(`.${base}`);
}

/**
 * The wildcard that answers names strictly below `name`, as privatelink-dns chooses it: the
 * longest wildcard base equal to `name` or above it. Returns the base, or undefined.
 */
export function wildcardForChildrenOf(model: ExportModel, name: string): string | undefined {
  let candidate: string | undefined = name;
  while (candidate !== undefined) {
    if (model.wildcards.has(candidate)) return candidate;
    const dot = candidate.indexOf('.');
    candidate = dot < 0 ? undefined : candidate.slice(dot + 1);
  }
  return undefined;
}

/** The wildcard that answers `name` itself: the longest wildcard base strictly above it. */
export function wildcardCovering(model: ExportModel, name: string): string | undefined {
  const dot = name.indexOf('.');
  return dot < 0 ? undefined : wildcardForChildrenOf(model, name.slice(dot + 1));
}

export const NO_ADDRESS_TEXT = 'privatelink-dns: no usable address at export time';

/** The comment block every format starts with; `c` is the format's comment marker. */
export function headerLines(c: string, format: string, model: ExportModel, opts: ExportOptions, notes: readonly string[]): string[] {
  const at = (opts.generatedAt ?? new Date()).toISOString();
  const lines = [
    `${c} Generated by privatelink-dns ${opts.version ?? 'unknown'} (export --format ${format})`,
    `${c} Generated at ${at}`,
    `${c} TTL ${opts.ttl}s; ${model.exact.size} exact name(s), ${model.wildcards.size} wildcard(s)`,
    `${c} This is a snapshot: re-export and reload when the endpoint IPs change.`,
  ];
  if (notes.length > 0) lines.push(c, ...notes.map((n) => (n === '' ? c : `${c} ${n}`)));
  if (model.rejected.length > 0) {
    lines.push(c, `${c} Left out because they cannot be written safely:`);
    for (const r of model.rejected) lines.push(`${c}   ${r}`);
  }
  lines.push('');
  return lines;
}

export function checkTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647) throw new RangeError(`export TTL must be an integer number of seconds, got ${ttl}`);
}

function pushUnique(list: string[], value: string): void {
  if (!list.includes(value)) list.push(value);
}

/** For comments: one line, printable ASCII, bounded. */
function printable(s: string): string {
  const clean = JSON.stringify(String(s)).replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}
