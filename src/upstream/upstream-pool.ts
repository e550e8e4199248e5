import { formatHostPort, type HostPort } from '../config/units';
import type { UpstreamPolicy } from '../config/schema';

export interface UpstreamServer {
  readonly address: HostPort;
  readonly label: string;
  consecutiveFailures: number;
  healthy: boolean;
  lastRttMs: number | undefined;
  lastError: string | undefined;
  lastChangeMs: number;
}

/**
 * The upstream list with health: `maxFails` consecutive failures mark a server down (a prober
 * brings it back); selection returns healthy servers in policy order, or — when every server
 * is down — all of them, so a whole-network blip heals itself on the next query.
 */
export class UpstreamPool {
  readonly servers: UpstreamServer[];
  private rr = 0;
  /** What order() returns while every server is healthy and the order is fixed (read-only for callers). */
  private readonly allHealthy: { servers: UpstreamServer[]; allDown: boolean };

  constructor(addresses: readonly HostPort[], private readonly policy: UpstreamPolicy, private readonly maxFails: number) {
    this.servers = addresses.map((address) => ({ address, label: formatHostPort(address), consecutiveFailures: 0, healthy: true, lastRttMs: undefined, lastError: undefined, lastChangeMs: Date.now() }));
    this.allHealthy = { servers: this.servers, allDown: this.servers.length === 0 };
  }

  /** Servers to try for one query, in order. `allDown` says they are all marked down. */
  order(): { servers: UpstreamServer[]; allDown: boolean } {
    // The common case, one healthy server (or sequential and all healthy): nothing to build.
    if (this.policy === 'sequential' || this.servers.length === 1) {
      if (this.servers.every((s) => s.healthy)) return this.allHealthy;
    }
    const healthy = this.servers.filter((s) => s.healthy);
    const allDown = healthy.length === 0;
    const list = allDown ? this.servers.slice() : healthy;
    if (list.length > 1) {
      if (this.policy === 'random') {
        for (let i = list.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [list[i], list[j]] = [list[j], list[i]];
        }
      } else if (this.policy === 'round_robin') {
        const k = this.rr++ % list.length;
        if (this.rr > 1e9) this.rr = 0;
        return { servers: [...list.slice(k), ...list.slice(0, k)], allDown };
      }
    }
    return { servers: list, allDown };
  }

  succeeded(server: UpstreamServer, rttMs: number): boolean {
    server.lastRttMs = rttMs;
    server.consecutiveFailures = 0;
    if (!server.healthy) {
      server.healthy = true;
      server.lastChangeMs = Date.now();
      return true;
    }
    return false;
  }

  /** Returns true when this failure marked the server down. */
  failed(server: UpstreamServer, error: string): boolean {
    server.lastError = error;
    server.consecutiveFailures++;
    if (this.maxFails > 0 && server.healthy && server.consecutiveFailures >= this.maxFails) {
      server.healthy = false;
      server.lastChangeMs = Date.now();
      return true;
    }
    return false;
  }

  get down(): UpstreamServer[] {
    return this.servers.filter((s) => !s.healthy);
  }
}
