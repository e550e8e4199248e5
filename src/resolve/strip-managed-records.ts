import { RRType } from '../wire/constants';
import { scanResponse, skipName, type ResponseScan } from '../wire/message-scan';
import { readName } from '../wire/name-codec';
import type { AnswerTable } from './table';

const TYPE_DNAME = 39;
const TYPE_SRV = 33;

/**
 * An upstream answer relayed as it is (its CNAME chain reaches no managed name) may still carry,
 * in authority or additional, records owned by a name the table manages: the public view of it
 * (a 100.64/10 address as glue, an NS or SOA of that name). Those are not ours to relay: the
 * answer is rebuilt without them and scanned again, so the cache and the relay see the clean one.
 * Undefined when there is nothing to strip (the usual case: nothing is copied); 'malformed' when a
 * record there does not parse. The answer section is the chain cut's business (chain-cut.ts).
 *
 * Records kept after a dropped one are written with their names uncompressed: a compression
 * pointer of theirs may point into the bytes that are gone.
 */
export function stripManagedRecords(reply: Buffer, scan: ResponseScan, table: AnswerTable): { reply: Buffer; scan: ResponseScan } | 'malformed' | undefined {
  const extra = scan.nscount + scan.arcount;
  // The usual forwarded answer carries only its OPT beyond the answer section: nothing to look at
  // (no walk, no allocation on the miss path). The OPT is never stripped.
  if (extra - (scan.hasOpt ? 1 : 0) === 0 || table.size === 0) return undefined;
  const records: { start: number; end: number; drop: boolean }[] = [];
  let dropping = false;
  try {
    let off = scan.questionEnd;
    for (let i = 0; i < scan.ancount && off < scan.end; i++) off = recordEnd(reply, off);
    for (let i = 0; i < extra && off < scan.end; i++) {
      const owner = readName(reply, off);
      const end = recordEnd(reply, off);
      const type = reply.readUInt16BE(owner.end);
      const drop = type !== RRType.OPT && owner.name !== '' && table.lookup(owner.name) !== undefined;
      dropping ||= drop;
      records.push({ start: off, end, drop });
      off = end;
    }
  } catch {
    return 'malformed';
  }
  if (!dropping) return undefined;
  // Everything before the first dropped record stays as it is (its pointers point backwards).
  const firstDropped = records.findIndex((r) => r.drop);
  const parts: Buffer[] = [reply.subarray(0, (records[firstDropped] as { start: number }).start)];
  try {
    for (const r of records.slice(firstDropped)) if (!r.drop) parts.push(uncompressed(reply, r.start));
  } catch {
    return 'malformed';
  }
  const out = Buffer.concat(parts);
  // The counts say what is here now (records of a truncated answer past scan.end never arrived).
  const kept = (from: number, to: number): number => records.slice(from, to).filter((r) => !r.drop).length;
  out.writeUInt16BE(kept(0, scan.nscount), 8);
  out.writeUInt16BE(kept(scan.nscount, records.length), 10);
  const rescanned = scanResponse(out);
  return rescanned ? { reply: out, scan: rescanned } : 'malformed';
}

/** Offset just past the record at `off`; throws on one that runs past the message. */
function recordEnd(buf: Buffer, off: number): number {
  const fixed = skipName(buf, off);
  if (fixed < 0 || fixed + 10 > buf.length) throw new RangeError('record cut short');
  const end = fixed + 10 + buf.readUInt16BE(fixed + 8);
  if (end > buf.length) throw new RangeError('rdata runs past the message');
  return end;
}

/** The record at `off` with every name in it expanded (owner, and the names in the RDATA types that carry them). */
function uncompressed(buf: Buffer, off: number): Buffer {
  const owner = readName(buf, off);
  const fixed = owner.end;
  const type = buf.readUInt16BE(fixed);
  const rdStart = fixed + 10;
  const rdEnd = rdStart + buf.readUInt16BE(fixed + 8);
  const rdata = expandedRdata(buf, type, rdStart, rdEnd);
  const head = Buffer.from(buf.subarray(fixed, fixed + 10));
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner.wire, head, rdata]);
}

function expandedRdata(buf: Buffer, type: number, start: number, end: number): Buffer {
  const names = (prefix: number, count: number, suffix: number): Buffer => {
    const parts: Buffer[] = [buf.subarray(start, start + prefix)];
    let pos = start + prefix;
    for (let i = 0; i < count; i++) {
      const n = readName(buf, pos);
      parts.push(n.wire);
      pos = n.end;
    }
    if (pos + suffix !== end) throw new RangeError('rdata does not match its type');
    parts.push(buf.subarray(pos, end));
    return Buffer.concat(parts);
  };
  switch (type) {
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case TYPE_DNAME:
      return names(0, 1, 0);
    case RRType.MX:
      return names(2, 1, 0);
    case TYPE_SRV:
      return names(6, 1, 0);
    case RRType.SOA:
      return names(0, 2, 20);
    default:
      // Other types carry no compressed names (RFC 3597 §4).
      return Buffer.from(buf.subarray(start, end));
  }
}
