/**
 * Byte blobs in fixed-size slots of large shared buffers, for the answer cache: a stored answer
 * costs the garbage collector nothing beyond the number that names its slot. Each cached answer
 * used to be its own Buffer (a typed array, an ArrayBuffer and a malloc'd backing store) plus a
 * typed array of TTL offsets; under a flood of unique names every one of them was promoted to
 * the old generation and evicted soon after, and the collections that followed cost more CPU
 * per forwarded query than the forwarding did (bench, case c).
 *
 * Slots come in size classes of 64 bytes to 4 KiB (powers of two), carved from 64 KiB chunks
 * allocated as needed and kept: the cache above is bounded in entries and bytes, so the chunks
 * are too, at most twice the bytes stored (a blob takes the smallest class it fits in).
 */
const MIN_SHIFT = 6;
const MAX_SHIFT = 12;
const CHUNK_BYTES = 64 * 1024;
/** A handle is slot * CLASS_COUNT + class; slots of one class are numbered across its chunks. */
const CLASS_COUNT = MAX_SHIFT - MIN_SHIFT + 1;

/** The largest blob a slot holds. */
export const SLAB_MAX_BYTES = 1 << MAX_SHIFT;

class SizeClass {
  readonly chunks: Buffer[] = [];
  readonly free: number[] = [];
  readonly slotsPerChunk: number;

  constructor(readonly slotBytes: number) {
    this.slotsPerChunk = CHUNK_BYTES / slotBytes;
  }

  take(): number {
    if (this.free.length === 0) {
      const first = this.chunks.length * this.slotsPerChunk;
      // Own memory, never from Node's shared pool (which would tie it to unrelated buffers).
      this.chunks.push(Buffer.allocUnsafeSlow(CHUNK_BYTES));
      for (let s = first + this.slotsPerChunk - 1; s >= first; s--) this.free.push(s);
    }
    return this.free.pop() as number;
  }
}

export class SlabStore {
  private readonly classes: SizeClass[] = [];

  constructor() {
    for (let shift = MIN_SHIFT; shift <= MAX_SHIFT; shift++) this.classes.push(new SizeClass(1 << shift));
  }

  /** A slot of at least `bytes` (≤ SLAB_MAX_BYTES), uninitialised; write it through bufferOf/offsetOf. */
  allocate(bytes: number): number {
    if (bytes > SLAB_MAX_BYTES || bytes < 0) throw new RangeError(`slab: ${bytes} bytes do not fit a slot`);
    let k = 0;
    while (this.classes[k].slotBytes < bytes) k++;
    return this.classes[k].take() * CLASS_COUNT + k;
  }

  free(handle: number): void {
    this.classes[handle % CLASS_COUNT].free.push(Math.floor(handle / CLASS_COUNT));
  }

  /** The chunk holding the slot. */
  bufferOf(handle: number): Buffer {
    const c = this.classes[handle % CLASS_COUNT];
    return c.chunks[Math.floor(Math.floor(handle / CLASS_COUNT) / c.slotsPerChunk)];
  }

  /** Where the slot starts in its chunk. */
  offsetOf(handle: number): number {
    const c = this.classes[handle % CLASS_COUNT];
    return (Math.floor(handle / CLASS_COUNT) % c.slotsPerChunk) * c.slotBytes;
  }

  /** Bytes of chunks allocated (for tests and sizing). */
  get reservedBytes(): number {
    let n = 0;
    for (const c of this.classes) n += c.chunks.length * CHUNK_BYTES;
    return n;
  }
}
