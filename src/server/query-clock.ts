import { performance } from 'node:perf_hooks';
import { loadNativeAddon } from '../native/addon';

/** Receipt times are monotonic microseconds modulo 2^30: small integers, which V8 carries without allocating. */
export const MICROS_MASK = 0x3fffffff;

/**
 * The time on the per-query path without garbage. Date.now() and process.hrtime.bigint() each
 * allocate a number per call; here the native addon writes both clocks into shared memory
 * (udp_batch.c `clock`), the monotonic one as a small integer. `wallMs` is Date.now() as of the
 * last refresh, re-boxed only when the millisecond changes, so passing it on allocates nothing.
 * Without the addon the same values come from Date.now() and performance.now().
 */
export class QueryClock {
  private readonly memory = Buffer.allocUnsafeSlow(16);
  private readonly wall = new Float64Array(this.memory.buffer, this.memory.byteOffset, 1);
  private readonly mono = new Int32Array(this.memory.buffer, this.memory.byteOffset + 8, 1);
  private lastWall = 0.5;
  /**
   * Date.now() at the last refresh. Started as null so V8 keeps this field tagged (a reference
   * to an immutable number) rather than a double it would box again on every read.
   */
  wallMs: number = null as unknown as number;
  /** The monotonic clock at the last refresh, µs modulo 2^30. */
  micros = 0;

  constructor(private readonly read: ((stamps: Buffer) => void) | undefined) {
    this.refresh();
  }

  refresh(): void {
    if (this.read) this.read(this.memory);
    else {
      this.wall[0] = Date.now();
      this.mono[0] = Math.floor(performance.now() * 1000) & MICROS_MASK;
    }
    const wall = this.wall[0];
    if (wall !== this.lastWall) {
      this.lastWall = wall;
      this.wallMs = wall;
    }
    this.micros = this.mono[0];
  }

  /** Microseconds from `startMicros` (a `micros` value) to now. */
  elapsedMicros(startMicros: number): number {
    this.refresh();
    return (this.micros - startMicros) & MICROS_MASK;
  }
}

function nativeClock(): ((stamps: Buffer) => void) | undefined {
  const load = loadNativeAddon();
  if (!load.ok) return undefined;
  const { binding } = load;
  return typeof binding.clock === 'function' ? (stamps) => binding.clock(stamps) : undefined;
}

/** The daemon's one clock for the query path. */
export const queryClock = new QueryClock(nativeClock());
