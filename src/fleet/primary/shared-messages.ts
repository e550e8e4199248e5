/**
 * The messages of one transfer answer, built only as far as a reader has asked and kept for every
 * later reader: the first AXFR of a serial builds the zone one message per turn as it is sent
 * (instead of all 10,000 names at once while every query waits), and the others reuse the buffers.
 * A build that fails fails for every reader, so no one is handed a zone cut short as if whole.
 */
export class SharedMessages implements Iterable<Buffer> {
  private readonly built: Buffer[] = [];
  private source: Iterator<Buffer> | undefined;
  private failure: unknown;

  /** `onBuilt`: called once when the last message has been built (a hub gives the build's garbage back then). */
  constructor(source: Iterable<Buffer>, private readonly onBuilt?: () => void) {
    this.source = source[Symbol.iterator]();
  }

  /** Messages built so far. */
  get builtCount(): number {
    return this.built.length;
  }

  /** The message at `index`, building up to it; undefined past the last. Throws if the build failed. */
  at(index: number): Buffer | undefined {
    while (this.built.length <= index && this.source !== undefined) {
      let next: IteratorResult<Buffer>;
      try {
        next = this.source.next();
      } catch (err) {
        this.failure = err;
        this.source = undefined;
        break;
      }
      if (next.done) {
        this.source = undefined;
        this.onBuilt?.();
      } else this.built.push(next.value);
    }
    if (index >= this.built.length && this.failure !== undefined) throw this.failure;
    return this.built[index];
  }

  *[Symbol.iterator](): Generator<Buffer> {
    for (let i = 0; ; i++) {
      const message = this.at(i);
      if (message === undefined) return;
      yield message;
    }
  }
}
