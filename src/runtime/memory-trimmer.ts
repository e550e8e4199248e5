/**
 * Hands freed heap memory back to the kernel after the process grew: a flood of forwarded cache
 * misses leaves ~12 MB of freed memory in glibc's arenas (V8's helper threads allocate there
 * while they collect), which stays in RSS until malloc_trim. Every interval, when RSS is `growth`
 * above what it was after the last trim and the daemon is not in the middle of a flood (a trim
 * walks every arena under its lock: a few ms), it trims once. A steady load trims once or twice
 * and then never again; an idle daemon costs one RSS read per interval.
 */
export interface MemoryTrimmerOptions {
  /** malloc_trim(0) (the addon). */
  readonly trim: () => void;
  /** True while a trim would get in the way (many forwards in flight). */
  readonly busy: () => boolean;
  readonly rss?: () => number;
  readonly intervalMs?: number;
  readonly growthBytes?: number;
}

const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_GROWTH_BYTES = 4 * 1024 * 1024;

export class MemoryTrimmer {
  private baseline: number;
  private readonly timer: NodeJS.Timeout;
  private readonly rss: () => number;
  private readonly growthBytes: number;
  private trimsDone = 0;

  constructor(private readonly options: MemoryTrimmerOptions) {
    this.rss = options.rss ?? (() => process.memoryUsage.rss());
    this.growthBytes = options.growthBytes ?? DEFAULT_GROWTH_BYTES;
    // Start from zero: the first quiet tick trims what start-up freed.
    this.baseline = 0;
    this.timer = setInterval(() => this.tick(), options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
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
    clearInterval(this.timer);
  }
}
