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
 * or many messages (and a part of the next) in one chunk. Chunks are joined only once a whole
 * message is there, so a big message in small reads stays linear. A reader that takes messages
 * one at a time (to pause between them) uses append and take; push does both.
 */
export class TcpFrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Bytes held that are not yet taken (a partial message, or whole ones not taken yet). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** The length the message at the head announces; -1 while its 2-byte prefix is incomplete. */
  get nextLength(): number {
    if (this.pendingBytes < 2) return -1;
    const head = this.pending[0];
    return head.length >= 2 ? head.readUInt16BE(0) : (head[0] << 8) | (this.pending[1] as Buffer)[0];
  }

  /** A whole message is buffered and can be taken. */
  get hasMessage(): boolean {
    const len = this.nextLength;
    return len >= 0 && this.pendingBytes >= 2 + len;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** The message at the head, as its own copy; undefined while it is incomplete. */
  take(): Buffer | undefined {
    if (!this.hasMessage) return undefined;
    const total = 2 + this.nextLength;
    if (this.pending[0].length < total) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    const head = this.pending[0];
    const msg = Buffer.from(head.subarray(2, total));
    if (head.length === total) this.pending.shift();
    else this.pending[0] = head.subarray(total);
    this.pendingBytes -= total;
    return msg;
  }

  /** Takes a chunk; returns the messages it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    for (let msg = this.take(); msg !== undefined; msg = this.take()) out.push(msg);
    return out;
  }
}
