import type { ZoneRecord } from '../codec/zone-record';

/**
 * One step of a zone's history (RFC 1995): the zone at `fromSerial` becomes the zone at
 * `toSerial`. The same value is what a hub's journal keeps, what an IXFR answer is framed from,
 * what an edge assembles from one and what it applies to the zone it holds.
 */
export interface ZoneChange {
  readonly fromSerial: number;
  readonly toSerial: number;
  /** Records deleted and added, SOA left out of both: it rides in fromSoa and toSoa. */
  readonly removed: readonly ZoneRecord[];
  readonly added: readonly ZoneRecord[];
  /** The SOA records of the two versions, which an IXFR answer puts around each change. */
  readonly fromSoa: ZoneRecord;
  readonly toSoa: ZoneRecord;
}
