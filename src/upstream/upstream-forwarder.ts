import type { Logger } from '../runtime/log';
import { PldnsError, describeError, isPldnsError } from '../errors';
import { CLASS_IN, FLAG_RD, FLAG_TC, HEADER_BYTES, RCODE_MASK, RCode, RRType } from '../wire/constants';
import { scanResponse, type ResponseScan } from '../wire/message-scan';
import type { Protocol } from '../server/request';
import type { Query } from '../wire/query';
import { RandomIds } from './random-id';
import { buildUpstreamQuery } from './upstream-query';
import { dgramExchanger, type ExchangeResult, type UdpExchanger } from './udp-exchange';
import { tcpExchange } from './tcp-exchange';
import { UpstreamPool, type UpstreamServer } from './upstream-pool';
import type { UpstreamConfig } from '../config/schema';

/** An upstream's reply (the client's ID restored) and its scan, which callers reuse. */
export interface Forwarded {
  readonly reply: Buffer;
  readonly scan: ResponseScan;
}

/** Reports per exchange; the app binds these to metrics. */
export interface ForwarderObserver {
  exchange(server: string, protocol: Protocol, result: string, seconds: number): void;
  health(server: string, healthy: boolean): void;
}

/** When every server is marked down, each still gets a try, with this shorter deadline. */
const ALL_DOWN_TIMEOUT_MS = 500;
/** The health probe: ". IN NS", any answer proves the server alive. */
const PROBE_QUESTION = Buffer.from([0, 0, RRType.NS, 0, CLASS_IN]);

/**
 * Forwards a query to the upstreams: a fresh ID and socket (random
 * port) per exchange, replies checked per RFC 5452, TC over UDP retried over TCP, TCP clients
 * forwarded over TCP, a timeout or failure moves on to the next server. Returns the upstream's reply bytes
 * with the client's ID restored, and their scan; SERVFAIL/REFUSED replies count as failures but
 * are returned when nothing better came.
 */
export class UpstreamForwarder {
  private poolValue: UpstreamPool;
  private readonly ids = new RandomIds();
  /** Per name, type and class out upstream: how many forwards, and the earliest one's reply. */
  private readonly flights = new Map<string, Flight>();
  private outstanding = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private config: UpstreamConfig,
    private readonly observer: ForwarderObserver,
    private readonly logger: Logger,
    private maxInFlight = 2000,
    private readonly udp: UdpExchanger = dgramExchanger,
  ) {
    this.poolValue = new UpstreamPool(config.servers, config.policy, config.maxFails);
    for (const s of this.poolValue.servers) observer.health(s.label, true);
  }

  get pool(): UpstreamPool {
    return this.poolValue;
  }

  /**
   * New upstream settings from a reload. Queries already out finish with the servers they chose;
   * the next ones use the new list, whose servers start healthy (a server kept from the old list
   * keeps its health and counters).
   */
  reconfigure(next: UpstreamConfig, maxInFlight: number): void {
    const old = new Map(this.poolValue.servers.map((s) => [s.label, s]));
    this.config = next;
    this.maxInFlight = maxInFlight;
    this.poolValue = new UpstreamPool(next.servers, next.policy, next.maxFails);
    for (const s of this.poolValue.servers) {
      const kept = old.get(s.label);
      if (kept) Object.assign(s, { ...kept, address: s.address });
      this.observer.health(s.label, s.healthy);
    }
    if (this.probeTimer) {
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
    }
    if (this.poolValue.servers.some((s) => !s.healthy)) this.ensureProber();
  }

  /** Forwarded queries out now. */
  get forwardsInFlight(): number {
    return this.outstanding;
  }

  /** How UDP exchanges are made: 'native' (addon) or 'dgram'. */
  get udpEngine(): string {
    return this.udp.engine;
  }

  get hasServers(): boolean {
    return this.pool.servers.length > 0;
  }

  /** True while a query for this name, type and class is out upstream (loop detection). */
  isForwarding(qname: string, qtype: number, qclass: number): boolean {
    return this.flights.has(joinKey(qname, qtype, qclass));
  }

  /** Whether `address` is one of our upstreams' hosts. */
  isUpstreamHost(address: string): boolean {
    const a = address.startsWith('::ffff:') ? address.slice(7) : address;
    return this.pool.servers.some((s) => s.address.host === a);
  }

  async forward(q: Query, protocol: Protocol): Promise<Forwarded> {
    // Bound the memory and sockets a flood of cache misses can take; past it, fail fast.
    if (this.outstanding >= this.maxInFlight) throw new PldnsError('UPSTREAM_FAILED', `over ${this.maxInFlight} forwarded queries in flight`);
    this.outstanding++;
    const key = joinKey(q.qname, q.qtype, q.qclass);
    // Registered before the query leaves: a looped copy of it must find it out.
    let flight = this.flights.get(key);
    if (flight) flight.count++;
    else {
      flight = { count: 1, run: undefined };
      this.flights.set(key, flight);
    }
    const run = this.tryServers(q, protocol);
    flight.run ??= run;
    try {
      return await run;
    } finally {
      this.outstanding--;
      if (--flight.count <= 0) this.flights.delete(key);
      else if (flight.run === run) flight.run = undefined;
    }
  }

  /**
   * The reply of the earliest forward of this name and type still running, for a query that
   * would otherwise look like a loop (see Resolver). The reply is shared: copy before changing.
   */
  joinInFlight(qname: string, qtype: number, qclass: number): Promise<Forwarded> | undefined {
    return this.flights.get(joinKey(qname, qtype, qclass))?.run;
  }

  private async tryServers(q: Query, protocol: Protocol): Promise<Forwarded> {
    const { servers, allDown } = this.pool.order();
    if (servers.length === 0) throw new PldnsError('UPSTREAM_FAILED', 'no upstream servers configured');
    const timeoutMs = allDown ? Math.min(ALL_DOWN_TIMEOUT_MS, this.config.timeoutMs) : this.config.timeoutMs;
    let fallback: Forwarded | undefined;
    let lastError: unknown;
    let causes: string[] | undefined;
    for (const server of servers) {
      try {
        const got = await this.exchangeWithServer(server, q, protocol, timeoutMs);
        const rcode = got.reply[3] & RCODE_MASK;
        if (rcode === RCode.SERVFAIL || rcode === RCode.REFUSED) {
          fallback = got;
          this.recordFailure(server, rcode === RCode.SERVFAIL ? 'servfail' : 'refused');
          continue;
        }
        got.reply.writeUInt16BE(q.id, 0);
        return got;
      } catch (err) {
        lastError = err;
        causes ??= [];
        causes.push(`${server.label}: ${describeError(err)}`);
        this.recordFailure(server, isPldnsError(err) ? err.code : 'error');
      }
    }
    if (fallback) {
      fallback.reply.writeUInt16BE(q.id, 0);
      return fallback;
    }
    // Each server's own cause (a timeout, ECONNREFUSED from ICMP port unreachable...) in the message.
    throw new PldnsError('UPSTREAM_FAILED', `all ${servers.length} upstream(s) failed (${(causes ?? []).join('; ')})`, { cause: lastError });
  }

  private async exchangeWithServer(server: UpstreamServer, q: Query, protocol: Protocol, timeoutMs: number): Promise<Forwarded> {
    const id = this.ids.next();
    const query = buildUpstreamQuery(q, id);
    const questionEnd = q.questionEnd;
    const started = performance.now();
    let proto: Protocol = protocol;
    let result: ExchangeResult;
    try {
      if (protocol === 'udp') {
        result = await this.udp.exchange(server.address, query, questionEnd, timeoutMs);
        if (result.mismatches > 0) this.observer.exchange(server.label, 'udp', 'mismatch', 0);
        if ((result.reply.readUInt16BE(2) & FLAG_TC) !== 0) {
          this.observer.exchange(server.label, 'udp', 'truncated', seconds(started));
          proto = 'tcp';
          query.writeUInt16BE(this.ids.next(), 0);
          result = await tcpExchange(server.address, query, questionEnd, timeoutMs);
        }
      } else {
        result = await tcpExchange(server.address, query, questionEnd, timeoutMs);
      }
    } catch (err) {
      // Forged replies that never got a genuine one after them (a spoofing attempt) count too.
      if (isPldnsError(err, 'UPSTREAM_TIMEOUT') && (err.details?.mismatches ?? 0) > 0) this.observer.exchange(server.label, proto, 'mismatch', 0);
      this.observer.exchange(server.label, proto, isPldnsError(err, 'UPSTREAM_TIMEOUT') ? 'timeout' : 'error', seconds(started));
      throw err;
    }
    const scan = scanResponse(result.reply);
    if (!scan) {
      // Right ID and question but a body that does not parse: unusable, so try the next server.
      this.observer.exchange(server.label, proto, 'malformed', seconds(started));
      throw new PldnsError('UPSTREAM_BAD_REPLY', 'malformed reply');
    }
    const s = seconds(started);
    this.observer.exchange(server.label, proto, 'ok', s);
    if (this.pool.succeeded(server, s * 1000)) {
      this.observer.health(server.label, true);
      this.logger.info({ upstream: server.label }, 'upstream is healthy again');
    }
    return { reply: result.reply, scan };
  }

  private recordFailure(server: UpstreamServer, reason: string): void {
    if (this.pool.failed(server, reason)) {
      this.observer.health(server.label, false);
      this.logger.warn({ upstream: server.label, reason, failures: server.consecutiveFailures }, 'upstream marked down');
      this.ensureProber();
    }
  }

  /** Probes down servers every healthCheckInterval until all are back. */
  private ensureProber(): void {
    if (this.probeTimer) return;
    this.probeTimer = setInterval(() => void this.probeDown(), this.config.healthCheckIntervalMs);
    this.probeTimer.unref();
  }

  private async probeDown(): Promise<void> {
    if (this.probing) return;
    const down = this.pool.down;
    if (down.length === 0) {
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
      return;
    }
    this.probing = true;
    try {
      await Promise.all(down.map(async (server) => {
        const query = Buffer.alloc(HEADER_BYTES + PROBE_QUESTION.length);
        query.writeUInt16BE(this.ids.next(), 0);
        query.writeUInt16BE(FLAG_RD, 2);
        query.writeUInt16BE(1, 4);
        PROBE_QUESTION.copy(query, HEADER_BYTES);
        const started = performance.now();
        try {
          await this.udp.exchange(server.address, query, query.length, Math.min(this.config.timeoutMs, 1000));
          if (this.pool.succeeded(server, seconds(started) * 1000)) {
            this.observer.health(server.label, true);
            this.logger.info({ upstream: server.label }, 'upstream probe succeeded; marked healthy');
          }
        } catch {
          // Still down; the next tick probes again.
        }
      }));
    } finally {
      this.probing = false;
    }
  }

  close(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.udp.close();
  }
}

interface Flight {
  count: number;
  /** The earliest forward's reply while it runs (later forwards of the same key do not replace it). */
  run: Promise<Forwarded> | undefined;
}

/** The class is part of it: a CH question must never share an IN answer. */
function joinKey(qname: string, qtype: number, qclass: number): string {
  return `${qtype}/${qclass}/${qname}`;
}

function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
