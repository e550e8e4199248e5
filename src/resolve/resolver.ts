import type { Logger } from '../runtime/log';
import { isPldnsError } from '../errors';
import type { Config } from '../config/schema';
import { CLASS_ANY, CLASS_CHAOS, CLASS_IN, MAX_TTL, RCODE_MASK, RCode, RRType, typeLabel, RCODE_NAMES } from '../wire/constants';
import { detachRequest, type DnsRequest, type Protocol } from '../server/request';
import { queryClock } from '../server/query-clock';
import { ScratchBuffer } from '../wire/scratch-buffer';
import type { Query } from '../wire/query';
import { buildRcodeResponse, withNsid } from '../wire/response';
import { nameToWire } from '../wire/name-codec';
import { scanResponse, type ResponseScan } from '../wire/message-scan';
import { buildApexAnswer, buildManagedAnswer } from './managed-answer';
import { cutChainAtManaged } from './chain-cut';
import { stripManagedRecords } from './strip-managed-records';
import { addOptTail, capTtls, echoQuestion, fillOptTail, optTailBytes, relayWithClientOpt, withClientOpt } from './client-answer';
import { OPT_BYTES } from '../wire/response';
import { cacheKey } from './cache';
import { isLoopbackAddress } from './access';
import type { AnswerTable, TableMatch } from './table';
import { PendingMiss, type ForwardReceiver, type MissHandler } from './pending-miss';

/** What the resolver needs from the forwarding layer (implemented in upstream/). */
export interface ForwardPort {
  readonly hasServers: boolean;
  /**
   * Forwards and tells `sink` once: the reply (client ID restored) and its scan (it parsed, or the
   * forwarder would have tried the next server), or the failure.
   */
  forwardTo(q: Query, protocol: Protocol, sink: ForwardReceiver): void;
  isForwarding(qname: string, qtype: number, qclass: number): boolean;
  isUpstreamHost(address: string): boolean;
  joinInFlight(qname: string, qtype: number, qclass: number): Promise<{ readonly reply: Buffer }> | undefined;
}

/** What the resolver needs from the cache of forwarded answers (messages stored without OPT). */
export interface AnswerCacheLike {
  /** `tailBytes`: room left after the message for our OPT (see fillOptTail). */
  /** `into`: a scratch for the copy (valid until its next use) instead of new memory. */
  get(key: string, nowMs: number, id: number, tailBytes?: number, into?: ScratchBuffer): Buffer | undefined;
  getStale(key: string, nowMs: number, id: number, tailBytes?: number): Buffer | undefined;
  /** `scan`: scanResponse(response), when the caller has it already. */
  set(key: string, response: Buffer, nowMs: number, scan?: ResponseScan): unknown;
  clear(): void;
}

export type AnswerSource = 'local' | 'cache' | 'stale' | 'forward' | 'error' | 'loop';

/** Per-answer observations; the app binds these to metrics (cheap: pre-bound children). */
export interface ResolverObserver {
  /** `receivedAt`: the request's (queryClock µs). */
  answered(protocol: Protocol, qtype: number, source: AnswerSource, rcode: number, receivedAt: number): void;
  loop(): void;
  staleAnswer(): void;
  /** An upstream CNAME chain reached a managed name and was answered from the table. */
  cnameRewrite(): void;
}

export interface ResolverOptions {
  readonly records: Config['records'];
  readonly forwarder: ForwardPort;
  readonly cache?: AnswerCacheLike;
  readonly observer: ResolverObserver;
  readonly logger: Logger;
  readonly logQueries: boolean;
  /** cache.max_ttl: no forwarded record is relayed with a longer TTL (default: RFC 2181's 2^31−1). */
  readonly maxTtlS?: number;
  /** This instance's identity for EDNS NSID (RFC 5001): config.nsid; null or absent: NSID is not answered. */
  readonly nsid?: string | null;
}

/** Apex NS when records.nameservers is not given (hand-built configs; the validator fills it in). */
const DEFAULT_NAMESERVERS = ['localhost'];

const LOOP_LOG_INTERVAL_MS = 60_000;
const LOOP_LOG_MEMORY = 1000;
/** Waiting-miss records kept for reuse at most (the forwarder caps misses in flight at 2000 by default). */
const MISS_POOL_MAX = 4096;

/**
 * The answer pipeline: managed names from the table (never forwarded unless configured), then
 * the cache, then the upstreams, with serve-stale when they fail. The table reference is
 * swapped whole by the sync; one query reads one table.
 */
export class Resolver implements MissHandler {
  private table: AnswerTable;
  private readonly loopLogged = new Map<string, number>();
  /** records.nameservers in wire form: the NS records of every managed apex. */
  private nameservers: readonly Buffer[] = [];
  private nsid: Buffer | undefined;
  private options!: ResolverOptions;
  private readonly freeMisses: PendingMiss[] = [];
  private readonly releaseMiss = (miss: PendingMiss): void => {
    if (this.freeMisses.length < MISS_POOL_MAX) this.freeMisses.push(miss);
  };
  /** Where answers made synchronously are written when the transport copies them out (DnsRequest.replyCopied). */
  private readonly scratch = new ScratchBuffer();

  constructor(table: AnswerTable, options: ResolverOptions) {
    this.table = table;
    this.reconfigure(options);
  }

  /** A reload (records, TTL, cache, logging, identity): applies between two queries. */
  reconfigure(options: ResolverOptions): void {
    this.options = options;
    this.nameservers = (options.records.nameservers ?? DEFAULT_NAMESERVERS).map((n) => nameToWire(n));
    this.nsid = options.nsid ? Buffer.from(options.nsid, 'latin1') : undefined;
  }

  clearCache(): void {
    this.options.cache?.clear();
  }

  setTable(table: AnswerTable): void {
    this.table = table;
  }

  get currentTable(): AnswerTable {
    return this.table;
  }

  /** The DnsHandler: bound once, called per query by the servers. */
  readonly handle = (req: DnsRequest): Buffer | Promise<Buffer> => {
    const q = req.query;
    // Zone transfers are the zone service's (fleet mode, policy zone only); the table is no zone.
    if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) return this.done(req, buildRcodeResponse(q, RCode.REFUSED), 'local');
    // Wildcard matches are remembered only for names the parser holds strings for (asked before).
    const match = this.table.lookup(q.qname, q.cacheKey !== undefined && q.cacheKey !== '');
    if (q.qtype === RRType.SOA || q.qtype === RRType.NS) {
      const apex = this.apexAnswer(q, match);
      if (apex) return this.done(req, apex, 'local');
    }
    if (match) {
      // A managed name is never asked upstream in another class: class ANY (255) would bring the
      // public address back, and CH/HS/NONE data for it is not ours to give.
      if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return this.done(req, buildRcodeResponse(q, RCode.REFUSED), 'local');
      const { record } = match;
      if (record.aRdata.length > 0 || record.aaaaRdata.length > 0) {
        return this.done(req, buildManagedAnswer(q, match, this.options.records.ttl, this.table.version, req.replyCopied ? this.scratch : undefined), 'local');
      }
      // A managed name with no usable IP: never hand out the public (100.64/10) answer by default.
      if ((record.unavailable ?? this.options.records.onUnavailable) === 'servfail') return this.done(req, buildRcodeResponse(q, RCode.SERVFAIL), 'local');
    }
    // CHAOS is server identity (version.bind, hostname.bind, id.server): forwarded, it would tell
    // anyone the upstream's software and host name. Nothing of ours to say either.
    if (q.qclass === CLASS_CHAOS) return this.done(req, buildRcodeResponse(q, RCode.REFUSED), 'local');
    // Cache hits are answered synchronously: no promise on the most common forwarded path.
    const cache = this.options.cache;
    let key = '';
    if (cache) {
      key = q.cacheKey || cacheKey(q.qname, q.qtype, q.qclass, q.edns?.dnssecOk ?? false, q.cd);
      // queryClock.wallMs is Date.now() as of this query's receipt, without allocating a number.
      const hit = cache.get(key, queryClock.wallMs, q.id, optTailBytes(q), req.replyCopied ? this.scratch : undefined);
      if (hit) return this.done(req, addOptTail(echoQuestion(hit, q), q), 'cache');
    }
    return this.forward(req, key);
  };

  /**
   * SOA or NS at the apex of a managed name (an exact match) or of a wildcard's parent, when that
   * name is answered from the table (it has addresses): its SOA is the one of its negative answers.
   * Other classes, and names below an apex, take the usual path.
   */
  private apexAnswer(q: Query, match: TableMatch | undefined): Buffer | undefined {
    if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return undefined;
    const record = match ? (match.labelsAboveApex === 0 ? match.record : undefined) : this.table.wildcardParent(q.qname);
    if (!record || (record.aRdata.length === 0 && record.aaaaRdata.length === 0)) return undefined;
    return buildApexAnswer(q, this.options.records.ttl, this.table.version, this.nameservers);
  }

  private isLoop(req: DnsRequest): boolean {
    const { forwarder } = this.options;
    const q = req.query;
    // The host test first: it is a few string compares, and false for almost every client.
    return forwarder.isUpstreamHost(req.client.address) && forwarder.isForwarding(q.qname, q.qtype, q.qclass);
  }

  private forward(req: DnsRequest, key: string): Buffer | Promise<Buffer> {
    // The pipeline reuses the request, its query and client for the next datagram: keep copies.
    req = detachRequest(req);
    if (this.isLoop(req)) return this.answerLoop(req);
    if (!this.options.forwarder.hasServers) return this.done(req, buildRcodeResponse(req.query, RCode.REFUSED), 'error');
    // No async frame per miss: a reused PendingMiss is the forward's sink and settles one promise.
    const miss = this.freeMisses.pop() ?? new PendingMiss(this, this.releaseMiss);
    return miss.begin(req, key, this.options.forwarder);
  }

  private async answerLoop(req: DnsRequest): Promise<Buffer> {
    const q = req.query;
    const { forwarder } = this.options;
    // From another host this can only be our own query coming back: SERVFAIL at once. From a
    // loopback address it may as well be a local program that shares the upstream's address and
    // asks the same name concurrently, so wait for the answer already on its way instead; a real
    // loop then ends when that forward times out, and is counted then. (The waiter takes that
    // forward's answer even if its DO/CD bits differ: rare, and better than a false SERVFAIL.)
    const pending = isLoopbackAddress(req.client.address) ? forwarder.joinInFlight(q.qname, q.qtype, q.qclass) : undefined;
    if (pending) {
      try {
        const shared = await pending;
        const reply = echoQuestion(Buffer.from(shared.reply), q);
        reply.writeUInt16BE(q.id, 0);
        const scan = scanResponse(reply);
        if (scan) {
          capTtls(reply, scan.ttlOffsets, this.options.maxTtlS ?? MAX_TTL);
          const ours = this.cutChain(req, reply, scan);
          const clean = ours ? undefined : stripManagedRecords(reply, scan, this.table);
          if (ours === 'malformed' || clean === 'malformed') return this.done(req, buildRcodeResponse(q, RCode.SERVFAIL), 'error');
          if (ours) return ours;
          const relayed = clean ?? { reply, scan };
          return this.done(req, relayWithClientOpt(relayed.reply, relayed.scan, q, relayed.scan.rcode), 'forward');
        }
      } catch (err) {
        if (!isPldnsError(err, 'UPSTREAM_FAILED')) throw err;
      }
    }
    this.options.observer.loop();
    this.logLoop(q, req.client.address);
    return this.done(req, buildRcodeResponse(q, RCode.SERVFAIL), 'loop');
  }

  /** The client's answer from a forwarded miss's upstream reply (PendingMiss calls it). */
  forwardedMiss(req: DnsRequest, key: string, forwardedReply: Buffer, forwardedScan: ResponseScan): Buffer {
    const q = req.query;
    const { cache } = this.options;
    // In place and the same length: the scan's offsets stay right (its qname is lower case).
    let reply = echoQuestion(forwardedReply, q);
    let scan = forwardedScan;
    capTtls(reply, scan.ttlOffsets, this.options.maxTtlS ?? MAX_TTL);
    const rcode = scan.rcode;
    if (rcode === RCode.SERVFAIL || rcode === RCode.REFUSED) {
      const stale = cache?.getStale(key, Date.now(), q.id, OPT_BYTES);
      if (stale) {
        this.options.observer.staleAnswer();
        return this.done(req, fillOptTail(echoQuestion(stale, q), q), 'stale');
      }
    }
    const ours = this.cutChain(req, reply, scan);
    if (ours) return ours === 'malformed' ? this.failed(req, key, Date.now()) : ours;
    const clean = stripManagedRecords(reply, scan, this.table);
    if (clean === 'malformed') return this.failed(req, key, Date.now());
    if (clean) ({ reply, scan } = clean);
    if (cache) cache.set(key, reply, Date.now(), scan);
    return this.done(req, relayWithClientOpt(reply, scan, q, rcode), 'forward');
  }

  /** The client's answer when the forward failed (PendingMiss calls it). */
  failedMiss(req: DnsRequest, key: string): Buffer {
    return this.failed(req, key, Date.now());
  }

  /**
   * Our answer when the upstream's CNAME chain reaches a managed name (never cached: it holds table
   * data, which the next sync may change); 'malformed' for names in RDATA that do not parse.
   */
  private cutChain(req: DnsRequest, reply: Buffer, scan: ResponseScan): Buffer | 'malformed' | undefined {
    const q = req.query;
    if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return undefined;
    const { records } = this.options;
    const cut = cutChainAtManaged(reply, scan, q, this.table, records.ttl, records.onUnavailable);
    if (cut.kind === 'none') return undefined;
    if (cut.kind === 'malformed') return 'malformed';
    this.options.observer.cnameRewrite();
    if (cut.kind === 'servfail') return this.done(req, buildRcodeResponse(q, RCode.SERVFAIL), 'local');
    return this.done(req, withClientOpt(cut.bytes, q), 'local');
  }

  private failed(req: DnsRequest, key: string, now: number): Buffer {
    const q = req.query;
    const stale = this.options.cache?.getStale(key, now, q.id, OPT_BYTES);
    if (stale) {
      this.options.observer.staleAnswer();
      return this.done(req, fillOptTail(echoQuestion(stale, q), q), 'stale');
    }
    return this.done(req, buildRcodeResponse(q, RCode.SERVFAIL), 'error');
  }

  private done(req: DnsRequest, bytes: Buffer, source: AnswerSource): Buffer {
    // Rare: only queries that ask for NSID pay for the copy that adds it.
    if (req.query.edns?.nsid && this.nsid) bytes = withNsid(bytes, this.nsid);
    const rcode = bytes[3] & RCODE_MASK;
    this.options.observer.answered(req.protocol, req.query.qtype, source, rcode, req.receivedAt);
    if (this.options.logQueries) {
      this.options.logger.info({ client: req.client.address, protocol: req.protocol, qname: req.query.qname, qtype: typeLabel(req.query.qtype), source, rcode: RCODE_NAMES[rcode] ?? rcode, bytes: bytes.length }, 'query');
    }
    return bytes;
  }

  private logLoop(q: Query, from: string): void {
    const key = `${q.qtype}/${q.qname}`;
    const now = Date.now();
    const last = this.loopLogged.get(key);
    if (last !== undefined && now - last < LOOP_LOG_INTERVAL_MS) return;
    if (this.loopLogged.size >= LOOP_LOG_MEMORY) this.loopLogged.clear();
    this.loopLogged.set(key, now);
    this.options.logger.warn({ qname: q.qname, qtype: typeLabel(q.qtype), from }, 'forwarding loop: a query we forwarded came back to us; answering SERVFAIL (check that the upstream does not forward this zone back)');
  }
}
