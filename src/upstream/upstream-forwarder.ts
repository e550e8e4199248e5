import type { Logger } from '../runtime/log';
import { PldnsError } from '../errors';
import { CLASS_IN, FLAG_RD, HEADER_BYTES, RRType } from '../wire/constants';
import type { ResponseScan } from '../wire/message-scan';
import type { Protocol } from '../server/request';
import type { Query } from '../wire/query';
import { RandomIds } from './random-id';
import { dgramExchanger, exchangeOnce, type UdpExchanger } from './udp-exchange';
import { UpstreamPool, type UpstreamServer } from './upstream-pool';
import { ForwardJob, type FlightNode, type ForwardJobHost } from './forward-job';
import type { UpstreamConfig } from '../config/schema';

/** An upstream's reply (the client's ID restored) and its scan, which callers reuse. */
export interface Forwarded {
  readonly reply: Buffer;
  readonly scan: ResponseScan;
}

/**
 * Told once how a forward ended (forwardTo): the caller's own per-query object, so a forward needs
 * no promise. `reply` has the client's ID restored; `err` is a PldnsError (UPSTREAM_FAILED).
 * Must not throw.
 */
export interface ForwardSink {
  forwarded(reply: Buffer, scan: ResponseScan): void;
  forwardFailed(err: unknown): void;
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

/** Jobs kept for reuse at most (the in-flight cap is 2000 by default). */
const JOB_POOL_MAX = 4096;

/**
 * Forwards a query to the upstreams: a fresh ID and socket (random
 * port) per exchange, replies checked per RFC 5452, TC over UDP retried over TCP, TCP clients
 * forwarded over TCP, a timeout or failure moves on to the next server. Returns the upstream's reply bytes
 * with the client's ID restored, and their scan; SERVFAIL/REFUSED replies count as failures but
 * are returned when nothing better came. Each forward is a ForwardJob (forward-job.ts), reused.
 */
export class UpstreamForwarder implements ForwardJobHost {
  private poolValue: UpstreamPool;
  private readonly ids = new RandomIds();
  /** Per name: the (type, class) keys out upstream, with their counts and earliest forward. */
  private readonly flights = new Map<string, FlightNode>();
  private readonly freeJobs: ForwardJob[] = [];
  private readonly freeNodes: FlightNode[] = [];
  private outstanding = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private config: UpstreamConfig,
    readonly observer: ForwarderObserver,
    private readonly logger: Logger,
    private maxInFlight = 2000,
    readonly udp: UdpExchanger = dgramExchanger,
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
    return this.flightOf(qname, qtype, qclass) !== undefined;
  }

  /** Whether `address` is one of our upstreams' hosts. */
  isUpstreamHost(address: string): boolean {
    // Asked for every miss from a client on an upstream's host (loopback upstreams): no closure.
    const a = address.startsWith('::ffff:') ? address.slice(7) : address;
    for (const s of this.pool.servers) if (s.address.host === a) return true;
    return false;
  }

  /** forwardTo as a promise (tests, rare paths). */
  forward(q: Query, protocol: Protocol): Promise<Forwarded> {
    return new Promise((resolve, reject) => this.forwardTo(q, protocol, { forwarded: (reply, scan) => resolve({ reply, scan }), forwardFailed: reject }));
  }

  /**
   * Forwards `q` and tells `sink` the outcome once; that may happen before this returns (over the
   * in-flight cap, no servers, every send failed at once).
   */
  forwardTo(q: Query, protocol: Protocol, sink: ForwardSink): void {
    // Bound the memory and sockets a flood of cache misses can take; past it, fail fast.
    if (this.outstanding >= this.maxInFlight) {
      sink.forwardFailed(new PldnsError('UPSTREAM_FAILED', `over ${this.maxInFlight} forwarded queries in flight`));
      return;
    }
    const { servers, allDown } = this.pool.order();
    if (servers.length === 0) {
      sink.forwardFailed(new PldnsError('UPSTREAM_FAILED', 'no upstream servers configured'));
      return;
    }
    const timeoutMs = allDown ? Math.min(ALL_DOWN_TIMEOUT_MS, this.config.timeoutMs) : this.config.timeoutMs;
    this.outstanding++;
    const job = this.freeJobs.pop() ?? new ForwardJob(this);
    // Registered before the query leaves: a looped copy of it must find it out.
    const flight = this.enterFlight(q.qname, q.qtype, q.qclass);
    flight.run ??= job;
    job.flight = flight;
    job.begin(q, protocol, sink, servers, timeoutMs);
  }

  /**
   * The outcome of the earliest forward of this name and type still running, for a query that
   * would otherwise look like a loop (see Resolver). The reply is shared: copy before changing.
   */
  joinInFlight(qname: string, qtype: number, qclass: number): Promise<Forwarded> | undefined {
    const job = this.flightOf(qname, qtype, qclass)?.run;
    if (!job) return undefined;
    return new Promise((resolve, reject) => job.join({ forwarded: (reply, scan) => resolve({ reply, scan }), forwardFailed: reject }));
  }

  nextId(): number {
    return this.ids.next();
  }

  serverSucceeded(server: UpstreamServer, rttMs: number): void {
    if (this.pool.succeeded(server, rttMs)) {
      this.observer.health(server.label, true);
      this.logger.info({ upstream: server.label }, 'upstream is healthy again');
    }
  }

  serverFailed(server: UpstreamServer, reason: string): void {
    this.recordFailure(server, reason);
  }

  jobEnded(job: ForwardJob): void {
    this.outstanding--;
    const flight = job.flight;
    const q = job.q;
    if (flight && q) {
      if (flight.run === job) flight.run = undefined;
      if (--flight.count <= 0) this.leaveFlight(q.qname, flight);
    }
    job.reset();
    if (this.freeJobs.length < JOB_POOL_MAX) this.freeJobs.push(job);
  }

  private flightOf(qname: string, qtype: number, qclass: number): FlightNode | undefined {
    // The class is part of the key: a CH question must never share an IN answer.
    for (let n = this.flights.get(qname); n !== undefined; n = n.next) if (n.qtype === qtype && n.qclass === qclass) return n;
    return undefined;
  }

  /** One map read, and one write when the name is new: this runs for every miss. */
  private enterFlight(qname: string, qtype: number, qclass: number): FlightNode {
    const head = this.flights.get(qname);
    for (let n = head; n !== undefined; n = n.next) {
      if (n.qtype === qtype && n.qclass === qclass) {
        n.count++;
        return n;
      }
    }
    const node = this.freeNodes.pop() ?? { qtype: 0, qclass: 0, count: 0, run: undefined, prev: undefined, next: undefined };
    node.qtype = qtype;
    node.qclass = qclass;
    node.count = 1;
    node.run = undefined;
    node.prev = undefined;
    node.next = head;
    if (head) head.prev = node;
    this.flights.set(qname, node);
    return node;
  }

  /** One map write (or delete) for the name's first node, none for the others. */
  private leaveFlight(qname: string, node: FlightNode): void {
    if (node.prev) {
      node.prev.next = node.next;
      if (node.next) node.next.prev = node.prev;
    } else if (node.next) {
      node.next.prev = undefined;
      this.flights.set(qname, node.next);
    } else {
      this.flights.delete(qname);
    }
    node.prev = node.next = node.run = undefined;
    if (this.freeNodes.length < JOB_POOL_MAX) this.freeNodes.push(node);
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
          await exchangeOnce(this.udp, server.address, query, query.length, Math.min(this.config.timeoutMs, 1000));
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

function seconds(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}
