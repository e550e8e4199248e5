import type http from 'node:http';

/** Where Node 18–22 keep the connectionsCheckingInterval timer of an http.Server. */
const TIMER_SYMBOL = 'http.server.connectionsCheckingInterval';

/**
 * Node's http.Server enforces `headersTimeout` and `requestTimeout` with a timer that checks
 * every open connection each `connectionsCheckingInterval`, from listen to close, connections or
 * not: four wakeups a second of an idle daemon at our 250 ms. This takes the check Node armed
 * and runs it only while a connection is open. Node keeps the timer under a symbol, not an API:
 * when it is not found (another Node), `take` returns undefined and Node's own timer stays.
 */
export class ConnectionCheck {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: http.Server,
    private readonly key: symbol,
    private readonly check: () => void,
    private readonly intervalMs: number,
  ) {}

  /** Call in the 'listening' callback (Node arms its timer on 'listening'). */
  static take(server: http.Server, intervalMs: number): ConnectionCheck | undefined {
    const key = Object.getOwnPropertySymbols(server).find((s) => s.description === TIMER_SYMBOL);
    const nodeTimer = key === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[key];
    const check = (nodeTimer as { _onTimeout?: unknown } | undefined)?._onTimeout;
    if (key === undefined || typeof check !== 'function') return undefined;
    clearInterval(nodeTimer as NodeJS.Timeout);
    return new ConnectionCheck(server, key, check as () => void, intervalMs);
  }

  /** Whether the check is armed (only while connections are open). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Arms the check while `open` connections exist; disarms it at none. */
  connections(open: number): void {
    if (open > 0 && this.timer === undefined) {
      this.timer = setInterval(this.check, this.intervalMs);
      this.timer.unref();
      // server.close() clears whatever is under Node's key: let it be ours.
      (this.server as unknown as Record<symbol, unknown>)[this.key] = this.timer;
    } else if (open === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
