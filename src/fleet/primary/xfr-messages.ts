import { FLAG_AA, FLAG_QR, HEADER_BYTES, RRType } from '../../wire/constants';
import { uncompressedNameEnd } from '../../wire/name-codec';
import { MessageBuilder, type DnsQuestion, type WireRecord } from '../codec/message';
import type { ZoneRecord } from '../codec/zone-record';
import { zoneRecordToWire } from '../codec/zone-record-wire';
import type { ZoneChange } from '../zone/zone-change';
import { zoneSoa, type PolicyZone } from '../zone/policy-zone';

/**
 * The messages of a zone transfer, unsigned and with ID 0 (the server sets the client's ID and
 * signs each one): AXFR (RFC 5936) and the two IXFR answer forms (RFC 1995). Records are packed
 * into messages of at most `maxBytes`, leaving room for a TSIG record.
 */

/** Room kept free in each message for the TSIG record the server appends (hmac-sha512: ~130 bytes). */
export const TSIG_ROOM_BYTES = 512;
/** Transfer messages are filled to this size: large enough to be few, small enough to interleave with other clients. */
export const TRANSFER_MESSAGE_BYTES = 32 * 1024;

const RESPONSE_FLAGS = FLAG_QR | FLAG_AA;

/** AXFR: SOA, every other record, SOA. */
export function axfrRecords(zone: PolicyZone): ZoneRecord[] {
  const soa = zoneSoa(zone);
  return [soa, ...zone.records.filter((r) => r.type !== RRType.SOA), soa];
}

/**
 * IXFR incremental form: the new SOA, then per change the old SOA, what it removed, the new SOA,
 * what it added; the new SOA again at the end.
 */
export function ixfrRecords(zone: PolicyZone, changes: readonly ZoneChange[]): ZoneRecord[] {
  const current = zoneSoa(zone);
  const out: ZoneRecord[] = [current];
  for (const c of changes) {
    out.push(c.fromSoa, ...c.removed, c.toSoa, ...c.added);
  }
  out.push(current);
  return out;
}

/** Packs records into answer messages; each message is a fresh buffer. */
export function* packMessages(question: DnsQuestion, records: Iterable<ZoneRecord>, maxBytes = TRANSFER_MESSAGE_BYTES): Generator<Buffer> {
  const limit = maxBytes - TSIG_ROOM_BYTES;
  let builder = new MessageBuilder({ id: 0, flags: RESPONSE_FLAGS }, question, limit);
  let inMessage = 0;
  for (const record of records) {
    const wire: WireRecord = zoneRecordToWire(record);
    if (builder.add('answer', wire)) {
      inMessage++;
      continue;
    }
    if (inMessage === 0) throw new RangeError(`record ${record.name} does not fit in a ${limit}-byte message`);
    yield builder.finish();
    builder = new MessageBuilder({ id: 0, flags: RESPONSE_FLAGS }, question, limit);
    inMessage = 0;
    if (!builder.add('answer', wire)) throw new RangeError(`record ${record.name} does not fit in a ${limit}-byte message`);
    inMessage = 1;
  }
  yield builder.finish();
}

/** One answer message holding `records` (SOA queries, IXFR "up to date", UDP IXFR). */
export function singleMessage(question: DnsQuestion, records: readonly ZoneRecord[], authority: readonly ZoneRecord[] = [], rcode = 0): Buffer {
  const b = new MessageBuilder({ id: 0, flags: RESPONSE_FLAGS | rcode }, question, 65_535 - TSIG_ROOM_BYTES);
  for (const r of records) b.add('answer', zoneRecordToWire(r));
  for (const r of authority) b.add('authority', zoneRecordToWire(r));
  return b.finish();
}

/** Rewrites the type of the (first, never compressed) question of `msg` in place. */
export function setQuestionType(msg: Buffer, type: number): void {
  if (msg.readUInt16BE(4) === 0) return;
  const nameEnd = uncompressedNameEnd(msg, HEADER_BYTES);
  if (nameEnd < 0 || nameEnd + 2 > msg.length) throw new RangeError('message too short for its question');
  msg.writeUInt16BE(type, nameEnd);
}
