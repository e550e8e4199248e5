import { CLASS_IN, FLAG_AA, OPCODE_NOTIFY, RRType } from '../../wire/constants';
import { encodeMessage, type WireRecord } from './message';
import { encodeSoa } from './soa';

/** NOTIFY (RFC 1996) messages as the hub sends them (the edge answers them in its zone server). */

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
