import type { Query } from '../dns/query';
import { OPT_BYTES, writeOpt } from '../dns/response';

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
 * Finishes a cached answer that was copied with OPT_BYTES of room at the end (cache `tailBytes`):
 * our OPT goes in the room when the client used EDNS, else the room is cut off.
 */
export function fillOptTail(withRoom: Buffer, q: Query): Buffer {
  const bareLength = withRoom.length - OPT_BYTES;
  if (!q.edns) return withRoom.subarray(0, bareLength);
  writeOpt(withRoom, bareLength, q.edns.dnssecOk);
  const ar = ((withRoom[10] << 8) | withRoom[11]) + 1;
  withRoom[10] = ar >>> 8;
  withRoom[11] = ar & 0xff;
  return withRoom;
}
