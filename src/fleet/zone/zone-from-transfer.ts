import { RRType } from '../../wire/constants';
import { zoneRecordKey, type ZoneRecord } from '../codec/zone-record';
import { PldnsError } from '../../errors';
import { parseSoa } from '../codec/soa';
import { runNow, unlimitedBudget, type SliceBudget, type Sliced } from '../../runtime/slices';
import { sortZoneRecordsInSlices, type PolicyZone } from './policy-zone';

/**
 * The records of an AXFR (RFC 5936: SOA, the rest, SOA again) as a PolicyZone. Duplicates
 * collapse (RRsets are sets); the SOA must be one, at the apex, and nothing may lie outside the
 * zone - a transfer like that is from a broken primary and is not swapped in (ZONE_DATA_INVALID).
 */
export function zoneFromTransfer(origin: string, records: readonly ZoneRecord[]): PolicyZone {
  return runNow(zoneFromTransferInSlices(origin, records, unlimitedBudget()));
}

/** zoneFromTransfer, one unit per record per pass (secondary.ts runs it between queries). */
export function* zoneFromTransferInSlices(origin: string, records: readonly ZoneRecord[], budget: SliceBudget): Sliced<PolicyZone> {
  const zoneName = origin.toLowerCase().replace(/\.$/, '');
  const invalid = (why: string): PldnsError => new PldnsError('ZONE_DATA_INVALID', `AXFR of ${zoneName}: ${why}`);
  const unique = new Map<string, ZoneRecord>();
  const suffix = `.${zoneName}`;
  for (const r of records) {
    if (r.name !== zoneName && !r.name.endsWith(suffix)) throw invalid(`${r.name} is outside the zone`);
    unique.set(zoneRecordKey(r), r);
    if (budget.spend()) yield;
  }
  const distinct = [...unique.values()];
  const soas: ZoneRecord[] = [];
  for (const r of distinct) {
    if (r.type === RRType.SOA) soas.push(r);
    if (budget.spend()) yield;
  }
  if (soas.length !== 1) throw invalid(`${soas.length} different SOA records`);
  const soa = soas[0] as ZoneRecord;
  if (soa.name !== zoneName) throw invalid(`SOA at ${soa.name}, not at the apex`);
  const fields = parseSoa(soa.data);
  if (!fields) throw invalid(`malformed SOA "${soa.data}"`);
  return { origin: zoneName, serial: fields.serial, records: yield* sortZoneRecordsInSlices(distinct, zoneName, budget) };
}
