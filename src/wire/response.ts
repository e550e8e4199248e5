import { EDNS_OPTION_NSID, EDNS_UDP_PAYLOAD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_BYTES, MIN_UDP_PAYLOAD, OPCODE_MASK, OPT_DO_BIT, RCODE_MASK, RCode, RRType } from './constants';
import { scanResponse } from './message-scan';
import type { ClientEdns, Query, QueryProblem } from './query';

export const OPT_BYTES = 11;

/** Response flags for a query: QR, the query's opcode, RD and CD copied, RA set (we recurse via upstreams). */
export function responseFlags(queryFlags: number, rcode: number, extra = 0): number {
  return FLAG_QR | (queryFlags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | FLAG_RA | extra | (rcode & RCODE_MASK);
}

/** Writes our own OPT (payload 1232, DO copied, extended rcode bits) at `off`; returns the new offset. */
export function writeOpt(buf: Buffer, off: number, dnssecOk: boolean, rcode = 0): number {
  buf[off] = 0;
  buf[off + 1] = 0;
  buf[off + 2] = RRType.OPT;
  buf[off + 3] = EDNS_UDP_PAYLOAD >>> 8;
  buf[off + 4] = EDNS_UDP_PAYLOAD & 0xff;
  buf[off + 5] = (rcode >> 4) & 0xff; // extended rcode, upper 8 bits
  buf[off + 6] = 0; // version
  buf[off + 7] = dnssecOk ? OPT_DO_BIT : 0;
  buf[off + 8] = 0;
  buf[off + 9] = 0;
  buf[off + 10] = 0;
  return off + OPT_BYTES;
}

/** Bytes of the OPT record `appendOpt` writes: with an NSID option when `nsid` is given. */
export function optBytes(nsid?: Buffer): number {
  return OPT_BYTES + (nsid ? 4 + nsid.length : 0);
}

/**
 * `msg` (a whole message, nothing after its last record) followed by our OPT: payload 1232, DO as
 * given, the extended rcode bits, and the NSID option when `nsid` is given; ARCOUNT one more.
 */
export function appendOpt(msg: Buffer, dnssecOk: boolean, rcode = 0, nsid?: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + optBytes(nsid));
  msg.copy(out, 0);
  writeOpt(out, msg.length, dnssecOk, rcode);
  if (nsid) writeNsidOption(out, msg.length, nsid);
  out.writeUInt16BE(msg.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * `msg` with an NSID option (RFC 5001) carrying `nsid` added to its OPT record; `msg` itself when
 * it has no OPT (the client did not use EDNS) or does not scan. A copy: only for queries that ask.
 */
export function withNsid(msg: Buffer, nsid: Buffer): Buffer {
  const scan = scanResponse(msg);
  if (!scan?.hasOpt) return msg;
  const optEnd = scan.optOffset + scan.optLength;
  const added = 4 + nsid.length;
  const out = Buffer.allocUnsafe(msg.length + added);
  msg.copy(out, 0, 0, optEnd);
  out.writeUInt16BE(EDNS_OPTION_NSID, optEnd);
  out.writeUInt16BE(nsid.length, optEnd + 2);
  nsid.copy(out, optEnd + 4);
  msg.copy(out, optEnd + added, optEnd);
  out.writeUInt16BE(scan.optLength - OPT_BYTES + added, scan.optOffset + 9);
  return out;
}

/** Writes the NSID option as the only option of the OPT written by writeOpt at `optAt`. */
function writeNsidOption(buf: Buffer, optAt: number, nsid: Buffer): void {
  buf.writeUInt16BE(4 + nsid.length, optAt + 9);
  buf.writeUInt16BE(EDNS_OPTION_NSID, optAt + OPT_BYTES);
  buf.writeUInt16BE(nsid.length, optAt + OPT_BYTES + 2);
  nsid.copy(buf, optAt + OPT_BYTES + 4);
}

/** Header + question (+ OPT) with the given rcode and no records. */
export function buildRcodeResponse(q: Query, rcode: number, extraFlags = 0): Buffer {
  const qLen = q.questionEnd - HEADER_BYTES;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + qLen + (q.edns ? OPT_BYTES : 0));
  writeHeader(buf, q.id, responseFlags(q.raw.readUInt16BE(2), rcode, extraFlags), 1, 0, 0, q.edns ? 1 : 0);
  copyBytes(q.raw, HEADER_BYTES, q.questionEnd, buf, HEADER_BYTES);
  if (q.edns) writeOpt(buf, HEADER_BYTES + qLen, q.edns.dnssecOk, rcode);
  return buf;
}

/** FORMERR / NOTIMP / BADVERS for a query that failed a guard but whose header could be read. */
export function buildRejectResponse(raw: Buffer, p: Extract<QueryProblem, { kind: 'reject' }>): Buffer {
  const rcode = p.reason === 'formerr' ? RCode.FORMERR : p.reason === 'notimp' ? RCode.NOTIMP : RCode.BADVERS;
  const hasQuestion = p.questionEnd > HEADER_BYTES;
  const qLen = hasQuestion ? p.questionEnd - HEADER_BYTES : 0;
  const withOpt = p.edns !== null;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + qLen + (withOpt ? OPT_BYTES : 0));
  // An opcode we do not implement gives its header bits no meaning to echo: QR and the opcode only.
  // BADVERS answers no question, so it offers no recursion either (RA clear). Both as BIND.
  const flags =
    p.reason === 'notimp' ? FLAG_QR | (p.flags & OPCODE_MASK) | rcode
    : p.reason === 'badvers' ? responseFlags(p.flags, rcode) & ~FLAG_RA
    : responseFlags(p.flags, rcode);
  writeHeader(buf, p.id, flags, hasQuestion ? 1 : 0, 0, 0, withOpt ? 1 : 0);
  if (hasQuestion) raw.copy(buf, HEADER_BYTES, HEADER_BYTES, p.questionEnd);
  if (p.edns) writeOpt(buf, HEADER_BYTES + qLen, p.edns.dnssecOk, rcode);
  return buf;
}

/** REFUSED with the request's ID and question (bytes 12 to `questionEnd`), no other section. */
export function buildRefusedFor(raw: Buffer, questionEnd: number): Buffer {
  const buf = Buffer.allocUnsafe(questionEnd);
  writeHeader(buf, raw.readUInt16BE(0), responseFlags(raw.readUInt16BE(2), RCode.REFUSED), 1, 0, 0, 0);
  raw.copy(buf, HEADER_BYTES, HEADER_BYTES, questionEnd);
  return buf;
}

/** The largest UDP response this client accepts: min(max(EDNS size, 512), 1232); 512 without EDNS. */
export function udpLimit(edns: ClientEdns | null): number {
  if (!edns) return MIN_UDP_PAYLOAD;
  return Math.min(Math.max(edns.udpSize, MIN_UDP_PAYLOAD), EDNS_UDP_PAYLOAD);
}

/**
 * A response too large for UDP becomes header + question (+ OPT) with TC=1; the client
 * retries over TCP. Never a sliced message.
 */
export function truncateResponse(q: Query, response: Buffer): Buffer {
  const qLen = q.questionEnd - HEADER_BYTES;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + qLen + (q.edns ? OPT_BYTES : 0));
  const flags = response.length >= 4 ? response.readUInt16BE(2) : responseFlags(q.raw.readUInt16BE(2), RCode.SERVFAIL);
  // QR forced: whatever bytes came in, what goes out is a response (never a query to reflect).
  writeHeader(buf, q.id, flags | FLAG_QR | FLAG_TC, 1, 0, 0, q.edns ? 1 : 0);
  q.raw.copy(buf, HEADER_BYTES, HEADER_BYTES, q.questionEnd);
  if (q.edns) writeOpt(buf, HEADER_BYTES + qLen, q.edns.dnssecOk);
  return buf;
}

export function writeHeader(buf: Buffer, id: number, flags: number, qd: number, an: number, ns: number, ar: number): void {
  // Byte stores rather than writeUInt16BE: no range checks on the per-query path.
  buf[0] = id >>> 8;
  buf[1] = id & 0xff;
  buf[2] = flags >>> 8;
  buf[3] = flags & 0xff;
  buf[4] = qd >>> 8;
  buf[5] = qd & 0xff;
  buf[6] = an >>> 8;
  buf[7] = an & 0xff;
  buf[8] = ns >>> 8;
  buf[9] = ns & 0xff;
  buf[10] = ar >>> 8;
  buf[11] = ar & 0xff;
}

/**
 * Copies a byte range. Up to a kilobyte a loop: it beats Buffer#copy's argument checks, and
 * Buffer#copy allocates a view of its source per call (Node 20), garbage on the per-query path.
 */
export function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): void {
  if (end - start > 1024) {
    from.copy(to, at, start, end);
    return;
  }
  for (let i = start; i < end; i++) to[at++] = from[i];
}
