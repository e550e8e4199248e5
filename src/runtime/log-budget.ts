import type { Logger } from './log';

/** Lines per window, and the window: a trickle an operator can read, not one line per packet. */
export const LOG_BUDGET_LINES = 10;
export const LOG_BUDGET_WINDOW_MS = 60_000;

export type BudgetLevel = 'warn' | 'info';

/**
 * A log line a remote party can trigger at will (a rejected zone request, a NOTIFY from a
 * stranger): at most `lines` per `windowMs` for each message, the rest dropped and counted. The
 * next line written after a window that dropped some carries `suppressed: N`, so the log still
 * says how much was left out; the requests themselves are counted by their metrics regardless.
 */
export class LogBudget {
  private readonly windows = new Map<string, { startMs: number; written: number; suppressed: number }>();
  private suppressedTotal = 0;

  constructor(
    private readonly logger: Logger,
    /** Told of each line dropped (a metric counts them). */
    private readonly onSuppressed: () => void = () => {},
    private readonly lines = LOG_BUDGET_LINES,
    private readonly windowMs = LOG_BUDGET_WINDOW_MS,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Lines dropped so far, over every message. */
  get suppressed(): number {
    return this.suppressedTotal;
  }

  /** Writes the line when this message still has room in its window; whether it was written. */
  write(level: BudgetLevel, fields: Record<string, unknown>, msg: string): boolean {
    const now = this.nowMs();
    let w = this.windows.get(msg);
    if (w === undefined) {
      // One entry per distinct message text: the call sites pass constants, so this stays tiny.
      w = { startMs: now, written: 0, suppressed: 0 };
      this.windows.set(msg, w);
    } else if (now - w.startMs >= this.windowMs) {
      w.startMs = now;
      w.written = 0;
    }
    if (w.written >= this.lines) {
      w.suppressed++;
      this.suppressedTotal++;
      this.onSuppressed();
      return false;
    }
    w.written++;
    const extra = w.suppressed > 0 ? { suppressed: w.suppressed } : {};
    w.suppressed = 0;
    this.logger[level]({ ...fields, ...extra }, msg);
    return true;
  }
}
