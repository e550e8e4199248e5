/** DNS over TCP: each message behind a 2-byte length (RFC 1035 §4.2.2, RFC 7766). */
import { MAX_MESSAGE_BYTES } from './constants';
import { copyBytes } from './response';
import type { ScratchBuffer } from './scratch-buffer';

export function frameMessage(msg: Buffer): Buffer {
  if (msg.length > MAX_MESSAGE_BYTES) throw new RangeError(`message of ${msg.length} bytes cannot be framed`);
  const out = Buffer.allocUnsafe(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/**
 * Cuts a TCP byte stream into messages, whatever the reads: a message split over many chunks,
 * or many messages (and a part of the next) in one chunk. The chunks are held as read (no joining:
 * a big message in small reads stays linear); a taken message is copied out of them. A reader
 * that takes messages one at a time (to pause between them) uses append and take (or takeInto, no
 * allocation); push does both.
 */
export class TcpFrameReader {
  private readonly pending: Buffer[] = [];
  /** Where the untaken bytes start in pending[0]. */
  private headOffset = 0;
  private pendingBytes = 0;

  /** Bytes held that are not yet taken (a partial message, or whole ones not taken yet). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** The length the message at the head announces; -1 while its 2-byte prefix is incomplete. */
  get nextLength(): number {
    if (this.pendingBytes < 2) return -1;
    const head = this.pending[0] as Buffer;
    const at = this.headOffset;
    return at + 2 <= head.length ? (head[at] << 8) | head[at + 1] : (head[at] << 8) | (this.pending[1] as Buffer)[0];
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
    const out = Buffer.allocUnsafe(this.nextLength);
    this.consume(out);
    return out;
  }

  /**
   * The message at the head copied into `into` (the view of its length, valid until `into` is used
   * again); undefined while it is incomplete. Nothing is allocated however the message was read.
   */
  takeInto(into: ScratchBuffer): Buffer | undefined {
    if (!this.hasMessage) return undefined;
    const out = into.view(this.nextLength);
    this.consume(out);
    return out;
  }

  /** Takes a chunk; returns the messages it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    for (let msg = this.take(); msg !== undefined; msg = this.take()) out.push(msg);
    return out;
  }

  /** Drops the head message's prefix and copies its body into `out` (exactly its length). */
  private consume(out: Buffer): void {
    this.skip(2);
    let filled = 0;
    while (filled < out.length) {
      const head = this.pending[0] as Buffer;
      const n = Math.min(out.length - filled, head.length - this.headOffset);
      copyBytes(head, this.headOffset, this.headOffset + n, out, filled);
      filled += n;
      this.skip(n);
    }
  }

  private skip(bytes: number): void {
    this.pendingBytes -= bytes;
    let left = bytes;
    while (left > 0) {
      const head = this.pending[0] as Buffer;
      const inHead = head.length - this.headOffset;
      if (left < inHead) {
        this.headOffset += left;
        return;
      }
      left -= inHead;
      this.pending.shift();
      this.headOffset = 0;
    }
  }
}
