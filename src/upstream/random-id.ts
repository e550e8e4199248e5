import { randomFillSync } from 'node:crypto';

/**
 * 16-bit query IDs from the CSPRNG (RFC 5452), drawn from a refilled pool so a forwarded query
 * does not pay for a syscall.
 */
export class RandomIds {
  private readonly pool = Buffer.allocUnsafe(4096);
  private offset = this.pool.length;

  next(): number {
    if (this.offset >= this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const id = this.pool.readUInt16BE(this.offset);
    this.offset += 2;
    return id;
  }
}
