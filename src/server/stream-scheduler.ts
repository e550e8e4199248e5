/**
 * Runs the steps of many multi-message streams (zone transfers) in turn, in slices of at most
 * `sliceMs`, and yields to the event loop between slices, so a hundred transfers that start at
 * once cannot hold off the queries that arrive meanwhile. A step writes one message; it returns
 * true to be run again, false when its stream is finished or waits (it re-enters with `add`); it
 * handles its own errors.
 */
export type StreamStep = () => boolean;

export class StreamScheduler {
  private readonly ready: StreamStep[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly sliceMs = 4, private readonly now: () => number = () => performance.now()) {}

  /** Queues `step` to run in a later slice (never synchronously). */
  add(step: StreamStep): void {
    this.ready.push(step);
    this.schedule();
  }

  /** Steps waiting for their turn. */
  get waiting(): number {
    return this.ready.length - this.head;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const until = this.now() + this.sliceMs;
    // Round robin: a step that wants more goes to the back of the line.
    while (this.head < this.ready.length) {
      const step = this.ready[this.head++] as StreamStep;
      let again = false;
      try {
        again = step();
      } catch {
        // Steps handle their own failures; one that throws anyway is dropped, not the process.
      }
      if (again) this.ready.push(step);
      if (this.now() >= until) break;
    }
    if (this.head === this.ready.length) {
      this.ready.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.ready.splice(0, this.head);
      this.head = 0;
    }
    if (this.waiting > 0) this.schedule();
  }
}
