import type { CacheConfig } from '../config/schema';
import { MAX_MESSAGE_BYTES, OPCODE_MASK, RCode } from '../wire/constants';
import { readTtl, scanResponse, type ResponseScan } from '../wire/message-scan';
import { copyWithoutOpt } from '../wire/strip-opt';
import { questionKey } from '../wire/question-strings';
import type { ScratchBuffer } from '../wire/scratch-buffer';
import { copyBytes } from '../wire/response';
import { RecencyList, type RecencyLinks } from './recency-list';
import { SLAB_MAX_BYTES, SlabStore } from './slab-store';

/** RFC 8767 §5: the TTL given to records answered from an expired entry. */
export const STALE_TTL_S = 30;
/** Default byte budget for all stored messages together (see AnswerCacheOptions.maxBytes). */
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;

export interface AnswerCacheOptions {
  /**
   * Upper bound on the bytes of all stored messages. Entries are counted, but one entry may be
   * a 64 KiB TCP answer: without a byte budget a client asking for large names could pin
   * size × 64 KiB. Least recently used entries are evicted to stay within it.
   */
  readonly maxBytes?: number;
}

/** Why `set` did or did not store a response (for logs and tests; not a metric label set). */
export type CacheStoreResult =
  | 'stored'
  | 'disabled'
  | 'malformed'
  | 'truncated'
  | 'uncacheable-rcode'
  | 'no-ttl'
  | 'question-mismatch'
  | 'too-large';

/**
 * The cache key of a question. The DO and CD bits are part of it because they change what a
 * validating upstream returns (RRSIGs; unvalidated data). `qnameLower` must be spelled the way
 * scanResponse spells a name (lower-case ASCII, no trailing dot, "\." and "\\" escaped), or
 * `set` will refuse the response as not matching the key.
 */
export function cacheKey(qnameLower: string, qtype: number, qclass: number, doBit: boolean, cdBit: boolean): string {
  // A fixed three-code-unit suffix (type, class, flag bits) keeps the key unambiguous and is
  // about twice as fast to build and hash as decimal text. Not meant for display. Spelled in
  // wire/question-strings.ts, whose parser-side copy of recent keys saves building it per query.
  return questionKey(qnameLower, qtype, qclass, doBit, cdBit);
}

class Entry implements RecencyLinks<Entry> {
  older: Entry | null = null;
  newer: Entry | null = null;

  constructor(
    readonly key: string,
    /**
     * Where the message lives: a slab slot (SlabStore handle) holding the upstream message
     * without its OPT, TTLs already capped at maxTtlS, followed by the offset of each TTL field
     * (16 bits each: messages are ≤ 64 KiB); -1 when it did not fit a slot and `large` holds it.
     */
    public slot: number,
    public large: Buffer | null,
    /** Bytes of the message (the offsets follow it). */
    public length: number,
    public ttlCount: number,
    public storedMs: number,
    public expiresMs: number,
  ) {}
}

/**
 * Cache of forwarded answers, bounded by entry count (and bytes), least recently used evicted
 * first (a RecencyList beside the Map; the Map changes only on insert and removal).
 *
 * Stored: NOERROR with answers, and negative answers (NXDOMAIN, NODATA) for min(SOA TTL, SOA
 * MINIMUM) per RFC 2308. A negative answer without an SOA is not stored at all: RFC 2308 §5
 * says such answers SHOULD NOT be cached, and "briefly" would still pin a possibly transient
 * failure with no TTL the authority chose. Never stored: other rcodes, truncated or malformed
 * responses, anything whose TTL is 0.
 *
 * Times are whatever clock the caller passes as `nowMs` (monotonic is best); TTLs count down in
 * whole seconds elapsed since the entry was stored.
 */
export class AnswerCache {
  private maxEntries: number;
  private maxTtlS: number;
  private serveStaleMs: number;
  private readonly maxBytes: number;
  private readonly entries = new Map<string, Entry>();
  private readonly recency = new RecencyList<Entry>();
  private slab = new SlabStore();
  private storedBytes = 0;
  private hitCount = 0;
  private missCount = 0;
  private staleHitCount = 0;
  private evictionCount = 0;

  constructor(config: CacheConfig, options: AnswerCacheOptions = {}) {
    this.maxEntries = Math.max(0, Math.floor(config.size));
    this.maxTtlS = Math.max(0, Math.floor(config.maxTtlS));
    this.serveStaleMs = Math.max(0, config.serveStaleMs);
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  }

  /**
   * New limits from a reload: entries beyond a smaller size go, oldest first; stored answers keep
   * the TTLs they were stored with (a lower max_ttl applies to what is stored from now on).
   */
  reconfigure(config: CacheConfig): void {
    this.maxEntries = Math.max(0, Math.floor(config.size));
    this.maxTtlS = Math.max(0, Math.floor(config.maxTtlS));
    this.serveStaleMs = Math.max(0, config.serveStaleMs);
    while (this.entries.size > this.maxEntries && this.recency.oldest !== null) {
      this.remove(this.recency.oldest);
      this.evictionCount++;
    }
  }

  /** Entries held, including expired ones not yet evicted. */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes of all stored messages. */
  get bytes(): number {
    return this.storedBytes;
  }

  /** Bytes of slab chunks reserved for them (at most about twice the bytes stored at the peak). */
  get reservedBytes(): number {
    return this.slab.reservedBytes;
  }

  /** Fresh answers served by `get` (and by `getStale` for an entry that was still fresh). */
  get hits(): number {
    return this.hitCount;
  }

  /** `get` calls that found nothing fresh. */
  get misses(): number {
    return this.missCount;
  }

  /** Expired answers served by `getStale`. */
  get staleHits(): number {
    return this.staleHitCount;
  }

  /** Entries dropped to make room (not counting expiry). */
  get evictions(): number {
    return this.evictionCount;
  }

  /** The cache a reloaded config asks for: none (size 0), this one reconfigured, or a new one. */
  static follow(current: AnswerCache | undefined, config: CacheConfig): AnswerCache | undefined {
    if (config.size === 0) return undefined;
    if (!current) return new AnswerCache(config);
    current.reconfigure(config);
    return current;
  }

  clear(): void {
    this.entries.clear();
    this.recency.clear();
    this.storedBytes = 0;
    this.slab = new SlabStore();
  }

  /**
   * Store an upstream response under `key` (built with cacheKey from the question we asked).
   * The response must carry that same question; its OPT, which belongs to the upstream hop, is
   * removed (ARCOUNT adjusted) so the caller can append its own. `scanned` is scanResponse of
   * these bytes when the caller has it (TTL values may have changed since, offsets not).
   */
  set(key: string, response: Buffer, nowMs: number, scanned?: ResponseScan): CacheStoreResult {
    if (this.maxEntries === 0) return 'disabled';
    if (response.length > MAX_MESSAGE_BYTES) return 'too-large';
    const scan = scanned ?? scanResponse(response);
    if (scan === undefined) return 'malformed';
    if (scan.truncated) return 'truncated';
    if ((scan.flags & OPCODE_MASK) !== 0 || (scan.rcode !== RCode.NOERROR && scan.rcode !== RCode.NXDOMAIN)) return 'uncacheable-rcode';
    // Defence in depth against poisoning: the bytes must answer the question the key names.
    const bits = key.charCodeAt(key.length - 1);
    if (key !== cacheKey(scan.qname, scan.qtype, scan.qclass, (bits & 2) !== 0, (bits & 1) !== 0)) return 'question-mismatch';
    const minTtl = scan.minTtl;
    if (minTtl === undefined) return 'no-ttl';
    const ttlS = minTtl < this.maxTtlS ? minTtl : this.maxTtlS;
    if (ttlS <= 0) return 'no-ttl';

    const optOffset = scan.optOffset;
    const optLength = scan.optLength;
    const length = scan.end - optLength;
    if (length > this.maxBytes) return 'too-large';
    const source = scan.ttlOffsets;
    const ttlCount = source.length;
    const stored = length + 2 * ttlCount;
    // Small messages go to a slab slot (no objects of their own for the collector to trace); a
    // larger one gets its own memory, never a slice of Node's shared pool (it would pin a slab).
    const slot = stored <= SLAB_MAX_BYTES ? this.slab.allocate(stored) : -1;
    const large = slot < 0 ? Buffer.allocUnsafeSlow(stored) : null;
    const buf = large ?? this.slab.bufferOf(slot);
    const base = large ? 0 : this.slab.offsetOf(slot);
    copyWithoutOpt(response, scan, buf, base);
    const maxTtlS = this.maxTtlS;
    for (let i = 0; i < ttlCount; i++) {
      const at = optOffset >= 0 && source[i] > optOffset ? source[i] - optLength : source[i];
      buf[base + length + 2 * i] = at >>> 8;
      buf[base + length + 2 * i + 1] = at & 0xff;
      const ttl = readTtl(buf, base + at);
      // readTtl already made a top-bit TTL 0 (RFC 2181 §8); cap the rest so no record outlives maxTtl.
      writeUint32(buf, base + at, ttl > maxTtlS ? maxTtlS : ttl);
    }

    const expiresMs = nowMs + ttlS * 1000;
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      // Replace in place: no Map delete + set (see the class comment).
      this.storedBytes += length - existing.length;
      this.release(existing);
      existing.slot = slot;
      existing.large = large;
      existing.length = length;
      existing.ttlCount = ttlCount;
      existing.storedMs = nowMs;
      existing.expiresMs = expiresMs;
      this.recency.touch(existing);
      this.evictFor(0, existing);
      return 'stored';
    }
    this.evictFor(length, null);
    const entry = new Entry(key, slot, large, length, ttlCount, nowMs, expiresMs);
    this.entries.set(key, entry);
    this.recency.push(entry);
    this.storedBytes += length;
    return 'stored';
  }

  /**
   * A fresh copy of the cached message with `id` patched in and every TTL reduced by the whole
   * seconds since it was stored; `undefined` when absent or expired. The copy has no OPT. With
   * `into`, the copy is a view of that scratch (valid until its next use) instead of new memory.
   */
  get(key: string, nowMs: number, id: number, tailBytes = 0, into?: ScratchBuffer): Buffer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.missCount++;
      return undefined;
    }
    if (nowMs >= entry.expiresMs) {
      // Keep it for getStale while inside the serve-stale window; past it, evict lazily.
      if (nowMs - entry.expiresMs >= this.serveStaleMs) this.remove(entry);
      this.missCount++;
      return undefined;
    }
    this.recency.touch(entry);
    this.hitCount++;
    return this.copyDecremented(entry, nowMs, id, tailBytes, into);
  }

  /**
   * RFC 8767: for use after every upstream failed. An entry that expired less than
   * serveStaleMs ago is returned with every TTL set to 30 s; one still fresh is returned as by
   * `get` (it can have been stored while this query's upstream attempt was failing); anything
   * else is `undefined`, and an entry past the window is evicted.
   */
  getStale(key: string, nowMs: number, id: number, tailBytes = 0): Buffer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (nowMs < entry.expiresMs) {
      this.recency.touch(entry);
      this.hitCount++;
      return this.copyDecremented(entry, nowMs, id, tailBytes);
    }
    if (nowMs - entry.expiresMs >= this.serveStaleMs) {
      this.remove(entry);
      return undefined;
    }
    this.recency.touch(entry);
    this.staleHitCount++;
    const out = this.copyWithId(entry, id, tailBytes);
    const { buf, offsets } = this.offsetsOf(entry);
    for (let i = 0; i < entry.ttlCount; i++) writeUint32(out, (buf[offsets + 2 * i] << 8) | buf[offsets + 2 * i + 1], STALE_TTL_S);
    return out;
  }

  private copyDecremented(entry: Entry, nowMs: number, id: number, tailBytes: number, into?: ScratchBuffer): Buffer {
    const out = this.copyWithId(entry, id, tailBytes, into);
    const elapsedS = nowMs > entry.storedMs ? Math.floor((nowMs - entry.storedMs) / 1000) : 0;
    if (elapsedS > 0) {
      // Where the TTL offsets are (after the message), without an object to say so.
      const buf = entry.large ?? this.slab.bufferOf(entry.slot);
      const offsets = entry.large ? entry.length : this.slab.offsetOf(entry.slot) + entry.length;
      for (let i = 0; i < entry.ttlCount; i++) {
        const at = (buf[offsets + 2 * i] << 8) | buf[offsets + 2 * i + 1];
        const ttl = readTtl(out, at) - elapsedS;
        writeUint32(out, at, ttl > 0 ? ttl : 0);
      }
    }
    return out;
  }

  /**
   * A copy of the stored message with `id` patched in and `tailBytes` of room after it
   * (uninitialised) so the caller can append its own OPT without a second copy.
   */
  private copyWithId(entry: Entry, id: number, tailBytes: number, into?: ScratchBuffer): Buffer {
    // Pooled allocation: the copy is short-lived (sent, then dropped); none with a scratch.
    const out = into ? into.view(entry.length + tailBytes) : Buffer.allocUnsafe(entry.length + tailBytes);
    // copyBytes: Buffer#copy allocates a view of its source per call.
    if (entry.large) copyBytes(entry.large, 0, entry.length, out, 0);
    else {
      const start = this.slab.offsetOf(entry.slot);
      copyBytes(this.slab.bufferOf(entry.slot), start, start + entry.length, out, 0);
    }
    out[0] = (id >>> 8) & 0xff;
    out[1] = id & 0xff;
    return out;
  }

  /** Where an entry's TTL offsets are (after its message). */
  private offsetsOf(entry: Entry): { buf: Buffer; offsets: number } {
    if (entry.large) return { buf: entry.large, offsets: entry.length };
    return { buf: this.slab.bufferOf(entry.slot), offsets: this.slab.offsetOf(entry.slot) + entry.length };
  }

  /** Gives an entry's slot back (the entry itself is being replaced or removed). */
  private release(entry: Entry): void {
    if (entry.slot >= 0) this.slab.free(entry.slot);
    entry.slot = -1;
    entry.large = null;
  }

  /** Evict least recently used entries (never `keep`) until `extraBytes` more fit both limits. */
  private evictFor(extraBytes: number, keep: Entry | null): void {
    const maxEntries = keep === null ? this.maxEntries - 1 : this.maxEntries;
    let victim = this.recency.oldest;
    while (victim !== null && (this.entries.size > maxEntries || this.storedBytes + extraBytes > this.maxBytes)) {
      const next = victim.newer;
      if (victim !== keep) {
        this.remove(victim);
        this.evictionCount++;
      }
      victim = next;
    }
  }

  private remove(entry: Entry): void {
    this.entries.delete(entry.key);
    this.recency.remove(entry);
    this.storedBytes -= entry.length;
    this.release(entry);
  }
}

function writeUint32(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = (value >>> 16) & 0xff;
  buf[at + 2] = (value >>> 8) & 0xff;
  buf[at + 3] = value & 0xff;
}
