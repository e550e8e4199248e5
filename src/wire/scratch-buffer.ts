import { MAX_MESSAGE_BYTES } from './constants';

/**
 * One reusable buffer for bytes that live only until the next query: `view(n)` is an n-byte
 * Buffer over its start, the same object for the same n every time, so filling it costs no
 * allocation. Views are made on first use of a length (messages come in few lengths). Used for
 * answers the transport copies out before the next query, and for received datagrams.
 */
export class ScratchBuffer {
  private readonly memory: Buffer;
  private readonly views: (Buffer | undefined)[] = [];

  constructor(bytes = MAX_MESSAGE_BYTES) {
    // Own memory, not Node's pool; untouched pages cost no RSS.
    this.memory = Buffer.allocUnsafeSlow(bytes);
  }

  view(length: number): Buffer {
    let v = this.views[length];
    if (v === undefined) {
      v = this.memory.subarray(0, length);
      this.views[length] = v;
    }
    return v;
  }
}
