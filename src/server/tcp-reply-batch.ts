import { copyBytes } from '../wire/response';
import { frameMessage } from '../wire/tcp-frames';

/** Where a batch of framed answers goes: one connection, which writes them with one write(). */
export interface ReplyTarget {
  writeFrames(frames: Buffer): void;
}

/** Room for many answers; a message too big for what is left goes after a flush (or alone, when bigger than all of it). */
const BATCH_BYTES = 64 * 1024;

/**
 * Answers to one TCP connection's queries, framed back to back, written with one write() when
 * the queries of a read are served (RFC 7766 §6.2.1.1 lets a server send several responses in one
 * segment): a write per answer costs a syscall, a write request and a timer refresh each. One
 * batch serves every connection of a listener in turn: answers to another connection first write
 * out those held for the previous one, so each connection's answers keep their order. `add`
 * copies the answer, so it may sit in a reused buffer.
 */
export class TcpReplyBatch {
  /** Own memory, not Node's pool; pages never written cost no RSS. */
  private readonly memory = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private length = 0;
  private owner: ReplyTarget | undefined;
  private deferred = false;
  private readonly flushDeferred = (): void => {
    this.deferred = false;
    this.flush();
  };

  add(target: ReplyTarget, bytes: Buffer): void {
    if (this.owner !== target) this.flush();
    const size = 2 + bytes.length;
    if (size > BATCH_BYTES - this.length) {
      this.flush();
      if (size > BATCH_BYTES) {
        target.writeFrames(frameMessage(bytes));
        return;
      }
    }
    const memory = this.memory;
    memory[this.length] = bytes.length >>> 8;
    memory[this.length + 1] = bytes.length & 0xff;
    copyBytes(bytes, 0, bytes.length, memory, this.length + 2);
    this.length += size;
    this.owner = target;
  }

  /** An answer that came later (a forwarded query): written once the current microtasks ran, with any others that came with it. */
  addLater(target: ReplyTarget, bytes: Buffer): void {
    this.add(target, bytes);
    if (!this.deferred) {
      this.deferred = true;
      queueMicrotask(this.flushDeferred);
    }
  }

  /** Writes what is held, if anything. */
  flush(): void {
    const owner = this.owner;
    const length = this.length;
    this.owner = undefined;
    this.length = 0;
    if (owner === undefined || length === 0) return;
    // The write may be queued behind unsent bytes: it gets its own copy, the batch memory is reused.
    const frames = Buffer.allocUnsafe(length);
    copyBytes(this.memory, 0, length, frames, 0);
    owner.writeFrames(frames);
  }

  /** Whether answers for `target` are held (its next direct write must flush first). */
  holds(target: ReplyTarget): boolean {
    return this.owner === target && this.length > 0;
  }
}
