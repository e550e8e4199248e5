import { RRType } from '../../wire/constants';
import { zoneRecordKey, type ZoneRecord } from '../codec/zone-record';
import { PldnsError } from '../../errors';
import { formatSoa, parseSoa } from '../codec/soa';
import { runNow, unlimitedBudget, type SliceBudget, type Sliced } from '../../runtime/slices';
import { sortZoneRecordsInSlices, zoneSoa, type PolicyZone } from './policy-zone';
import type { ZoneChange } from './zone-change';

/**
 * The edge side of IXFR: a received chain of changes applied to the zone we hold. Anything that
 * does not fit exactly - a chain that starts at another serial or has a gap, a removal of a
 * record we do not hold - throws ZONE_DATA_INVALID, and the caller falls back to AXFR (RFC
 * 1995 leaves that to the client; a half-applied diff would answer wrong names silently).
 */

const invalid = (origin: string, why: string): PldnsError => new PldnsError('ZONE_DATA_INVALID', `IXFR for ${origin}: ${why}`);

export function applyChanges(zone: PolicyZone, changes: readonly ZoneChange[]): PolicyZone {
  return runNow(applyChangesInSlices(zone, changes, unlimitedBudget()));
}

/** applyChanges, one unit per record held, removed or added (secondary.ts runs it between queries). */
export function* applyChangesInSlices(zone: PolicyZone, changes: readonly ZoneChange[], budget: SliceBudget): Sliced<PolicyZone> {
  if (changes.length === 0) return zone;
  let serial = zone.serial;
  let soa = zoneSoa(zone);
  const held = new Map<string, ZoneRecord>();
  for (const r of zone.records) {
    if (r !== soa) held.set(zoneRecordKey(r), r);
    if (budget.spend()) yield;
  }
  for (const [i, c] of changes.entries()) {
    if (c.fromSerial !== serial) throw invalid(zone.origin, `change ${i} starts at serial ${c.fromSerial}, we hold ${serial}`);
    for (const r of c.removed) {
      if (budget.spend()) yield;
      if (r.type === RRType.SOA) continue;
      if (!held.delete(zoneRecordKey(r))) throw invalid(zone.origin, `change ${i} removes ${r.name} type ${r.type} "${r.data}", which we do not hold`);
    }
    for (const r of c.added) {
      if (budget.spend()) yield;
      if (r.type === RRType.SOA) continue;
      if (r.name !== zone.origin && !r.name.endsWith(`.${zone.origin}`)) throw invalid(zone.origin, `change ${i} adds ${r.name}, outside the zone`);
      held.set(zoneRecordKey(r), r); // RRsets are sets: adding what is held changes nothing
    }
    if (c.toSoa.type !== RRType.SOA || c.toSoa.name !== zone.origin) throw invalid(zone.origin, `change ${i} carries a SOA of ${c.toSoa.name}`);
    soa = c.toSoa;
    serial = c.toSerial;
  }
  const fields = parseSoa(soa.data);
  if (!fields) throw invalid(zone.origin, `malformed SOA "${soa.data}"`);
  if (fields.serial !== serial) soa = { ...soa, data: formatSoa({ ...fields, serial }) };
  return { origin: zone.origin, serial, records: yield* sortZoneRecordsInSlices([soa, ...held.values()], zone.origin, budget) };
}
