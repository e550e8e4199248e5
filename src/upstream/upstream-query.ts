import { FLAG_CD, FLAG_QR, FLAG_RD, HEADER_BYTES, OPCODE_MASK } from '../wire/constants';
import type { Query } from '../wire/query';
import { OPT_BYTES, writeHeader, writeOpt } from '../wire/response';

/** The query we send upstream: fresh ID, the client's RD/CD and question, our own OPT (per hop). */
export function buildUpstreamQuery(q: Query, id: number): Buffer {
  const qLen = q.questionEnd - HEADER_BYTES;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + qLen + OPT_BYTES);
  writeHeader(buf, id, q.raw.readUInt16BE(2) & (FLAG_RD | FLAG_CD), 1, 0, 0, 1);
  q.raw.copy(buf, HEADER_BYTES, HEADER_BYTES, q.questionEnd);
  writeOpt(buf, HEADER_BYTES + qLen, q.edns?.dnssecOk ?? false);
  return buf;
}

/**
 * RFC 5452 acceptance: a response (QR=1, opcode QUERY) with our ID and exactly our question,
 * compared case-insensitively. Address and port are checked by the transport. The reply is
 * `length` bytes of `buf` from `start` (the whole buffer by default), so a reply can be checked
 * where it arrived, before it is copied.
 */
export function matchesQuery(buf: Buffer, sent: Buffer, questionEnd: number, start = 0, length = buf.length - start): boolean {
  if (length < questionEnd) return false;
  if (buf[start] !== sent[0] || buf[start + 1] !== sent[1]) return false;
  const flags = (buf[start + 2] << 8) | buf[start + 3];
  if ((flags & FLAG_QR) === 0 || (flags & OPCODE_MASK) !== 0) return false;
  if (buf[start + 4] !== 0 || buf[start + 5] !== 1) return false;
  for (let i = HEADER_BYTES; i < questionEnd; i++) {
    let a = buf[start + i];
    let b = sent[i];
    if (a >= 65 && a <= 90) a += 32;
    if (b >= 65 && b <= 90) b += 32;
    if (a !== b) return false;
  }
  return true;
}
