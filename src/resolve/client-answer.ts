import type { Query } from '../wire/query';
import { OPT_BYTES, writeOpt } from '../wire/response';

/** The room a cached copy needs for our OPT: OPT_BYTES when the client used EDNS, else none. */
export function optTailBytes(q: Query): number {
  return q.edns ? OPT_BYTES : 0;
}
import { HEADER_BYTES } from '../wire/constants';
import { readTtl, type ResponseScan } from '../wire/message-scan';
import { copyWithoutOpt, stripOpt } from '../wire/strip-opt';

/** Adds our own OPT when the client used EDNS (carrying an extended rcode if there is one). */
export function withClientOpt(bare: Buffer, q: Query, rcode = 0): Buffer {
  if (!q.edns) return bare;
  const out = Buffer.allocUnsafe(bare.length + OPT_BYTES);
  bare.copy(out, 0);
  writeOpt(out, bare.length, q.edns.dnssecOk, rcode);
  out.writeUInt16BE(bare.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * An upstream message for the client in one copy: without the upstream's OPT (copyWithoutOpt),
 * with ours when the client used EDNS (the same result as withClientOpt(stripOpt(...)), which
 * copies twice when both OPTs are there).
 */
export function relayWithClientOpt(message: Buffer, scan: ResponseScan, q: Query, rcode = 0): Buffer {
  if (!q.edns) return stripOpt(message, scan);
  const bareLength = scan.end - scan.optLength;
  const out = copyWithoutOpt(message, scan, Buffer.allocUnsafe(bareLength + OPT_BYTES));
  writeOpt(out, bareLength, q.edns.dnssecOk, rcode);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Finishes a cached answer that was copied with OPT_BYTES of room at the end (cache `tailBytes`):
 * our OPT goes in the room when the client used EDNS, else the room is cut off. (The per-query
 * path asks for the room only when the client used EDNS: see addOptTail.)
 */
export function fillOptTail(withRoom: Buffer, q: Query): Buffer {
  const bareLength = withRoom.length - OPT_BYTES;
  if (!q.edns) return withRoom.subarray(0, bareLength);
  return addOptTail(withRoom, q);
}

/** fillOptTail for a copy made with room only when the client used EDNS (`optTailBytes(q)`): no view to cut. */
export function addOptTail(withRoom: Buffer, q: Query): Buffer {
  if (!q.edns) return withRoom;
  const bareLength = withRoom.length - OPT_BYTES;
  writeOpt(withRoom, bareLength, q.edns.dnssecOk);
  const ar = ((withRoom[10] << 8) | withRoom[11]) + 1;
  withRoom[10] = ar >>> 8;
  withRoom[11] = ar & 0xff;
  return withRoom;
}

/**
 * Writes the client's own question (its letter case, RFC 5452 §9.1 / 0x20) over the question of
 * an answer that was asked for, or cached from, another client's query with the same name, type and
 * class: same length by construction. Returns `answer`, changed in place.
 */
export function echoQuestion(answer: Buffer, q: Query): Buffer {
  const end = q.questionEnd;
  if (answer.length < end) return answer;
  const raw = q.raw;
  for (let i = HEADER_BYTES; i < end; i++) answer[i] = raw[i];
  return answer;
}

/**
 * Caps every TTL of an upstream message in place before it is relayed (the cache caps its own copy
 * too): RFC 2181 §8 values with the top bit set become 0, the rest at most `maxTtlS`.
 */
export function capTtls(message: Buffer, ttlOffsets: readonly number[], maxTtlS: number): void {
  for (const at of ttlOffsets) {
    const ttl = readTtl(message, at);
    if (ttl > maxTtlS || message[at] >= 0x80) message.writeUInt32BE(Math.min(ttl, maxTtlS), at);
  }
}
