import type { HostPort } from '../../config/units';

/**
 * The secondaries a hub has learned from the requests it serves: every TSIG-signed SOA check,
 * IXFR or AXFR that passed transfer.allow names its source address and the key it was signed
 * with. Those are the targets of learned NOTIFY (signed with that same key), and the fleet as
 * /status shows it. Unsigned requests teach nothing (a spoofed UDP source must not become a
 * NOTIFY target); a secondary that stops checking expires.
 */

/** One request a secondary made for a zone. */
export interface Sighting {
  readonly address: string;
  readonly keyName: string;
  readonly zone: string;
  readonly kind: 'soa' | 'ixfr' | 'axfr';
  /** IXFR: the serial the secondary said it holds. */
  readonly theirSerial?: number;
  /** Our serial at the time (an AXFR hands this one over). */
  readonly ourSerial: number;
}

export interface RegistryOptions {
  /** A secondary not heard from for this long is forgotten (no more NOTIFY to it). */
  readonly expireMs: number;
  /** Secondaries remembered at most; the longest silent one makes room. */
  readonly maxEntries: number;
  /** Port learned NOTIFYs go to: a secondary's checks come from ephemeral ports, its DNS service listens here. */
  readonly notifyPort: number;
  readonly nowMs?: () => number;
}

export const DEFAULT_REGISTRY_OPTIONS: RegistryOptions = { expireMs: 15 * 60_000, maxEntries: 10_000, notifyPort: 53 };

interface ZoneSeen {
  /** The serial the secondary holds, as far as we know. */
  serial: number | undefined;
  lastCheckMs: number;
  checks: number;
}

interface Known {
  readonly address: string;
  readonly keyName: string;
  firstSeenMs: number;
  lastSeenMs: number;
  readonly zones: Map<string, ZoneSeen>;
}

/** A learned NOTIFY target: where to send and with which key. */
export interface LearnedTarget {
  readonly target: HostPort;
  readonly keyName: string;
}

export interface SecondaryStatus {
  readonly address: string;
  readonly key: string;
  readonly firstSeen: string;
  readonly zones: { zone: string; serial: number | null; lastCheck: string; checks: number }[];
}

export class SecondaryRegistry {
  private readonly known = new Map<string, Known>();

  constructor(private options: RegistryOptions = DEFAULT_REGISTRY_OPTIONS) {}

  reconfigure(next: RegistryOptions): void {
    this.options = next;
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }

  saw(s: Sighting): void {
    const now = this.now();
    const id = `${s.address} ${s.keyName}`;
    let k = this.known.get(id);
    if (!k) {
      if (this.known.size >= this.options.maxEntries) this.evict(now);
      k = { address: s.address, keyName: s.keyName, firstSeenMs: now, lastSeenMs: now, zones: new Map() };
      this.known.set(id, k);
    }
    k.lastSeenMs = now;
    const z = k.zones.get(s.zone) ?? { serial: undefined, lastCheckMs: now, checks: 0 };
    z.lastCheckMs = now;
    z.checks++;
    if (s.kind === 'ixfr' && s.theirSerial !== undefined) z.serial = s.theirSerial;
    else if (s.kind === 'axfr') z.serial = s.ourSerial;
    k.zones.set(s.zone, z);
  }

  /** After a transfer that ended: the secondary now holds `serial`. */
  transferred(address: string, keyName: string, zone: string, serial: number): void {
    const z = this.known.get(`${address} ${keyName}`)?.zones.get(zone);
    if (z) z.serial = serial;
  }

  /** Drops the expired; evicts the longest silent when full. */
  private evict(now: number): void {
    this.expire(now);
    if (this.known.size < this.options.maxEntries) return;
    let oldest: [string, Known] | undefined;
    for (const e of this.known) if (!oldest || e[1].lastSeenMs < oldest[1].lastSeenMs) oldest = e;
    if (oldest) this.known.delete(oldest[0]);
  }

  expire(now = this.now()): void {
    for (const [id, k] of this.known) if (now - k.lastSeenMs > this.options.expireMs) this.known.delete(id);
  }

  /** The live secondaries of `zone`, each with the key it signs with. */
  targets(zone: string): LearnedTarget[] {
    const now = this.now();
    this.expire(now);
    const out: LearnedTarget[] = [];
    for (const k of this.known.values()) {
      if (!k.zones.has(zone)) continue;
      const family = k.address.includes(':') ? 6 : 4;
      out.push({ target: { host: k.address, port: this.options.notifyPort, family }, keyName: k.keyName });
    }
    return out;
  }

  /** The key a secondary at `address` last signed with, if it was seen. */
  keyOf(address: string): string | undefined {
    let best: Known | undefined;
    for (const k of this.known.values()) if (k.address === address && (!best || k.lastSeenMs > best.lastSeenMs)) best = k;
    return best?.keyName;
  }

  get size(): number {
    return this.known.size;
  }

  status(): SecondaryStatus[] {
    this.expire();
    return [...this.known.values()]
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.keyName < b.keyName ? -1 : 1))
      .map((k) => ({
        address: k.address,
        key: k.keyName,
        firstSeen: new Date(k.firstSeenMs).toISOString(),
        zones: [...k.zones].map(([zone, z]) => ({ zone, serial: z.serial ?? null, lastCheck: new Date(z.lastCheckMs).toISOString(), checks: z.checks })),
      }));
  }
}
