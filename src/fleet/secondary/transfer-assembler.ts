import { RRType } from '../../wire/constants';
import type { WireRecord } from '../codec/message';
import { canonicalName, isInZone } from '../../wire/name-codec';
import { serialGt } from '../codec/serial';
import type { ZoneRecord } from '../codec/zone-record';
import { wireToSoa, wireToZoneRecord } from '../codec/zone-record-wire';
import type { ZoneChange } from '../zone/zone-change';
import { PldnsError } from '../../errors';

/** What a zone transfer brought: nothing new, the whole zone, or the changes from our serial. */
export type TransferResult =
  | { readonly kind: 'uptodate'; readonly serial: number }
  | { readonly kind: 'axfr'; readonly serial: number; readonly records: readonly ZoneRecord[] }
  | { readonly kind: 'ixfr'; readonly fromSerial: number; readonly serial: number; readonly changes: readonly ZoneChange[] };

/** A change while it is being read: its SOAs and records arrive one by one. */
interface OpenChange {
  readonly fromSerial: number;
  toSerial: number;
  readonly fromSoa: ZoneRecord;
  toSoa: ZoneRecord | undefined;
  readonly removed: ZoneRecord[];
  readonly added: ZoneRecord[];
}

/** An SOA at the zone apex, as a record and typed. */
interface ApexSoa {
  readonly record: ZoneRecord;
  readonly serial: number;
}

type Phase = 'first' | 'second' | 'axfr' | 'removing' | 'adding' | 'done';

/**
 * Turns the answer records of an AXFR (RFC 5936) or IXFR (RFC 1995) response, message by message,
 * into a TransferResult. IXFR answers come in three forms, told apart by their first records: one
 * SOA not newer than ours (up to date), SOA SOA... (incremental), SOA then other records
 * (AXFR-style). Records of types a policy zone does not hold are skipped; records outside the
 * zone, SOAs out of place and a closing SOA before the end of its message throw XFR_FAILED.
 */
export class TransferAssembler {
  private phase: Phase = 'first';
  private serial = 0;
  private readonly records: ZoneRecord[] = [];
  private readonly changes: OpenChange[] = [];
  private current: OpenChange | undefined;
  private upToDate = false;

  private readonly zone: string;

  private kept = 0;

  /** `currentSerial` set: the request was IXFR from that serial. More than `maxRecords` records kept throws ZONE_REFUSED. */
  constructor(zone: string, private readonly currentSerial?: number, private readonly maxRecords = Number.POSITIVE_INFINITY) {
    this.zone = canonicalName(zone);
    this.dotZone = `.${this.zone}`;
    this.plainZone = this.zone !== '' && !ESCAPE_OR_UPPER.test(this.zone);
  }

  private readonly dotZone: string;
  private readonly plainZone: boolean;

  get done(): boolean {
    return this.phase === 'done';
  }

  /** Takes one message's answer records; returns true when they completed the transfer. */
  push(answers: readonly WireRecord[]): boolean {
    for (let i = 0; i < answers.length; i++) {
      if (this.phase === 'done') throw fail(`${answers.length - i} records after the closing SOA`);
      this.take(answers[i], i === answers.length - 1);
    }
    return this.phase === 'done';
  }

  result(): TransferResult {
    if (this.phase !== 'done') throw fail('the transfer is not complete');
    if (this.upToDate) return { kind: 'uptodate', serial: this.serial };
    if (this.changes.length > 0) {
      const changes = this.changes.map(({ fromSerial, toSerial, fromSoa, toSoa, removed, added }): ZoneChange => {
        if (toSoa === undefined) throw fail(`change from serial ${fromSerial} has no closing SOA`);
        return { fromSerial, toSerial, removed, added, fromSoa, toSoa };
      });
      return { kind: 'ixfr', fromSerial: this.changes[0].fromSerial, serial: this.serial, changes };
    }
    return { kind: 'axfr', serial: this.serial, records: this.records };
  }

  private take(w: WireRecord, lastInMessage: boolean): void {
    if (!this.inZone(w.name)) throw fail(`record "${w.name}" is outside zone "${this.zone}"`);
    const apex = w.type === RRType.SOA ? this.apexSoa(w) : undefined;
    const soa = apex?.record;
    // Read only where soa is set (a serial of -1 never matches one).
    const soaSerial = apex === undefined ? -1 : apex.serial;
    const record = soa ?? wireToZoneRecord(w);
    switch (this.phase) {
      case 'first':
        if (soa === undefined) throw fail('the answer does not start with the zone SOA');
        this.serial = soaSerial;
        if (this.currentSerial !== undefined && !serialGt(soaSerial, this.currentSerial)) {
          // RFC 1995 §4: a single SOA not newer than the client's: nothing to transfer.
          this.upToDate = true;
          this.finish(lastInMessage);
          return;
        }
        this.records.push(soa);
        this.phase = this.currentSerial === undefined ? 'axfr' : 'second';
        return;
      case 'second':
        if (soa === undefined) {
          this.phase = 'axfr';
          this.keep(this.records, record);
        } else if (soaSerial === this.serial) {
          this.finish(lastInMessage); // AXFR-style of a zone holding only its SOA
        } else {
          if (soaSerial !== this.currentSerial) throw fail(`incremental transfer starts at serial ${soaSerial}, not ours (${this.currentSerial})`);
          this.records.length = 0;
          this.startChange(soaSerial, soa);
        }
        return;
      case 'axfr':
        if (soa === undefined) this.keep(this.records, record);
        else if (soaSerial === this.serial) this.finish(lastInMessage);
        else throw fail(`SOA with serial ${soaSerial} inside a full transfer of serial ${this.serial}`);
        return;
      case 'removing': {
        const change = this.currentChange();
        if (soa === undefined) {
          this.keep(change.removed, record);
          return;
        }
        if (!serialGt(soaSerial, change.fromSerial)) throw fail(`change from serial ${change.fromSerial} to older serial ${soaSerial}`);
        change.toSerial = soaSerial;
        change.toSoa = soa;
        this.phase = 'adding';
        return;
      }
      case 'adding': {
        const change = this.currentChange();
        if (soa === undefined) {
          this.keep(change.added, record);
        } else if (soaSerial === this.serial && change.toSerial === this.serial) {
          this.finish(lastInMessage);
        } else if (soaSerial === change.toSerial) {
          this.startChange(soaSerial, soa);
        } else {
          throw fail(`change starts at serial ${soaSerial}, the previous one ended at ${change.toSerial}`);
        }
        return;
      }
      case 'done':
        return;
    }
  }

  /**
   * isInZone, without its two wire encodings per record for the names a transfer is made of: with
   * no escape and no upper case in either name, a dot is a label boundary and a suffix compare is exact.
   */
  private inZone(name: string): boolean {
    if (this.plainZone && !ESCAPE_OR_UPPER.test(name)) return name === this.zone || name.endsWith(this.dotZone);
    return isInZone(name, this.zone);
  }

  private currentChange(): OpenChange {
    if (!this.current) throw fail('a change record before the change started');
    return this.current;
  }

  private startChange(fromSerial: number, oldSoa: ZoneRecord): void {
    this.current = { fromSerial, toSerial: fromSerial, fromSoa: oldSoa, toSoa: undefined, removed: [], added: [] };
    this.changes.push(this.current);
    this.phase = 'removing';
  }

  private keep(list: ZoneRecord[], record: ZoneRecord | undefined): void {
    if (record === undefined) return;
    if (++this.kept > this.maxRecords) {
      throw new PldnsError('ZONE_REFUSED', `more than ${this.maxRecords} records, over primaries.max_records`, { details: { server: '', zone: this.zone, refusal: 'records' } });
    }
    list.push(record);
  }

  private finish(lastInMessage: boolean): void {
    if (!lastInMessage) throw fail('records after the closing SOA');
    this.phase = 'done';
  }

  /** An SOA owned by the zone apex; any other SOA is out of place. */
  private apexSoa(w: WireRecord): ApexSoa {
    const decoded = wireToSoa(w);
    if (decoded === undefined || w.name !== this.zone) throw fail(`malformed or misplaced SOA at "${w.name}"`);
    return { record: decoded.record, serial: decoded.soa.serial };
  }
}

const ESCAPE_OR_UPPER = /[\\A-Z]/;

function fail(message: string): PldnsError {
  return new PldnsError('XFR_FAILED', message);
}
