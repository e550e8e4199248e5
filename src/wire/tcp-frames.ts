/** DNS over TCP: each message behind a 2-byte length (RFC 1035 §4.2.2, RFC 7766). */
import { MAX_MESSAGE_BYTES } from './constants';

export function frameMessage(msg: Buffer): Buffer {
  if (msg.length > MAX_MESSAGE_BYTES) throw new RangeError(`message of ${msg.length} bytes cannot be framed`);
  const out = Buffer.allocUnsafe(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/**
 * Cuts a TCP byte stream into messages, whatever the reads: a message split over many chunks,
 * or many messages (and a part of the next) in one chunk.
 */
export class TcpFrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Bytes held that do not yet form a whole message. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Takes a chunk; returns the messages it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Join the chunks only once a whole message is there, so a big message in small reads stays linear.
    if (this.pendingBytes < 2) return [];
    if (this.pending[0].length < 2) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    if (this.pendingBytes < 2 + this.pending[0].readUInt16BE(0)) return [];
    const out: Buffer[] = [];
    let buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let off = 0;
    while (buf.length - off >= 2) {
      const len = buf.readUInt16BE(off);
      if (buf.length - off - 2 < len) break;
      out.push(Buffer.from(buf.subarray(off + 2, off + 2 + len)));
      off += 2 + len;
    }
    buf = buf.subarray(off);
    this.pending = buf.length === 0 ? [] : [buf];
    this.pendingBytes = buf.length;
    return out;
  }
}
