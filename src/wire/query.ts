import {
  EDNS_OPTION_NSID, FLAG_CD, FLAG_QR, FLAG_RD, HEADER_BYTES, MAX_NAME_BYTES, MAX_QUERY_BYTES, OPCODE_MASK, OPCODE_QUERY, OPT_DO_BIT, RRType,
} from './constants';
import { uncompressedNameEnd } from './name-codec';
import { QuestionStrings } from './question-strings';

/** EDNS(0) as the client sent it. */
export interface ClientEdns {
  readonly udpSize: number;
  readonly dnssecOk: boolean;
  readonly version: number;
  /** The query carries an NSID option (RFC 5001): the answer's OPT names this server. */
  readonly nsid: boolean;
}

/** A query that passed every guard: safe to answer or forward. */
export interface Query {
  readonly kind: 'query';
  readonly id: number;
  readonly rd: boolean;
  readonly cd: boolean;
  /** Lower case (ASCII), no trailing dot, "" for the root; "." and "\\" inside a label escaped. */
  readonly qname: string;
  readonly qtype: number;
  readonly qclass: number;
  /** Offset just past the question; bytes [12, questionEnd) are the question as sent. */
  readonly questionEnd: number;
  readonly edns: ClientEdns | null;
  readonly raw: Buffer;
  /** The answer cache's key for this question when the parser had it at hand; '' or absent: build it (questionKey). */
  readonly cacheKey?: string;
}

/** Why a datagram is not a query we answer normally. */
export type QueryProblem =
  | { readonly kind: 'drop'; readonly reason: 'short' | 'response' | 'oversize' }
  | { readonly kind: 'reject'; readonly reason: 'formerr' | 'notimp' | 'badvers'; readonly id: number; readonly flags: number; readonly questionEnd: number; readonly edns: ClientEdns | null };

const LOWER = new Uint8Array(256).map((_, i) => (i >= 65 && i <= 90 ? i + 32 : i));
/** Room for a 255-byte name with every byte escaped; parseQuery is synchronous, so one suffices. */
const NAME_SCRATCH = Buffer.alloc(2 * MAX_NAME_BYTES);

/**
 * The hot-path guard and question parser: header present, QR=0, opcode QUERY, one question, no
 * answers or authority, at most one additional (an OPT), no compression in the question (a
 * pointer in a query is never legitimate, and anything else is refused before it costs work).
 * Never throws; bounds are checked before every read. Each call returns new objects.
 */
export function parseQuery(buf: Buffer, maxBytes = MAX_QUERY_BYTES): Query | QueryProblem {
  return parse(buf, maxBytes, null);
}

class ReusedEdns implements ClientEdns {
  udpSize = 0;
  dnssecOk = false;
  version = 0;
  nsid = false;
}

/** The one Query object of a QueryParser, overwritten by each parse. */
class ReusedQuery implements Query {
  readonly kind = 'query';
  id = 0;
  rd = false;
  cd = false;
  qname = '';
  qtype = 0;
  qclass = 0;
  questionEnd = 0;
  edns: ClientEdns | null = null;
  raw: Buffer = EMPTY;
  cacheKey = '';
  readonly ownEdns = new ReusedEdns();
  /** detachQuery's copy of this parse, so every holder of the same query shares one. */
  detached: Query | null = null;
}

const EMPTY = Buffer.alloc(0);

/**
 * parseQuery for the per-query path without garbage: the Query it returns (and its `edns`) is
 * the same object every time, valid until the next `parse`, and its `raw` is the caller's
 * buffer (which the transports reuse too). Names asked again get the same strings
 * (QuestionStrings), and with them their cache key. Whatever keeps a query past the turn it
 * arrived in (a forwarded query, a zone request) takes `detachQuery` of it first.
 */
export class QueryParser {
  readonly reused = new ReusedQuery();
  readonly strings = new QuestionStrings();

  parse(buf: Buffer, maxBytes = MAX_QUERY_BYTES): Query | QueryProblem {
    return parse(buf, maxBytes, this);
  }
}

/** A query of its own (its bytes copied) when `q` is a QueryParser's reused one; else `q` itself. */
export function detachQuery(q: Query): Query {
  if (!(q instanceof ReusedQuery)) return q;
  if (q.detached) return q.detached;
  const edns = q.edns ? { udpSize: q.edns.udpSize, dnssecOk: q.edns.dnssecOk, version: q.edns.version, nsid: q.edns.nsid } : null;
  q.detached = { kind: 'query', id: q.id, rd: q.rd, cd: q.cd, qname: q.qname, qtype: q.qtype, qclass: q.qclass, questionEnd: q.questionEnd, edns, raw: Buffer.from(q.raw), cacheKey: q.cacheKey };
  return q.detached;
}

function parse(buf: Buffer, maxBytes: number, parser: QueryParser | null): Query | QueryProblem {
  const len = buf.length;
  if (len < HEADER_BYTES) return { kind: 'drop', reason: 'short' };
  const flags = buf.readUInt16BE(2);
  if ((flags & FLAG_QR) !== 0) return { kind: 'drop', reason: 'response' };
  if (len > maxBytes) return { kind: 'drop', reason: 'oversize' };
  const id = buf.readUInt16BE(0);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  // NOTIMP leaves the question out (its meaning depends on the opcode) but keeps EDNS (RFC 6891 §7).
  if (((flags & OPCODE_MASK) >> 11) !== OPCODE_QUERY) return reject('notimp', id, flags, HEADER_BYTES, ednsOfOtherOpcode(buf, qd, an, ns, ar));
  if (qd !== 1 || an !== 0 || ns !== 0 || ar > 1) return reject('formerr', id, flags, HEADER_BYTES, null);

  // Question name: labels only (a pointer in a query is never legitimate).
  // The lower-cased presentation name is written into a scratch buffer and turned into one
  // flat string at the end: concatenating characters builds a rope that every Map lookup of
  // the name would have to flatten again.
  let off = HEADER_BYTES;
  let out = 0;
  let nameBytes = 0;
  // FNV-1a of the name text, for QuestionStrings.
  let hash = 0x811c9dc5 | 0;
  for (;;) {
    if (off >= len) return reject('formerr', id, flags, HEADER_BYTES, null);
    const labelLen = buf[off];
    if (labelLen === 0) {
      off += 1;
      break;
    }
    if (labelLen > 63) return reject('formerr', id, flags, HEADER_BYTES, null);
    nameBytes += labelLen + 1;
    if (nameBytes >= MAX_NAME_BYTES || off + 1 + labelLen > len) return reject('formerr', id, flags, HEADER_BYTES, null);
    if (out > 0) NAME_SCRATCH[out++] = 0x2e;
    const end = off + 1 + labelLen;
    for (let i = off + 1; i < end; i++) {
      const c = LOWER[buf[i]];
      // A "." or "\\" inside a label is escaped, so distinct wire names never share a string
      // (the same spelling message-scan.ts uses for cache keys).
      if (c === 0x2e || c === 0x5c) {
        NAME_SCRATCH[out++] = 0x5c;
        hash = Math.imul(hash ^ 0x5c, 0x01000193);
      }
      NAME_SCRATCH[out++] = c;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    hash = Math.imul(hash ^ 0x2e, 0x01000193);
    off = end;
  }
  if (off + 4 > len) return reject('formerr', id, flags, HEADER_BYTES, null);
  const qtype = (buf[off] << 8) | buf[off + 1];
  const qclass = (buf[off + 2] << 8) | buf[off + 3];
  off += 4;
  const questionEnd = off;
  if (qtype === RRType.OPT) return reject('formerr', id, flags, questionEnd, null);

  let edns: ClientEdns | null = null;
  if (ar === 1) {
    // The single additional record must be an OPT with the root owner name.
    if (off + 11 > len || buf[off] !== 0 || buf.readUInt16BE(off + 1) !== RRType.OPT) return reject('formerr', id, flags, questionEnd, null);
    const udpSize = buf.readUInt16BE(off + 3);
    const version = buf[off + 6];
    const dnssecOk = (buf[off + 7] & OPT_DO_BIT) !== 0;
    const rdlen = buf.readUInt16BE(off + 9);
    if (off + 11 + rdlen > len) return reject('formerr', id, flags, questionEnd, null);
    // Options must tile the RDATA exactly; unknown ones are ignored (RFC 6891 §6.1.2).
    let o = off + 11;
    const end = o + rdlen;
    let nsid = false;
    while (o < end) {
      if (o + 4 > end) return reject('formerr', id, flags, questionEnd, null);
      if (((buf[o] << 8) | buf[o + 1]) === EDNS_OPTION_NSID) nsid = true;
      o += 4 + buf.readUInt16BE(o + 2);
    }
    if (o !== end) return reject('formerr', id, flags, questionEnd, null);
    if (version !== 0) return reject('badvers', id, flags, questionEnd, { udpSize, dnssecOk, version, nsid });
    if (parser) {
      const e = parser.reused.ownEdns;
      e.udpSize = udpSize;
      e.dnssecOk = dnssecOk;
      e.version = version;
      e.nsid = nsid;
      edns = e;
    } else {
      edns = { udpSize, dnssecOk, version, nsid };
    }
  }
  const rd = (flags & FLAG_RD) !== 0;
  const cd = (flags & FLAG_CD) !== 0;
  if (parser === null) {
    const qname = out === 0 ? '' : NAME_SCRATCH.toString('latin1', 0, out);
    return { kind: 'query', id, rd, cd, qname, qtype, qclass, questionEnd, edns, raw: buf };
  }
  const strings = parser.strings;
  strings.find(NAME_SCRATCH, out, hash, qtype, qclass, edns?.dnssecOk === true, cd);
  const q = parser.reused;
  q.id = id;
  q.rd = rd;
  q.cd = cd;
  q.qname = strings.name !== '' || out === 0 ? strings.name : NAME_SCRATCH.toString('latin1', 0, out);
  q.qtype = qtype;
  q.qclass = qclass;
  q.questionEnd = questionEnd;
  q.edns = edns;
  q.raw = buf;
  q.cacheKey = strings.key;
  q.detached = null;
  return q;
}

/**
 * The OPT of a message with another opcode when it is laid out like a query (at most one question,
 * then only the OPT), else null: enough to answer NOTIMP with EDNS as the client used it.
 */
function ednsOfOtherOpcode(buf: Buffer, qd: number, an: number, ns: number, ar: number): ClientEdns | null {
  if (qd > 1 || an !== 0 || ns !== 0 || ar !== 1) return null;
  const len = buf.length;
  let off = HEADER_BYTES;
  if (qd === 1) {
    for (let labels = 0; ; labels++) {
      if (labels > 127 || off >= len || buf[off] > 63) return null;
      if (buf[off] === 0) break;
      off += 1 + buf[off];
    }
    off += 5;
  }
  if (off + 11 > len || buf[off] !== 0 || buf.readUInt16BE(off + 1) !== RRType.OPT) return null;
  return { udpSize: buf.readUInt16BE(off + 3), version: buf[off + 6], dnssecOk: (buf[off + 7] & OPT_DO_BIT) !== 0, nsid: false };
}

function reject(reason: 'formerr' | 'notimp' | 'badvers', id: number, flags: number, questionEnd: number, edns: ClientEdns | null): QueryProblem {
  return { kind: 'reject', reason, id, flags, questionEnd, edns };
}

/**
 * For a message the guard rejected: the offset just past its question when it is a zone transfer
 * request (QUERY, one question of type AXFR or IXFR; an IXFR carries the client's SOA in the
 * authority section, which the guard does not take), else -1. Lets transfers be REFUSED alike
 * with or without a zone service, instead of FORMERR for IXFR only.
 */
export function transferQuestionEnd(buf: Buffer): number {
  const len = buf.length;
  if (len < HEADER_BYTES) return -1;
  const flags = buf.readUInt16BE(2);
  if ((flags & FLAG_QR) !== 0 || (flags & OPCODE_MASK) !== 0 || buf.readUInt16BE(4) !== 1) return -1;
  const nameEnd = uncompressedNameEnd(buf, HEADER_BYTES);
  if (nameEnd < 0 || nameEnd + 4 > len) return -1;
  const qtype = buf.readUInt16BE(nameEnd);
  return qtype === RRType.AXFR || qtype === RRType.IXFR ? nameEnd + 4 : -1;
}
