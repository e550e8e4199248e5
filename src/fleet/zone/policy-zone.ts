import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DEFAULTS } from '../../config/schema';
import { RRType } from '../../wire/constants';
import { zoneRecordKey, type ZoneRecord } from '../codec/zone-record';
import type { TableEntryInput } from '../../resolve/table';
import { toSerial } from '../codec/serial';
import { formatSoa, parseSoa, type Soa } from '../codec/soa';
import { sortInSlices, type SliceBudget, type Sliced } from '../../runtime/slices';

/**
 * The managed-name table as a DNS response policy zone (RPZ): what a hub publishes by zone
 * transfer, what `export --format rpz` prints, and what an edge turns back into a table.
 *
 * Every managed name N becomes `N.<origin>` with its A and AAAA records; a wildcard `*.D` becomes
 * `*.D.<origin>` (RPZ's own wildcard: names strictly below D). A name without a usable address is
 * never left out - a consumer would then resolve it normally and get the conflicting 100.64/10
 * answer - but published as `CNAME rpz-drop.` (or `rpz-passthru.` under on_unavailable: forward).
 */

export const DEFAULT_TRANSFER_ZONE = 'privatelink.rpz';
/** RPZ policy actions, as CNAME targets (no trailing dot, as ZoneRecord keeps names). */
export const RPZ_DROP = 'rpz-drop';
export const RPZ_PASSTHRU = 'rpz-passthru';
/** RPZ zones conventionally name no real server: there is nothing to NOTIFY or delegate to. */
export const RPZ_NS = 'localhost';

/**
 * SOA timers. Refresh is short because edges that are not NOTIFY targets learn of a new table by
 * polling the SOA (a cheap query). Expire is long: a secondary that expires an RPZ drops the
 * policy and starts handing out the public 100.64/10 answers, which is worse than old IPs.
 */
export type SoaTimers = Pick<Soa, 'refreshS' | 'retryS' | 'expireS'>;
export const DEFAULT_SOA_TIMERS: SoaTimers = { refreshS: DEFAULTS.soaRefreshS, retryS: DEFAULTS.soaRetryS, expireS: DEFAULTS.soaExpireS };

/** A zone with its content and serial. records[0] is the SOA, whose data carries `serial`. */
export interface PolicyZone {
  /** Lower case, no trailing dot. */
  readonly origin: string;
  readonly serial: number;
  readonly records: readonly ZoneRecord[];
}

export interface PolicyZoneOptions {
  readonly origin: string;
  /** records.ttl: the TTL of every record. */
  readonly ttlS: number;
  /** records.on_unavailable: the action for a name without usable addresses. */
  readonly onUnavailable: 'servfail' | 'forward';
  readonly timers?: Partial<SoaTimers>;
}

export interface PolicyZoneBuild {
  readonly zone: PolicyZone;
  /** Names or addresses that could not be published (the rest of the zone is built). */
  readonly problems: readonly string[];
}

const LABEL_RE = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;
const MAX_NAME_CHARS = 253;

/** Undefined when `name` (no trailing dot) is a plain host-style DNS name, else why not. */
export function checkZoneName(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_NAME_CHARS) return `must be 1 to ${MAX_NAME_CHARS} characters`;
  for (const l of name.split('.')) if (!LABEL_RE.test(l)) return `label "${l}" is not valid in a DNS name`;
  return undefined;
}

/** `canonical` when it differs from `given`, else `given` itself (the string already held). */
const sameOrNew = (given: string, canonical: string): string => (canonical === given ? given : canonical);

function compareRecords(a: ZoneRecord, b: ZoneRecord): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.type !== b.type) return a.type - b.type;
  return a.data < b.data ? -1 : a.data > b.data ? 1 : a.ttl - b.ttl;
}

/** SOA first, then NS, then everything else by owner, type and data: one order for one content. */
function zoneRecordOrder(origin: string): (a: ZoneRecord, b: ZoneRecord) => number {
  const rank = (r: ZoneRecord): number => (r.name === origin ? (r.type === RRType.SOA ? 0 : r.type === RRType.NS ? 1 : 2) : 2);
  return (a, b) => rank(a) - rank(b) || compareRecords(a, b);
}

export function sortZoneRecords(records: readonly ZoneRecord[], origin: string): ZoneRecord[] {
  return [...records].sort(zoneRecordOrder(origin));
}

/** sortZoneRecords in slices (an edge sorting a received zone while it answers). */
export function sortZoneRecordsInSlices(records: readonly ZoneRecord[], origin: string, budget: SliceBudget): Sliced<ZoneRecord[]> {
  return sortInSlices(records, zoneRecordOrder(origin), budget);
}

/**
 * The policy zone for a table. `inputs` are what the answer table is built from (so the zone
 * answers what the table answers); a name listed twice keeps its later addresses, as
 * AnswerTable.build does. The serial is the caller's (see serial.ts); 0 while undecided.
 */
export function buildPolicyZone(inputs: readonly TableEntryInput[], options: PolicyZoneOptions, serial = 0): PolicyZoneBuild {
  const origin = options.origin.toLowerCase().replace(/\.$/, '');
  const originProblem = checkZoneName(origin);
  if (originProblem) throw new RangeError(`policy zone name "${options.origin}" ${originProblem}`);
  const ttl = options.ttlS;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647) throw new RangeError(`policy zone TTL must be 0..2^31-1 seconds, got ${ttl}`);
  const timers = { ...DEFAULT_SOA_TIMERS, ...options.timers };
  const action = options.onUnavailable === 'forward' ? RPZ_PASSTHRU : RPZ_DROP;
  const problems: string[] = [];

  const byOwner = new Map<string, ZoneRecord[]>();
  for (const input of inputs) {
    const v4: string[] = [];
    const v6: string[] = [];
    // An address already written canonically keeps the input's string (the config's): one copy per hub.
    for (const a of input.ipv4) {
      if (isIPv4(a)) v4.push(sameOrNew(a, ipaddr.IPv4.parse(a).toString()));
      else problems.push(`${input.id}: "${a}" is not an IPv4 address; left out`);
    }
    for (const a of input.ipv6) {
      if (isIPv6(a)) v6.push(sameOrNew(a, ipaddr.IPv6.parse(a).toString()));
      else problems.push(`${input.id}: "${a}" is not an IPv6 address; left out`);
    }
    for (const raw of input.names) {
      const name = raw.toLowerCase().replace(/\.$/, '');
      const body = name.startsWith('*.') ? name.slice(2) : name;
      // Joined, not concatenated: one flat string per owner instead of a flat copy behind the
      // concatenation's two-part strings once anything reads it (~30 B a name more).
      const owner = [name, origin].join('.');
      const why = body.includes('*')
        ? 'has a "*" that is not a leading wildcard label'
        : owner.length > MAX_NAME_CHARS
          ? `is longer than ${MAX_NAME_CHARS} characters`
          : checkZoneName(`${body}.${origin}`);
      if (why) {
        problems.push(`${input.id}: name "${raw}" cannot be published in ${origin} (${owner} ${why}); consumers will resolve it normally`);
        continue;
      }
      const records: ZoneRecord[] = [
        ...[...new Set(v4)].map((data) => ({ name: owner, type: RRType.A, ttl, data })),
        ...[...new Set(v6)].map((data) => ({ name: owner, type: RRType.AAAA, ttl, data })),
      ];
      if (records.length === 0) records.push({ name: owner, type: RRType.CNAME, ttl, data: action });
      byOwner.set(owner, records);
    }
  }

  // The SOA minimum (negative-caching TTL) is records.ttl, like the NODATA answers of the table.
  const soa: Soa = { mname: RPZ_NS, rname: `hostmaster.${origin}`, serial: toSerial(serial), ...timers, minimumS: ttl };
  const head: ZoneRecord[] = [
    { name: origin, type: RRType.SOA, ttl, data: formatSoa(soa) },
    { name: origin, type: RRType.NS, ttl, data: RPZ_NS },
  ];
  const records = [...head, ...sortZoneRecords([...byOwner.values()].flat(), origin)];
  return { zone: { origin, serial: soa.serial, records }, problems };
}

/** The zone's SOA record (records[0] by construction; searched for zones built elsewhere). */
export function zoneSoa(zone: PolicyZone): ZoneRecord {
  const first = zone.records[0];
  if (first && first.type === RRType.SOA && first.name === zone.origin) return first;
  const found = zone.records.find((r) => r.type === RRType.SOA && r.name === zone.origin);
  if (!found) throw new RangeError(`zone ${zone.origin} has no SOA at its apex`);
  return found;
}

/** The zone's SOA, typed; throws RangeError when its data is malformed. */
export function zoneSoaFields(zone: PolicyZone): Soa {
  const record = zoneSoa(zone);
  const soa = parseSoa(record.data);
  if (!soa) throw new RangeError(`zone ${zone.origin} has a malformed SOA "${record.data}"`);
  return soa;
}

/** The same zone under another serial. */
export function withSerial(zone: PolicyZone, serial: number): PolicyZone {
  const record = zoneSoa(zone);
  const s = toSerial(serial);
  const newSoa: ZoneRecord = { ...record, data: formatSoa({ ...zoneSoaFields(zone), serial: s }) };
  return { origin: zone.origin, serial: s, records: zone.records.map((r) => (r === record ? newSoa : r)) };
}

/**
 * Digest of the content, serial excluded, independent of record order: it says whether a new
 * build is a change that needs a new serial.
 */
export function zoneDigest(zone: PolicyZone): string {
  const record = zoneSoa(zone);
  const f = zoneSoaFields(zone);
  // The SOA's key spells the serial "-" (digests are persisted: keep this spelling).
  const soaKey = zoneRecordKey({ ...record, data: [f.mname, f.rname, '-', f.refreshS, f.retryS, f.expireS, f.minimumS].join(' ') });
  const keys = zone.records.map((r) => (r === record ? soaKey : zoneRecordKey(r))).sort();
  return createHash('sha256').update(zone.origin).update('\u0001').update(keys.join('\u0001')).digest('hex');
}
