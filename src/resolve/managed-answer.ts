import { CLASS_IN, FLAG_AA, HEADER_BYTES, NAME_POINTER, POINTER_BITS, RCode, RRType } from '../wire/constants';
import type { Query } from '../wire/query';
import { OPT_BYTES, copyBytes, responseFlags, writeHeader, writeOpt } from '../wire/response';
import type { ScratchBuffer } from '../wire/scratch-buffer';
import type { TableMatch } from './table';

const SOA_REFRESH_S = 3600;
const SOA_RETRY_S = 600;
const SOA_EXPIRE_S = 86_400;
const HOSTMASTER = Buffer.from([10, ...Buffer.from('hostmaster')]);

/**
 * Builds the authoritative answer for a managed name straight into wire bytes: the owner of every
 * record is a compression pointer to the question, so the answer costs one allocation. A and AAAA
 * sets rotate between responses. Other types get NODATA with an SOA whose owner is the matched
 * apex (the entry name, or the wildcard's parent), so negative caching uses `ttl`. With `into`,
 * the answer is written into that scratch (valid until its next use) and costs no allocation.
 */
export function buildManagedAnswer(q: Query, match: TableMatch, ttl: number, serial: number, into?: ScratchBuffer): Buffer {
  const { record } = match;
  let rdata: Buffer;
  let rdlen: number;
  let type: number;
  if (q.qtype === RRType.A || (q.qtype === RRType.ANY && record.aRdata.length > 0)) {
    rdata = record.aRdata;
    rdlen = 4;
    type = RRType.A;
  } else if (q.qtype === RRType.AAAA || (q.qtype === RRType.ANY && record.aaaaRdata.length > 0)) {
    rdata = record.aaaaRdata;
    rdlen = 16;
    type = RRType.AAAA;
  } else if (q.qtype === RRType.ANY) {
    return buildAnyHinfo(q, ttl);
  } else {
    return buildNoData(q, match, ttl, serial, RCode.NOERROR, into);
  }
  const count = rdata.length / rdlen;
  if (count === 0) return buildNoData(q, match, ttl, serial, RCode.NOERROR, into);

  const qLen = q.questionEnd - HEADER_BYTES;
  const rrBytes = 12 + rdlen;
  const size = HEADER_BYTES + qLen + count * rrBytes + (q.edns ? OPT_BYTES : 0);
  const buf = into ? into.view(size) : Buffer.allocUnsafe(size);
  const raw = q.raw;
  writeHeader(buf, q.id, responseFlags((raw[2] << 8) | raw[3], RCode.NOERROR, FLAG_AA), 1, count, 0, q.edns ? 1 : 0);
  copyBytes(raw, HEADER_BYTES, q.questionEnd, buf, HEADER_BYTES);
  let off = HEADER_BYTES + qLen;
  const start = record.rotation++ % count;
  if (record.rotation > 0x3fffffff) record.rotation = 0;
  for (let i = 0; i < count; i++) {
    const idx = (start + i) % count;
    buf[off] = POINTER_BITS; // pointer to the question name at offset 12
    buf[off + 1] = HEADER_BYTES;
    buf[off + 2] = 0;
    buf[off + 3] = type;
    buf[off + 4] = 0;
    buf[off + 5] = CLASS_IN;
    buf[off + 6] = ttl >>> 24;
    buf[off + 7] = (ttl >>> 16) & 0xff;
    buf[off + 8] = (ttl >>> 8) & 0xff;
    buf[off + 9] = ttl & 0xff;
    buf[off + 10] = 0;
    buf[off + 11] = rdlen;
    copyBytes(rdata, idx * rdlen, idx * rdlen + rdlen, buf, off + 12);
    off += rrBytes;
  }
  if (q.edns) writeOpt(buf, off, q.edns.dnssecOk);
  return buf;
}

/** NOERROR/NODATA (or another rcode) with the apex SOA in the authority section (RFC 2308). */
export function buildNoData(q: Query, match: TableMatch, ttl: number, serial: number, rcode: number, into?: ScratchBuffer): Buffer {
  const qLen = q.questionEnd - HEADER_BYTES;
  const apex = apexOffset(q.raw, match.labelsAboveApex);
  const size = HEADER_BYTES + qLen + 12 + SOA_RDATA_BYTES + (q.edns ? OPT_BYTES : 0);
  const buf = into ? into.view(size) : Buffer.allocUnsafe(size);
  writeHeader(buf, q.id, responseFlags((q.raw[2] << 8) | q.raw[3], rcode, FLAG_AA), 1, 0, 1, q.edns ? 1 : 0);
  copyBytes(q.raw, HEADER_BYTES, q.questionEnd, buf, HEADER_BYTES);
  const off = writeSoa(buf, HEADER_BYTES + qLen, apex, ttl, serial);
  if (q.edns) writeOpt(buf, off, q.edns.dnssecOk);
  return buf;
}

/** SOA rdata as written here: mname ptr(2) | rname label + ptr (11 + 2) | 5 × u32 (20). */
const SOA_RDATA_BYTES = 2 + HOSTMASTER.length + 2 + 20;

/**
 * Writes `<apex> SOA <apex> hostmaster.<apex> serial 3600 600 86400 ttl` at `off`, the apex being
 * the (uncompressed) name at offset `apex` of the question; returns the offset past it.
 */
function writeSoa(buf: Buffer, off: number, apex: number, ttl: number, serial: number): number {
  const ptr = NAME_POINTER | apex;
  buf.writeUInt16BE(ptr, off);
  buf.writeUInt16BE(RRType.SOA, off + 2);
  buf.writeUInt16BE(CLASS_IN, off + 4);
  buf.writeUInt32BE(ttl, off + 6);
  buf.writeUInt16BE(SOA_RDATA_BYTES, off + 10);
  off += 12;
  buf.writeUInt16BE(ptr, off); // MNAME: the apex itself
  off += 2;
  copyBytes(HOSTMASTER, 0, HOSTMASTER.length, buf, off); // RNAME: hostmaster.<apex>
  off += HOSTMASTER.length;
  buf.writeUInt16BE(ptr, off);
  off += 2;
  buf.writeUInt32BE(serial >>> 0, off);
  buf.writeUInt32BE(SOA_REFRESH_S, off + 4);
  buf.writeUInt32BE(SOA_RETRY_S, off + 8);
  buf.writeUInt32BE(SOA_EXPIRE_S, off + 12);
  buf.writeUInt32BE(ttl, off + 16);
  return off + 20;
}

/**
 * The apex of a managed name (or of a wildcard's parent) is a zone of ours, as the SOA of every
 * negative answer says: SOA gets that same SOA record, NS one record per name server (uncompressed
 * wire names), both authoritative. Written into one buffer like the other managed answers.
 */
export function buildApexAnswer(q: Query, ttl: number, serial: number, nameservers: readonly Buffer[]): Buffer {
  const qLen = q.questionEnd - HEADER_BYTES;
  const soa = q.qtype === RRType.SOA;
  const rdlens = soa ? [SOA_RDATA_BYTES] : nameservers.map((n) => n.length);
  const size = HEADER_BYTES + qLen + rdlens.reduce((sum, r) => sum + 12 + r, 0) + (q.edns ? OPT_BYTES : 0);
  const buf = Buffer.allocUnsafe(size);
  writeHeader(buf, q.id, responseFlags(q.raw.readUInt16BE(2), RCode.NOERROR, FLAG_AA), 1, rdlens.length, 0, q.edns ? 1 : 0);
  q.raw.copy(buf, HEADER_BYTES, HEADER_BYTES, q.questionEnd);
  let off = HEADER_BYTES + qLen;
  if (soa) off = writeSoa(buf, off, HEADER_BYTES, ttl, serial);
  else {
    for (const ns of nameservers) {
      buf.writeUInt16BE(NAME_POINTER | HEADER_BYTES, off);
      buf.writeUInt16BE(RRType.NS, off + 2);
      buf.writeUInt16BE(CLASS_IN, off + 4);
      buf.writeUInt32BE(ttl, off + 6);
      buf.writeUInt16BE(ns.length, off + 10);
      ns.copy(buf, off + 12);
      off += 12 + ns.length;
    }
  }
  if (q.edns) writeOpt(buf, off, q.edns.dnssecOk);
  return buf;
}

/** RFC 8482 §4.2: an ANY query for a name with no address records gets one synthesized HINFO. */
function buildAnyHinfo(q: Query, ttl: number): Buffer {
  const cpu = Buffer.from('RFC8482');
  const rdlen = 1 + cpu.length + 1;
  const qLen = q.questionEnd - HEADER_BYTES;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + qLen + 12 + rdlen + (q.edns ? OPT_BYTES : 0));
  writeHeader(buf, q.id, responseFlags(q.raw.readUInt16BE(2), RCode.NOERROR, FLAG_AA), 1, 1, 0, q.edns ? 1 : 0);
  q.raw.copy(buf, HEADER_BYTES, HEADER_BYTES, q.questionEnd);
  let off = HEADER_BYTES + qLen;
  buf.writeUInt16BE(NAME_POINTER | HEADER_BYTES, off);
  buf.writeUInt16BE(RRType.HINFO, off + 2);
  buf.writeUInt16BE(CLASS_IN, off + 4);
  buf.writeUInt32BE(ttl, off + 6);
  buf.writeUInt16BE(rdlen, off + 10);
  off += 12;
  buf[off++] = cpu.length;
  cpu.copy(buf, off);
  off += cpu.length;
  buf[off++] = 0; // empty OS string
  if (q.edns) writeOpt(buf, off, q.edns.dnssecOk);
  return buf;
}

/** Offset of the question-name suffix that starts `labels` labels in (the query name has no pointers). */
function apexOffset(raw: Buffer, labels: number): number {
  let off = HEADER_BYTES;
  for (let i = 0; i < labels; i++) off += 1 + raw[off];
  return off;
}
