import { isIPv4, isIPv6 } from 'node:net';
import { RRType } from '../../wire/constants';
import type { TableEntryInput } from '../../resolve/table';
import { RPZ_DROP, RPZ_PASSTHRU, zoneSoaFields, type PolicyZone } from './policy-zone';
import { runNow, unlimitedBudget, type SliceBudget, type Sliced } from '../../runtime/slices';

/**
 * The edge side: a received policy zone back into answer-table inputs, so an edge answers
 * exactly as the hub's own table does. One input per owner name (the hub's grouping of names
 * per endpoint is not in the zone; the answers do not depend on it).
 *
 * Only QNAME triggers with A / AAAA data or the drop / passthru actions are taken. The apex
 * (SOA, NS), other record types, other CNAME targets (rewrites, NXDOMAIN and NODATA actions,
 * which the hub never publishes) and the non-QNAME triggers (rpz-ip, rpz-nsdname, rpz-client-ip,
 * rpz-nsip) are counted as ignored.
 */

const NON_QNAME_TRIGGERS = new Set(['rpz-ip', 'rpz-nsdname', 'rpz-client-ip', 'rpz-nsip']);
const MAX_SAMPLES = 10;

export interface ZoneTableBuild {
  readonly inputs: TableEntryInput[];
  /** The TTL the hub answered with: the smallest TTL of the data records, else the SOA minimum. */
  readonly ttlS: number;
  /** Records not taken, with a few examples for a log line. */
  readonly ignored: number;
  readonly ignoredSamples: readonly string[];
}

interface Owner {
  ipv4: string[];
  ipv6: string[];
  drop: boolean;
  passthru: boolean;
}

export function policyZoneToTableInputs(zone: PolicyZone): ZoneTableBuild {
  return runNow(policyZoneToTableInputsInSlices(zone, unlimitedBudget()));
}

/** policyZoneToTableInputs, one unit per record and per owner name (secondary.ts runs it between queries). */
export function* policyZoneToTableInputsInSlices(zone: PolicyZone, budget: SliceBudget): Sliced<ZoneTableBuild> {
  const origin = zone.origin;
  const suffix = `.${origin}`;
  const owners = new Map<string, Owner>();
  let ignored = 0;
  const ignoredSamples: string[] = [];
  let ttlS: number | undefined;
  const ignore = (name: string, type: number, why: string): void => {
    ignored++;
    if (ignoredSamples.length < MAX_SAMPLES) ignoredSamples.push(`${name} type ${type}: ${why}`);
  };

  for (const r of zone.records) {
    // Counted before the record, so records that are skipped count too.
    if (budget.spend()) yield;
    if (r.name === origin) {
      if (r.type !== RRType.SOA && r.type !== RRType.NS) ignore(r.name, r.type, 'data at the zone apex');
      continue;
    }
    if (!r.name.endsWith(suffix)) {
      ignore(r.name, r.type, 'outside the zone');
      continue;
    }
    const name = r.name.slice(0, -suffix.length);
    const labels = name.split('.');
    if (NON_QNAME_TRIGGERS.has(labels[labels.length - 1] as string)) {
      ignore(r.name, r.type, 'not a QNAME trigger');
      continue;
    }
    if (name === '*' || labels.slice(1).includes('*') || labels.some((l) => l === '')) {
      ignore(r.name, r.type, 'not a name the table can hold');
      continue;
    }
    let take: ((o: Owner) => void) | undefined;
    if (r.type === RRType.A && isIPv4(r.data)) take = (o) => o.ipv4.push(r.data);
    else if (r.type === RRType.AAAA && isIPv6(r.data)) take = (o) => o.ipv6.push(r.data);
    else if (r.type === RRType.CNAME && r.data === RPZ_DROP) take = (o) => (o.drop = true);
    else if (r.type === RRType.CNAME && r.data === RPZ_PASSTHRU) take = (o) => (o.passthru = true);
    if (!take) {
      ignore(r.name, r.type, r.type === RRType.CNAME ? `policy "${r.data}" is not one the hub publishes` : 'not address data');
      continue;
    }
    let owner = owners.get(name);
    if (!owner) {
      owner = { ipv4: [], ipv6: [], drop: false, passthru: false };
      owners.set(name, owner);
    }
    take(owner);
    ttlS = ttlS === undefined ? r.ttl : Math.min(ttlS, r.ttl);
  }

  const inputs: TableEntryInput[] = [];
  for (const [name, o] of owners) {
    const ipv4 = [...new Set(o.ipv4)];
    const ipv6 = [...new Set(o.ipv6)];
    const base = { id: name, names: [name], ipv4, ipv6 };
    // Addresses win over an action at the same name (a zone should not hold both); drop wins over passthru.
    if (ipv4.length > 0 || ipv6.length > 0) inputs.push(base);
    else inputs.push({ ...base, unavailable: o.drop ? 'servfail' : 'forward' });
    if (budget.spend()) yield;
  }
  return { inputs, ttlS: ttlS ?? zoneSoaFields(zone).minimumS, ignored, ignoredSamples };
}
