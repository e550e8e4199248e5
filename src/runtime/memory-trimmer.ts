/**
 * Hands freed heap memory back to the kernel after the process grew: a flood of forwarded cache
 * misses leaves ~12 MB of freed memory in glibc's arenas (V8's helper threads allocate there
 * while they collect), which stays in RSS until malloc_trim. A check runs `delay` after a
 * garbage collection (`gcSeen`; later collections within the delay ride on the same check): when
 * RSS is `growth` above what it was after the last trim and the daemon is not in the middle of a
 * flood (a trim walks every arena under its lock: a few ms), it trims once. Memory is freed by
 * collections, so where none ran there is nothing to give back: a steady load checks every
 * `delay` and trims once or twice, and an idle daemon (no collections) is never woken by it.
 */
export interface MemoryTrimmerOptions {
  /** malloc_trim(0) (the addon). */
  readonly trim: () => void;
  /** True while a trim would get in the way (many forwards in flight). */
  readonly busy: () => boolean;
  readonly rss?: () => number;
  /** From a collection to the check (default 10 s: V8's memory reducer collects within it after a flood). */
  readonly delayMs?: number;
  readonly growthBytes?: number;
}

const DEFAULT_DELAY_MS = 10_000;
const DEFAULT_GROWTH_BYTES = 4 * 1024 * 1024;

export class MemoryTrimmer {
  private baseline: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly delayMs: number;
  private readonly rss: () => number;
  private readonly growthBytes: number;
  private trimsDone = 0;

  constructor(private readonly options: MemoryTrimmerOptions) {
    this.rss = options.rss ?? (() => process.memoryUsage.rss());
    this.growthBytes = options.growthBytes ?? DEFAULT_GROWTH_BYTES;
    this.delayMs = options.delayMs ?? DEFAULT_DELAY_MS;
    // Start from zero: the first quiet check trims what start-up freed.
    this.baseline = 0;
  }

  /** A garbage collection ran: check `delay` from now, unless a check is already due. */
  gcSeen(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Whether a check is due (tests). */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** Trims done so far (for tests and /status). */
  get trims(): number {
    return this.trimsDone;
  }

  tick(): void {
    if (this.options.busy()) return;
    if (this.rss() < this.baseline + this.growthBytes) return;
    this.options.trim();
    this.trimsDone++;
    this.baseline = this.rss();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
