/**
 * What the probes say about one IP. Unknown (not probed yet) counts as reachable: an IP leaves the
 * answers only after `failAfter` failures in a row and comes back after `passAfter` successes.
 */
export type IpState = 'unknown' | 'up' | 'down';

export class IpHealth {
  state: IpState = 'unknown';
  private passes = 0;
  private fails = 0;
  lastResult: string | undefined;
  /** Whether the last probe passed; undefined before the first. */
  lastOk: boolean | undefined;
  lastProbeMs: number | undefined;
  sinceMs: number;

  constructor(private readonly failAfter: number, private readonly passAfter: number, nowMs: number) {
    this.sinceMs = nowMs;
  }

  /** Records one result; returns the new state when it changed. */
  record(ok: boolean, result: string, nowMs: number): IpState | undefined {
    this.lastResult = result;
    this.lastOk = ok;
    this.lastProbeMs = nowMs;
    if (ok) {
      this.fails = 0;
      this.passes++;
      const next = this.state === 'down' ? (this.passes >= this.passAfter ? 'up' : 'down') : 'up';
      return this.move(next, nowMs);
    }
    this.passes = 0;
    this.fails++;
    return this.fails >= this.failAfter ? this.move('down', nowMs) : undefined;
  }

  private move(next: IpState, nowMs: number): IpState | undefined {
    if (next === this.state) return undefined;
    this.state = next;
    this.sinceMs = nowMs;
    return next;
  }
}
