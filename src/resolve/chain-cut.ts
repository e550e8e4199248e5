import { CLASS_IN, FLAG_RD, FLAG_CD, HEADER_BYTES, MAX_POINTER_OFFSET, NAME_POINTER, RCode, RRType } from '../wire/constants';
import type { Query } from '../wire/query';
import type { ResponseScan } from '../wire/message-scan';
import { readTtl, skipName } from '../wire/message-scan';
import { readName } from '../wire/name-codec';
import { responseFlags, writeHeader } from '../wire/response';
import type { AnswerTable, TableRecord } from './table';

/** What cutting an upstream answer at a managed name gave. */
export type ChainCut =
  /** No CNAME of the chain leads into a managed name: relay the upstream's answer. */
  | { readonly kind: 'none' }
  /** Our answer instead (no OPT): the CNAMEs up to the managed name, then the table's records. */
  | { readonly kind: 'cut'; readonly bytes: Buffer }
  /** The chain reaches a managed name that has no usable address and answers SERVFAIL. */
  | { readonly kind: 'servfail' }
  /** A name in the chain does not parse (e.g. a compression loop in CNAME RDATA). */
  | { readonly kind: 'malformed' };

interface Cname {
  readonly owner: Buffer;
  readonly ownerName: string;
  readonly target: Buffer;
  readonly targetName: string;
  readonly ttl: number;
}

const TYPE_DNAME = 39;

/**
 * Checks the names inside the answer's RDATA (CNAME, DNAME, NS, PTR, MX: a compression loop or a
 * pointer past the end there is `malformed`, never relayed or cached), then follows the CNAME
 * chain of an upstream answer from the question name. Where it reaches a name the table manages,
 * the rest of the upstream's answer is not ours to relay (it is the public 100.64/10 view of that
 * name): the answer becomes the CNAMEs up to that name, re-encoded without compression, then the
 * table's records for it with our TTL. Authority and additional sections
 * are dropped, so no record owned by a managed name leaves from the upstream's data.
 */
export function cutChainAtManaged(
  reply: Buffer, scan: ResponseScan, q: Query, table: AnswerTable, ttl: number, onUnavailable: 'servfail' | 'forward',
): ChainCut {
  if (scan.ancount === 0) return { kind: 'none' };
  const cnames: Cname[] = [];
  let off = scan.questionEnd;
  try {
    // A truncated reply's records end at scan.end; the rest never arrived.
    for (let i = 0; i < scan.ancount && off < scan.end; i++) {
      // Names are only read into strings for CNAMEs; the rest are checked where they lie.
      const fixed = skipName(reply, off);
      if (fixed < 0 || fixed + 10 > reply.length) return { kind: 'malformed' };
      const type = reply.readUInt16BE(fixed);
      const rclass = reply.readUInt16BE(fixed + 2);
      const rdStart = fixed + 10;
      const rdEnd = rdStart + reply.readUInt16BE(fixed + 8);
      if (rdEnd > reply.length) return { kind: 'malformed' };
      if (type === RRType.CNAME) {
        const owner = readName(reply, off);
        const target = readName(reply, rdStart);
        if (target.end !== rdEnd) return { kind: 'malformed' };
        const ttlS = readTtl(reply, fixed + 4);
        if (rclass === CLASS_IN) cnames.push({ owner: owner.wire, ownerName: owner.name, target: target.wire, targetName: target.name, ttl: ttlS });
      } else if (type === RRType.NS || type === RRType.PTR || type === TYPE_DNAME) {
        if (skipName(reply, rdStart) !== rdEnd) return { kind: 'malformed' };
      } else if (type === RRType.MX) {
        if (rdStart + 2 > rdEnd || skipName(reply, rdStart + 2) !== rdEnd) return { kind: 'malformed' };
      }
      off = rdEnd;
    }
  } catch {
    return { kind: 'malformed' };
  }
  if (cnames.length === 0 || table.size === 0) return { kind: 'none' };
  // Walk from the question; bounded by the number of CNAMEs, so a cycle ends.
  const chain: Cname[] = [];
  let name = q.qname;
  for (let hop = 0; hop < cnames.length; hop++) {
    const next = cnames.find((c) => c.ownerName === name);
    if (!next) break;
    chain.push(next);
    const match = table.lookup(next.targetName);
    if (match) {
      const { record } = match;
      if (record.aRdata.length > 0 || record.aaaaRdata.length > 0) return { kind: 'cut', bytes: build(q, chain, record, ttl) };
      if ((record.unavailable ?? onUnavailable) === 'servfail') return { kind: 'servfail' };
    }
    name = next.targetName;
  }
  return { kind: 'none' };
}

function build(q: Query, chain: readonly Cname[], record: TableRecord, ttl: number): Buffer {
  let rdata: Buffer = Buffer.alloc(0);
  let rdlen = 0;
  let type = 0;
  if (q.qtype === RRType.A || (q.qtype === RRType.ANY && record.aRdata.length > 0)) {
    rdata = record.aRdata;
    rdlen = 4;
    type = RRType.A;
  } else if (q.qtype === RRType.AAAA || q.qtype === RRType.ANY) {
    rdata = record.aaaaRdata;
    rdlen = 16;
    type = RRType.AAAA;
  }
  const count = rdlen === 0 ? 0 : rdata.length / rdlen;
  const qLen = q.questionEnd - HEADER_BYTES;
  let size = HEADER_BYTES + qLen;
  for (const c of chain) size += c.owner.length + 10 + c.target.length;
  // The address records point at the last CNAME's target, or repeat it when a pointer cannot reach.
  const ownerBytes = size - chain[chain.length - 1].target.length > MAX_POINTER_OFFSET ? chain[chain.length - 1].target.length : 2;
  size += count * (ownerBytes + 10 + rdlen);
  const buf = Buffer.allocUnsafe(size);
  // Our data now: AA and AD from upstream no longer hold; NOERROR even if the upstream said NXDOMAIN.
  const flags = responseFlags(q.raw.readUInt16BE(2) & (FLAG_RD | FLAG_CD), RCode.NOERROR);
  writeHeader(buf, q.id, flags, 1, chain.length + count, 0, 0);
  q.raw.copy(buf, HEADER_BYTES, HEADER_BYTES, q.questionEnd);
  let off = HEADER_BYTES + qLen;
  let lastTarget = -1;
  for (const c of chain) {
    off += c.owner.copy(buf, off);
    buf.writeUInt16BE(RRType.CNAME, off);
    buf.writeUInt16BE(CLASS_IN, off + 2);
    buf.writeUInt32BE(c.ttl, off + 4);
    buf.writeUInt16BE(c.target.length, off + 8);
    off += 10;
    lastTarget = off;
    off += c.target.copy(buf, off);
  }
  const start = record.rotation++ % Math.max(count, 1);
  if (record.rotation > 0x3fffffff) record.rotation = 0;
  for (let i = 0; i < count; i++) {
    if (ownerBytes === 2) {
      buf.writeUInt16BE(NAME_POINTER | lastTarget, off);
      off += 2;
    } else {
      off += chain[chain.length - 1].target.copy(buf, off);
    }
    buf.writeUInt16BE(type, off);
    buf.writeUInt16BE(CLASS_IN, off + 2);
    buf.writeUInt32BE(ttl, off + 4);
    buf.writeUInt16BE(rdlen, off + 8);
    off += 10;
    const idx = (start + i) % count;
    off += rdata.copy(buf, off, idx * rdlen, idx * rdlen + rdlen);
  }
  return buf;
}
