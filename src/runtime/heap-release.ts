import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives the heap a large build left behind back to the kernel, soon after the build.
 *
 * V8 keeps the old-generation pages a burst of allocation grew into until a full collection finds
 * them empty, and its memory reducer (which does that when the process goes quiet) is only armed
 * by a full collection it ran itself. A hub that builds and publishes a 10,000-name zone at start
 * or on a change grows its heap to 80-140 MB for ~35 MB of live data, and without a full
 * collection afterwards stayed there. `soon()` runs one full collection with compaction `delayMs`
 * after the last call, at most one pending at a time: compaction moves the survivors out of the
 * pages the burst left mostly empty and hands those pages back at once (without it, most stay:
 * old space 85 MB for 52 MB live in the test, 52.5 MB with it; a second plain collection did not
 * make up for it). It is a pause of the daemon, ~50 ms of CPU at 10,000 names (~22 MB live),
 * paid once per published change or transfer answer built, never per query.
 */
export class HeapRelease {
  private timer: NodeJS.Timeout | undefined;
  private releasesDone = 0;

  constructor(private readonly collect: () => void = fullCollection(), private readonly delayMs = 1000) {}

  /** Releases done so far (tests, /status). */
  get releases(): number {
    return this.releasesDone;
  }

  soon(): void {
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => this.release(), this.delayMs);
      this.timer.unref();
    }
  }

  release(): void {
    this.stop();
    // Compaction moves the survivors out of pages the build left mostly empty; V8's own heuristics
    // leave most of them in place, and a page with one live object stays in RSS.
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      this.collect();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
    this.releasesDone++;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

let gcFunction: (() => void) | undefined;

/**
 * A full, synchronous collection. V8 offers it to scripts only as `gc`, exposed by a flag: the flag
 * is set for one fresh context to take the function from, and cleared again so no other context
 * gets it.
 */
export function fullCollection(): () => void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    try {
      gcFunction = runInNewContext('gc') as () => void;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  return gcFunction;
}
