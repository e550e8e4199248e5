import { CLASS_IN, FLAG_AA, FLAG_QR, OPCODE_MASK, OPCODE_NOTIFY, RRType } from '../../src/wire/constants';
import { encodeMessage, type DnsMessage } from '../../src/fleet/codec/message';
import { decodeSoa } from '../../src/fleet/codec/soa';

/** The receiving side of NOTIFY as test peers play it (the daemon's own edge answers NOTIFY in its zone server). */

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
