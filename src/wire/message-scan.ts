/**
 * A bounds-checked, allocation-light scan of an upstream DNS response: enough to match it to
 * the question we asked, decide whether and for how long to cache it, and rewrite its TTLs and
 * OPT in place later, without decoding records. Never throws: every read is checked against the
 * message length first, and anything that does not parse returns `undefined`.
 */
import { FLAG_QR, FLAG_TC, HEADER_BYTES, LABEL_LENGTH_MASK, MAX_NAME_BYTES, MAX_TTL, OPT_DO_BIT, POINTER_BITS, RCODE_MASK, RRType } from './constants';
import { wireToName } from './name-codec';

/**
 * Compression hops followed in one name. Each hop must point strictly before the previous
 * segment, so a loop is impossible anyway; the cap bounds the work on a hostile chain.
 */
const MAX_POINTER_HOPS = 64;

export interface ResponseScan {
  readonly id: number;
  /** The header's second 16-bit word (QR, opcode, AA, TC, RD, RA, AD, CD, low rcode). */
  readonly flags: number;
  /** The full rcode: the header's 4 bits plus the OPT's extended 8 bits (RFC 6891 §6.1.3). */
  readonly rcode: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
  /** Offset just past the question. */
  readonly questionEnd: number;
  /**
   * Lower case (ASCII only), no trailing dot, "" for the root. A "." or "\" byte inside a
   * label is escaped as "\." / "\\" so that distinct wire names never share a string.
   */
  readonly qname: string;
  readonly qtype: number;
  readonly qclass: number;
  /** Offset of the TTL field of every record in answer, authority and additional, OPT excluded. */
  readonly ttlOffsets: number[];
  /** The first `answerTtlCount` entries of `ttlOffsets` belong to the answer section. */
  readonly answerTtlCount: number;
  /**
   * Seconds this response may be cached: the smallest answer TTL; for a negative response
   * (NXDOMAIN, or NOERROR without a record of the asked type) additionally capped by the
   * RFC 2308 negative TTL min(SOA TTL, SOA MINIMUM) of the authority SOA, and `undefined`
   * when that SOA is missing. `undefined` too for a positive response with no answer TTL.
   */
  readonly minTtl: number | undefined;
  /** NXDOMAIN, or NODATA (NOERROR and no answer record of the asked type). */
  readonly negative: boolean;
  readonly hasOpt: boolean;
  /** Offset of the OPT record's owner byte, -1 without one. */
  readonly optOffset: number;
  /** Bytes of the whole OPT record, 0 without one. */
  readonly optLength: number;
  /** The DO bit of the upstream's OPT. */
  readonly dnssecOk: boolean;
  readonly truncated: boolean;
  /**
   * False only for a truncated (TC) response whose record sections stop short of their
   * counts; `ttlOffsets`, `minTtl` and `end` then cover the records that were complete.
   */
  readonly complete: boolean;
  /** Offset just past the last record scanned; any bytes after it are not part of the message. */
  readonly end: number;
}

/**
 * Offset just past the (possibly compressed) name at `offset`, or -1 when it is malformed:
 * runs past the end, uses a reserved label type, is longer than 255 wire bytes, or holds a
 * compression pointer that does not point strictly before the segment it was read from (which
 * rules out loops) or that points into the header.
 */
export function skipName(buf: Buffer, offset: number): number {
  const len = buf.length;
  if (!(offset >= 0)) return -1;
  let pos = offset;
  let limit = offset;
  let end = -1;
  let wireBytes = 1; // the root label
  let hops = 0;
  for (;;) {
    if (pos >= len) return -1;
    const b = buf[pos];
    if (b === 0) return end === -1 ? pos + 1 : end;
    const kind = b & POINTER_BITS;
    if (kind === POINTER_BITS) {
      if (pos + 1 >= len) return -1;
      const target = ((b & LABEL_LENGTH_MASK) << 8) | buf[pos + 1];
      if (target >= limit || target < HEADER_BYTES || ++hops > MAX_POINTER_HOPS) return -1;
      if (end === -1) end = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return -1;
    wireBytes += b + 1;
    if (wireBytes > MAX_NAME_BYTES) return -1;
    pos += b + 1;
  }
}

/**
 * Scan an upstream response. Returns `undefined` when it is not a well-formed response with
 * exactly one question: short header, QR clear, QDCOUNT ≠ 1, a bad name, a record running past
 * the end (unless TC is set, see `complete`), an OPT outside the additional section, not owned
 * by the root or present twice, or an authority SOA whose RDATA does not parse.
 */
export function scanResponse(buf: Buffer): ResponseScan | undefined {
  const len = buf.length;
  if (len < HEADER_BYTES) return undefined;
  const flags = (buf[2] << 8) | buf[3];
  if ((flags & FLAG_QR) === 0) return undefined;
  const qdcount = (buf[4] << 8) | buf[5];
  if (qdcount !== 1) return undefined;
  const ancount = (buf[6] << 8) | buf[7];
  const nscount = (buf[8] << 8) | buf[9];
  const arcount = (buf[10] << 8) | buf[11];
  const truncated = (flags & FLAG_TC) !== 0;

  // The question name sits right after the header, so it can hold no (backward) pointer.
  const qnameEnd = skipName(buf, HEADER_BYTES);
  if (qnameEnd < 0 || qnameEnd + 4 > len) return undefined;
  const qname = wireToName(buf, HEADER_BYTES);
  const qtype = (buf[qnameEnd] << 8) | buf[qnameEnd + 1];
  const qclass = (buf[qnameEnd + 2] << 8) | buf[qnameEnd + 3];
  const questionEnd = qnameEnd + 4;

  const ttlOffsets: number[] = [];
  let answerTtlCount = 0;
  let answerMin = Infinity;
  let answerHasQtype = false;
  let soaNegativeTtl = Infinity;
  let optOffset = -1;
  let optLength = 0;
  let extendedRcode = 0;
  let dnssecOk = false;
  let complete = true;

  let off = questionEnd;
  const total = ancount + nscount + arcount;
  for (let i = 0; i < total; i++) {
    const section = i < ancount ? 0 : i < ancount + nscount ? 1 : 2;
    const fixed = skipName(buf, off);
    const rdStart = fixed + 10;
    const rdEnd = fixed < 0 || rdStart > len ? -1 : rdStart + ((buf[fixed + 8] << 8) | buf[fixed + 9]);
    if (rdEnd < 0 || rdEnd > len) {
      if (!truncated) return undefined;
      complete = false;
      break;
    }
    const type = (buf[fixed] << 8) | buf[fixed + 1];
    if (type === RRType.OPT) {
      if (section !== 2 || optOffset !== -1 || fixed !== off + 1) return undefined;
      optOffset = off;
      optLength = rdEnd - off;
      extendedRcode = buf[fixed + 4];
      dnssecOk = (buf[fixed + 6] & OPT_DO_BIT) !== 0;
    } else {
      ttlOffsets.push(fixed + 4);
      const ttl = readTtl(buf, fixed + 4);
      if (section === 0) {
        answerTtlCount++;
        if (ttl < answerMin) answerMin = ttl;
        if (type === qtype || qtype === RRType.ANY) answerHasQtype = true;
      } else if (section === 1 && type === RRType.SOA) {
        const mnameEnd = skipName(buf, rdStart);
        const rnameEnd = mnameEnd < 0 || mnameEnd >= rdEnd ? -1 : skipName(buf, mnameEnd);
        if (rnameEnd < 0 || rnameEnd + 20 !== rdEnd) return undefined;
        const minimum = readTtl(buf, rnameEnd + 16);
        const negativeTtl = ttl < minimum ? ttl : minimum;
        if (negativeTtl < soaNegativeTtl) soaNegativeTtl = negativeTtl;
      }
    }
    off = rdEnd;
  }

  const rcode = (extendedRcode << 4) | (flags & RCODE_MASK);
  const negative = rcode === 3 || (rcode === 0 && !answerHasQtype);
  let minTtl: number | undefined;
  if (negative) {
    if (soaNegativeTtl !== Infinity) minTtl = answerMin < soaNegativeTtl ? answerMin : soaNegativeTtl;
  } else if (answerMin !== Infinity) {
    minTtl = answerMin;
  }

  return {
    id: (buf[0] << 8) | buf[1],
    flags,
    rcode,
    qdcount,
    ancount,
    nscount,
    arcount,
    questionEnd,
    qname,
    qtype,
    qclass,
    ttlOffsets,
    answerTtlCount,
    minTtl,
    negative,
    hasOpt: optOffset !== -1,
    optOffset,
    optLength,
    dnssecOk,
    truncated,
    complete,
    end: off,
  };
}

/** The 32-bit TTL at `offset`, read as RFC 2181 §8 says (top bit set means 0). */
export function readTtl(buf: Buffer, offset: number): number {
  const ttl = buf[offset] * 0x1000000 + ((buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]);
  return ttl > MAX_TTL ? 0 : ttl;
}
