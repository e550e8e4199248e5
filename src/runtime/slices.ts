/**
 * CPU work too long for one turn of the event loop (a zone at primaries.max_records becoming an
 * answer table takes seconds on a busy machine), cut into slices so queries are answered between
 * them. The work is a generator that reports each unit it did to a SliceBudget and yields when the
 * budget says the slice is spent; `runNow` runs it to the end at once, `Slicer.run` resumes it on
 * the next turn (setImmediate: pending sockets are read first). One definition of each algorithm
 * serves both, so the sliced path cannot drift from the synchronous one.
 */

/** Work that yields (nothing) at slice boundaries and returns T. */
export type Sliced<T> = Generator<void, T, void>;

export interface SliceLimits {
  /** A slice ends after this many units (records, table inputs, addresses). */
  readonly maxUnits: number;
  /** ...or once this long has passed since it started, whichever comes first. */
  readonly maxMs: number;
}

/** About 1-3 ms of work per slice on an idle machine; the time limit keeps slices short on a loaded one. */
export const DEFAULT_SLICE_LIMITS: SliceLimits = Object.freeze({ maxUnits: 2000, maxMs: 3 });

/** Units between two reads of the clock (reading it is cheap, not free). */
const UNITS_PER_CLOCK_READ = 64;

export class SliceBudget {
  private spent = 0;
  private nextClockRead = UNITS_PER_CLOCK_READ;
  private startedMs = 0;

  /** Without limits, the budget never runs out (runNow). */
  constructor(private readonly limits: SliceLimits | undefined) {}

  /** Units done in the current slice. */
  get units(): number {
    return this.spent;
  }

  /** Starts a new slice. */
  reset(): void {
    this.spent = 0;
    this.nextClockRead = UNITS_PER_CLOCK_READ;
    this.startedMs = performance.now();
  }

  /** Counts `units` of work done; true when the slice is spent and the work should yield now. */
  spend(units = 1): boolean {
    const limits = this.limits;
    if (limits === undefined) return false;
    this.spent += units;
    if (this.spent >= limits.maxUnits) return true;
    if (this.spent < this.nextClockRead) return false;
    this.nextClockRead = this.spent + UNITS_PER_CLOCK_READ;
    return performance.now() - this.startedMs >= limits.maxMs;
  }
}

const UNLIMITED = new SliceBudget(undefined);

/** A budget that never runs out: for the synchronous wrappers of sliced work. */
export function unlimitedBudget(): SliceBudget {
  return UNLIMITED;
}

/** Runs sliced work to its end in this turn. */
export function runNow<T>(work: Sliced<T>): T {
  for (;;) {
    const step = work.next();
    if (step.done) return step.value;
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs sliced work, one slice per turn of the event loop. */
export class Slicer {
  /** `onSlice`: the units of each slice as it ends (tests check the bound). */
  constructor(
    readonly limits: SliceLimits = DEFAULT_SLICE_LIMITS,
    private readonly onSlice?: (units: number) => void,
  ) {}

  /**
   * The first slice runs before this returns, so work that fits in one slice is complete (and its
   * effects visible) by then; the promise settles with the result after the last slice.
   */
  async run<T>(make: (budget: SliceBudget) => Sliced<T>): Promise<T> {
    const budget = new SliceBudget(this.limits);
    budget.reset();
    const work = make(budget);
    for (;;) {
      const step = work.next();
      this.onSlice?.(budget.units);
      if (step.done) return step.value;
      await nextTurn();
      budget.reset();
    }
  }
}

/** The default slicer (no observer: it holds no state). */
export const DEFAULT_SLICER = new Slicer();

/**
 * `items` sorted by `compare`, exactly as a stable Array.prototype.sort would (ties keep their
 * order): a natural merge sort, so input already in order (a hub sends its zone sorted) costs one
 * pass and input nearly in order (an IXFR's additions after the held records) a few. Every
 * comparison while finding runs and every element moved while merging is a unit.
 */
export function* sortInSlices<T>(items: readonly T[], compare: (a: T, b: T) => number, budget: SliceBudget): Sliced<T[]> {
  const n = items.length;
  // Where each run of non-descending items starts, and n at the end.
  let bounds: number[] = [0];
  for (let i = 1; i < n; i++) {
    if (compare(items[i - 1] as T, items[i] as T) > 0) bounds.push(i);
    if (budget.spend()) yield;
  }
  bounds.push(n);
  let from: T[] = [...items];
  if (bounds.length <= 2) return from;
  let to: T[] = new Array<T>(n);
  // Merges neighbouring runs pairwise until one is left: neighbours only, the left one first on a tie, so the sort is stable.
  while (bounds.length > 2) {
    const next: number[] = [0];
    for (let r = 0; r + 1 < bounds.length; r += 2) {
      const lo = bounds[r] as number;
      const mid = bounds[r + 1] as number;
      const hi = r + 2 < bounds.length ? (bounds[r + 2] as number) : mid;
      let i = lo;
      let j = mid;
      for (let k = lo; k < hi; k++) {
        if (i < mid && (j >= hi || compare(from[i] as T, from[j] as T) <= 0)) to[k] = from[i++] as T;
        else to[k] = from[j++] as T;
        if (budget.spend()) yield;
      }
      next.push(hi);
    }
    if (next[next.length - 1] !== n) next.push(n);
    bounds = next;
    [from, to] = [to, from];
  }
  return from;
}
