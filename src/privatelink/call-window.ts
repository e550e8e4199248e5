/**
 * API calls counted over the last minute, by action: what /status shows next to the quota (which
 * Alibaba Cloud counts per 60 s). One bucket per second, so memory is fixed whatever the rate.
 */
const WINDOW_S = 60;

export class CallWindow {
  private readonly seconds = new Array<number>(WINDOW_S).fill(-1);
  private readonly counts: Map<string, number>[] = Array.from({ length: WINDOW_S }, () => new Map());

  record(action: string, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % WINDOW_S;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot]?.clear();
    }
    const bucket = this.counts[slot] as Map<string, number>;
    bucket.set(action, (bucket.get(action) ?? 0) + 1);
  }

  /** `{ total, <Action>: n }` over the 60 s up to `nowMs`. */
  lastMinute(nowMs: number): Record<string, number> {
    const now = Math.floor(nowMs / 1000);
    const out: Record<string, number> = { total: 0 };
    for (let slot = 0; slot < WINDOW_S; slot++) {
      const second = this.seconds[slot] as number;
      if (second < 0 || now - second >= WINDOW_S || second > now) continue;
      for (const [action, n] of this.counts[slot] as Map<string, number>) {
        out[action] = (out[action] ?? 0) + n;
        out.total = (out.total ?? 0) + n;
      }
    }
    return out;
  }
}
