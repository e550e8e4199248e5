import type { RateLimitConfig } from '../config/schema';
import { parseIpv6Groups } from '../wire/ipv6-groups';
import { RecencyList, type RecencyLinks } from './recency-list';

export type RateLimitVerdict = 'ok' | 'drop' | 'slip';

/** Default cap on tracked client prefixes (a bucket is ~100 bytes with its key: ~10 MB). */
export const DEFAULT_MAX_PREFIXES = 100_000;
/**
 * Idle buckets dropped at most per newly created bucket: enough to keep up with any arrival
 * rate (each bucket is created once), small enough that no single call does a long sweep.
 */
const IDLE_SWEEP_PER_INSERT = 4;

export interface RateLimiterOptions {
  readonly maxPrefixes?: number;
}

class Bucket implements RecencyLinks<Bucket> {
  tokens: number;
  /** Last check (refill time); the recency list is ordered by it. */
  lastMs: number;
  /** Limited responses since the last slip. */
  sinceSlip = 0;
  older: Bucket | null = null;
  newer: Bucket | null = null;

  constructor(
    readonly key: string,
    tokens: number,
    nowMs: number,
  ) {
    this.tokens = tokens;
    this.lastMs = nowMs;
  }
}

/**
 * Response rate limiting per client prefix (/24 for IPv4, /56 for IPv6, IPv4-mapped IPv6 as
 * IPv4): a token bucket of `burst` tokens refilled at `responsesPerSecond`. An over-limit
 * response is dropped, except that every `slip`-th one is answered truncated ('slip') so a real
 * client whose address is being spoofed can still get through over TCP.
 *
 * Memory is bounded by `maxPrefixes`. Buckets sit in a RecencyList (not Map re-insertion, which
 * V8 makes O(n) for a hot key). A bucket that has had time to refill
 * completely behaves exactly like a missing one, so each new bucket first drops such idle
 * buckets from the least recently used end; at the cap the least recently used is evicted
 * regardless.
 */
export class RateLimiter {
  private readonly capacity: number;
  private readonly tokensPerMs: number;
  private readonly fullRefillMs: number;
  private readonly slip: number;
  private readonly maxPrefixes: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly recency = new RecencyList<Bucket>();
  /** Scratch for IPv6 parsing, reused by every call. */
  private readonly groups = new Int32Array(8);
  /** Prefix keys of recent client addresses: building one (a slice) per query was garbage. */
  private readonly prefixKeys = new Map<string, string>();
  private evictionCount = 0;

  constructor(config: RateLimitConfig, options: RateLimiterOptions = {}) {
    this.capacity = Math.max(1, config.burst);
    this.tokensPerMs = Math.max(0, config.responsesPerSecond) / 1000;
    this.fullRefillMs = this.tokensPerMs > 0 ? this.capacity / this.tokensPerMs : Infinity;
    this.slip = Math.max(0, Math.floor(config.slip));
    this.maxPrefixes = Math.max(1, options.maxPrefixes ?? DEFAULT_MAX_PREFIXES);
  }

  /** Client prefixes currently tracked. */
  get trackedPrefixes(): number {
    return this.buckets.size;
  }

  /** Buckets evicted because the cap was reached while they were still in use. */
  get evictions(): number {
    return this.evictionCount;
  }

  clear(): void {
    this.buckets.clear();
    this.recency.clear();
  }

  /** Account one response to `address` at `nowMs` and say whether to send it. */
  check(address: string, nowMs: number): RateLimitVerdict {
    let key = this.prefixKeys.get(address);
    if (key === undefined) {
      key = this.prefixKey(address);
      if (this.prefixKeys.size >= PREFIX_KEY_MEMORY) this.prefixKeys.clear();
      this.prefixKeys.set(address, key);
    }
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.makeRoom(nowMs);
      bucket = new Bucket(key, this.capacity, nowMs);
      this.buckets.set(key, bucket);
      this.recency.push(bucket);
    } else {
      const elapsedMs = nowMs - bucket.lastMs;
      if (elapsedMs > 0) {
        const tokens = bucket.tokens + elapsedMs * this.tokensPerMs;
        bucket.tokens = tokens < this.capacity ? tokens : this.capacity;
        bucket.lastMs = nowMs;
      }
      this.recency.touch(bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'ok';
    }
    if (this.slip > 0 && ++bucket.sinceSlip >= this.slip) {
      bucket.sinceSlip = 0;
      return 'slip';
    }
    return 'drop';
  }

  /**
   * The bucket key of an address as Node reports it ("1.2.3.4", "::ffff:1.2.3.4", "2001:db8::1",
   * "fe80::1%eth0"). A string that is not an address keys a bucket of its own.
   */
  prefixKey(address: string): string {
    if (address.indexOf(':') < 0) return ipv4PrefixKey(address, 0);
    // IPv4-mapped (or any IPv6 with a dotted IPv4 tail): group by the embedded IPv4 address.
    if (address.indexOf('.') >= 0) return ipv4PrefixKey(address, address.lastIndexOf(':') + 1);
    const g = this.groups;
    if (!parseIpv6Groups(address, g)) return address;
    if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
      return `${g[6] >>> 8}.${g[6] & 0xff}.${g[7] >>> 8}`;
    }
    // The first 56 bits as four UTF-16 code units: cheaper than number formatting, and never
    // equal to an IPv4 key (those contain dots and are at least five characters long).
    return String.fromCharCode(g[0], g[1], g[2], g[3] >>> 8);
  }

  private makeRoom(nowMs: number): void {
    // Least recently used first, so the first bucket that is not idle ends the sweep.
    let oldest = this.recency.oldest;
    for (let i = 0; i < IDLE_SWEEP_PER_INSERT && oldest !== null && nowMs - oldest.lastMs >= this.fullRefillMs; i++) {
      this.remove(oldest);
      oldest = this.recency.oldest;
    }
    while (this.buckets.size >= this.maxPrefixes && oldest !== null) {
      this.remove(oldest);
      this.evictionCount++;
      oldest = this.recency.oldest;
    }
  }

  private remove(bucket: Bucket): void {
    this.buckets.delete(bucket.key);
    this.recency.remove(bucket);
  }
}

/** "a.b.c.d" from `start` → "a.b.c". */
/** Client addresses whose prefix key is remembered (then all are forgotten and it starts again). */
const PREFIX_KEY_MEMORY = 4096;

function ipv4PrefixKey(address: string, start: number): string {
  const lastDot = address.lastIndexOf('.');
  return lastDot > start ? address.slice(start, lastDot) : address;
}
