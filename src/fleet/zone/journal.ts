import { RRType } from '../../wire/constants';
import { zoneRecordKey, type ZoneRecord } from '../codec/zone-record';
import { zoneSoa, type PolicyZone } from './policy-zone';
import type { ZoneChange } from './zone-change';

/**
 * IXFR history (RFC 1995): a bounded list of changes, each the records removed and added between
 * two consecutive serials. SOAs are not in removed/added - the transfer framing puts the old and
 * new SOA around each change; they ride along as fromSoa/toSoa so that framing has them exactly.
 */

/** What changed from `from` to `to`, by record (owner, type, TTL and data), SOA left out. */
export function diffZones(from: PolicyZone, to: PolicyZone): ZoneChange {
  const notSoa = (r: ZoneRecord): boolean => r.type !== RRType.SOA;
  const before = new Map(from.records.filter(notSoa).map((r) => [zoneRecordKey(r), r]));
  const after = new Map(to.records.filter(notSoa).map((r) => [zoneRecordKey(r), r]));
  const removed = [...before].filter(([k]) => !after.has(k)).map(([, r]) => r);
  const added = [...after].filter(([k]) => !before.has(k)).map(([, r]) => r);
  return { fromSerial: from.serial, toSerial: to.serial, removed, added, fromSoa: zoneSoa(from), toSoa: zoneSoa(to) };
}

export interface JournalLimits {
  /** Changes kept (oldest dropped first). */
  readonly maxChanges: number;
  /** Records (removed + added) kept over all changes; a change larger than this alone is not kept. */
  readonly maxRecords: number;
}

export const DEFAULT_JOURNAL_LIMITS: JournalLimits = { maxChanges: 100, maxRecords: 20_000 };

const changeSize = (c: ZoneChange): number => c.removed.length + c.added.length;

/**
 * One zone's history. A hub with a state_dir saves it beside the zone it leads to
 * (zone-state.ts, "zone-history"), so after a restart secondaries still get IXFRs.
 */
export class ZoneJournal {
  private changes: ZoneChange[] = [];
  private records = 0;

  constructor(private readonly limits: JournalLimits = DEFAULT_JOURNAL_LIMITS) {
    if (!(limits.maxChanges >= 0 && limits.maxRecords >= 0)) throw new RangeError('journal limits must be >= 0');
  }

  /** Number of changes held. */
  get length(): number {
    return this.changes.length;
  }

  /** Records held over all changes. */
  get recordCount(): number {
    return this.records;
  }

  /** The changes held, oldest first (for saving). */
  get all(): readonly ZoneChange[] {
    return this.changes;
  }

  /** The oldest serial an IXFR can start from, or undefined when the journal is empty. */
  get oldestSerial(): number | undefined {
    return this.changes[0]?.fromSerial;
  }

  /**
   * Records a new version. A change that does not continue the last one (a serial the journal
   * has not seen, e.g. the first build after a restart) starts the history afresh.
   */
  record(from: PolicyZone, to: PolicyZone): void {
    if (from.serial === to.serial) return;
    this.add(diffZones(from, to));
  }

  add(change: ZoneChange): void {
    const last = this.changes[this.changes.length - 1];
    if (last && last.toSerial !== change.fromSerial) this.clear();
    this.changes.push(change);
    this.records += changeSize(change);
    while (this.changes.length > 0 && (this.changes.length > this.limits.maxChanges || this.records > this.limits.maxRecords)) {
      const dropped = this.changes.shift() as ZoneChange;
      this.records -= changeSize(dropped);
    }
  }

  clear(): void {
    this.changes = [];
    this.records = 0;
  }

  /**
   * The changes from `serial` to the newest, oldest first: [] when `serial` is the newest,
   * undefined when the journal does not reach back to it (answer AXFR-style then). The caller
   * decides first whether a client serial ahead of ours means "up to date".
   */
  changesSince(serial: number): ZoneChange[] | undefined {
    const last = this.changes[this.changes.length - 1];
    if (last && last.toSerial === serial) return [];
    const i = this.changes.findIndex((c) => c.fromSerial === serial);
    return i < 0 ? undefined : this.changes.slice(i);
  }
}
