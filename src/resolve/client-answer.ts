import { HEADER_BYTES } from '../dns/constants';
import type { Query } from '../dns/query';
import { OPT_BYTES, writeOpt } from '../dns/response';
import type { ResponseScan } from '../dns/message-scan';

/**
 * An upstream reply without its OPT record (OPT is per hop, RFC 6891 §6.1.1) and without any
 * bytes after the last record. The cache stores this form.
 */
export function stripOpt(reply: Buffer, scan: ResponseScan): Buffer {
  if (!scan.hasOpt) return scan.end === reply.length ? reply : reply.subarray(0, scan.end);
  const out = Buffer.allocUnsafe(scan.end - scan.optLength);
  reply.copy(out, 0, 0, scan.optOffset);
  reply.copy(out, scan.optOffset, scan.optOffset + scan.optLength, scan.end);
  out.writeUInt16BE(scan.arcount - 1, 10);
  return out;
}

/** Adds our own OPT when the client used EDNS (carrying an extended rcode if there is one). */
export function withClientOpt(bare: Buffer, q: Query, rcode = 0): Buffer {
  if (!q.edns) return bare;
  const out = Buffer.allocUnsafe(bare.length + OPT_BYTES);
  bare.copy(out, 0);
  writeOpt(out, bare.length, q.edns.dnssecOk, rcode);
  out.writeUInt16BE(bare.readUInt16BE(10) + 1, 10);
  return out;
}

/** Bytes [HEADER_BYTES, questionEnd) hold the question in both query and reply. */
export const QUESTION_START = HEADER_BYTES;
