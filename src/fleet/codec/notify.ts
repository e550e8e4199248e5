import { CLASS_IN, FLAG_AA, FLAG_QR, OPCODE_MASK, OPCODE_NOTIFY, RRType } from '../../wire/constants';
import { encodeMessage, type DnsMessage, type WireRecord } from './message';
import { decodeSoa, encodeSoa } from './soa';

/** NOTIFY (RFC 1996) messages: the hub sends them, the edge reads and acknowledges them. */

/** An SOA carrying only a serial: the receiver of a NOTIFY or IXFR request reads nothing else. */
export function serialOnlySoa(zone: string, serial: number): WireRecord {
  const rdata = encodeSoa({ mname: '', rname: '', serial: serial >>> 0, refreshS: 0, retryS: 0, expireS: 0, minimumS: 0 });
  return { name: zone, type: RRType.SOA, class: CLASS_IN, ttl: 0, rdata };
}

/** A NOTIFY for `zone` (AA set, question zone/SOA/IN, the new serial as an answer SOA). */
export function buildNotify(id: number, zone: string, serial: number): Buffer {
  return encodeMessage({
    id, flags: (OPCODE_NOTIFY << 11) | FLAG_AA,
    question: { name: zone, type: RRType.SOA, class: CLASS_IN },
    answers: [serialOnlySoa(zone, serial)],
  });
}

export interface NotifyRequest {
  /** Presentation form, as parseMessage spells names. */
  readonly zone: string;
  /** The serial of an answer SOA owned by the zone, when the sender included one. */
  readonly serial: number | undefined;
}

/** The zone (and serial) of a NOTIFY request; undefined when the message is not one. */
export function parseNotify(msg: DnsMessage): NotifyRequest | undefined {
  if (msg.opcode !== OPCODE_NOTIFY || (msg.flags & FLAG_QR) !== 0 || msg.questions.length !== 1) return undefined;
  const q = msg.questions[0];
  if (q.type !== RRType.SOA || q.class !== CLASS_IN) return undefined;
  const soa = msg.answers.find((r) => r.type === RRType.SOA && r.name === q.name);
  return { zone: q.name, serial: soa === undefined ? undefined : decodeSoa(soa.rdata)?.serial };
}

/** The acknowledgement of a NOTIFY: same ID, opcode and question, QR and AA set, NOERROR (sign it if the request was). */
export function notifyResponse(request: DnsMessage): Buffer {
  return encodeMessage({ id: request.id, flags: FLAG_QR | FLAG_AA | (request.flags & OPCODE_MASK), question: request.questions[0] ?? null });
}
