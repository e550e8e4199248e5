/**
 * Everything one simulator instance remembers: its data (replaced whole), injected faults,
 * call counters and recently used signature nonces. One instance per server, no module state.
 */
import { FaultList } from './faults';
import { MAX_CLOCK_SKEW_MS } from './signature';
import type { SimulatorData } from './types';

/** Bound on remembered nonces so a flood of requests cannot grow memory without limit. */
const MAX_NONCES = 100_000;

export class SimulatorStore {
  readonly faults = new FaultList();
  private data: SimulatorData;
  private readonly calls = new Map<string, number>();
  private total = 0;
  private readonly nonces = new Map<string, number>();

  constructor(data: SimulatorData) {
    this.data = data;
  }

  getData(): SimulatorData {
    return this.data;
  }

  /** `data` must already be validated (validateSimulatorData). */
  setData(data: SimulatorData): void {
    this.data = data;
  }

  countCall(action: string): void {
    this.calls.set(action, (this.calls.get(action) ?? 0) + 1);
    this.total += 1;
  }

  /** `{"total": n, "<Action>": n, ...}` */
  callCounts(): Record<string, number> {
    return { total: this.total, ...Object.fromEntries(this.calls) };
  }

  resetCalls(): void {
    this.calls.clear();
    this.total = 0;
  }

  /** False when `nonce` was used within the replay window (the allowed clock skew). */
  useNonce(nonce: string, nowMs: number): boolean {
    const expiry = this.nonces.get(nonce);
    if (expiry !== undefined && expiry > nowMs) return false;
    if (this.nonces.size >= MAX_NONCES) {
      for (const [key, exp] of this.nonces) if (exp <= nowMs) this.nonces.delete(key);
      // Still full of live nonces: drop the oldest (Map keeps insertion order).
      while (this.nonces.size >= MAX_NONCES) this.nonces.delete(this.nonces.keys().next().value as string);
    }
    this.nonces.set(nonce, nowMs + MAX_CLOCK_SKEW_MS);
    return true;
  }
}
