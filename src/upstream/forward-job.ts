import { PldnsError, describeError, isPldnsError } from '../errors';
import { FLAG_TC, RCODE_MASK, RCode } from '../wire/constants';
import { scanResponse, type ResponseScan } from '../wire/message-scan';
import type { Protocol } from '../server/request';
import type { Query } from '../wire/query';
import { buildUpstreamQuery } from './upstream-query';
import type { ExchangeResult, ExchangeSink, UdpExchanger } from './udp-exchange';
import { tcpExchange } from './tcp-exchange';
import type { UpstreamServer } from './upstream-pool';
import type { ForwarderObserver, ForwardSink } from './upstream-forwarder';

/** What a job needs from the forwarder that runs it. */
export interface ForwardJobHost {
  readonly udp: UdpExchanger;
  readonly observer: ForwarderObserver;
  nextId(): number;
  serverSucceeded(server: UpstreamServer, rttMs: number): void;
  serverFailed(server: UpstreamServer, reason: string): void;
  /** The job has its outcome: forget it (flights, the count in flight) and keep it for reuse. */
  jobEnded(job: ForwardJob): void;
}

/** Per name, type and class out upstream (loop detection, joinInFlight): one node per key. */
export interface FlightNode {
  qtype: number;
  qclass: number;
  /** Forwards of this key out now. */
  count: number;
  /** The earliest forward still running (later forwards of the same key do not replace it). */
  run: ForwardJob | undefined;
  /** The other keys with the same name (the map holds the first). */
  prev: FlightNode | undefined;
  next: FlightNode | undefined;
}

/**
 * One forwarded query, through the servers in order until one gives a usable answer: a fresh ID
 * and socket per exchange, TC over UDP retried over TCP, SERVFAIL/REFUSED kept as the answer of
 * last resort, any failure moves on to the next server. It is the exchanges' sink itself, so a
 * forward allocates no promise or closure of its own over UDP; the forwarder reuses jobs.
 */
export class ForwardJob implements ExchangeSink {
  q: Query | undefined;
  flight: FlightNode | undefined;
  /** Between begin and the outcome. */
  private active = false;
  /** An exchange is out and will call back. */
  private pending = false;
  private protocol: Protocol = 'udp';
  private sink: ForwardSink | undefined;
  /** Others waiting for this forward's outcome (joinInFlight); rare. */
  private joiners: ForwardSink[] | undefined;
  private servers: readonly UpstreamServer[] = [];
  private index = 0;
  private timeoutMs = 0;
  private server: UpstreamServer | undefined;
  /** The transport of the exchange out now: 'tcp' after a truncated UDP reply. */
  private proto: Protocol = 'udp';
  private query: Buffer | undefined;
  private startedMs = 0;
  private fallbackReply: Buffer | undefined;
  private fallbackScan: ResponseScan | undefined;
  private lastError: unknown;
  private causes: string[] | undefined;
  private readonly onTcpReply = (r: ExchangeResult): void => this.exchanged(r.reply, r.mismatches);
  private readonly onTcpError = (err: unknown): void => this.exchangeFailed(err);

  constructor(private readonly host: ForwardJobHost) {}

  /** Starts the forward; the sink may be told before this returns (every send failed). */
  begin(q: Query, protocol: Protocol, sink: ForwardSink, servers: readonly UpstreamServer[], timeoutMs: number): void {
    this.q = q;
    this.protocol = protocol;
    this.sink = sink;
    this.servers = servers;
    this.index = 0;
    this.timeoutMs = timeoutMs;
    this.active = true;
    this.next();
  }

  join(sink: ForwardSink): void {
    this.joiners ??= [];
    this.joiners.push(sink);
  }

  private next(): void {
    const q = this.q as Query;
    if (this.index >= this.servers.length) {
      this.end();
      return;
    }
    const server = this.servers[this.index++];
    this.server = server;
    this.proto = this.protocol;
    const query = buildUpstreamQuery(q, this.host.nextId());
    this.query = query;
    this.startedMs = performance.now();
    this.pending = true;
    if (this.protocol === 'udp') this.host.udp.start(server.address, query, q.questionEnd, this.timeoutMs, this);
    else tcpExchange(server.address, query, q.questionEnd, this.timeoutMs).then(this.onTcpReply, this.onTcpError);
  }

  exchanged(reply: Buffer, mismatches: number): void {
    this.pending = false;
    const server = this.server as UpstreamServer;
    const { observer } = this.host;
    try {
      if (this.proto === 'udp') {
        if (mismatches > 0) observer.exchange(server.label, 'udp', 'mismatch', 0);
        if ((((reply[2] << 8) | reply[3]) & FLAG_TC) !== 0) {
          observer.exchange(server.label, 'udp', 'truncated', this.seconds());
          this.proto = 'tcp';
          const query = this.query as Buffer;
          query.writeUInt16BE(this.host.nextId(), 0);
          this.pending = true;
          tcpExchange(server.address, query, (this.q as Query).questionEnd, this.timeoutMs).then(this.onTcpReply, this.onTcpError);
          return;
        }
      }
      const scan = scanResponse(reply);
      if (!scan) {
        // Right ID and question but a body that does not parse: unusable, so try the next server.
        observer.exchange(server.label, this.proto, 'malformed', this.seconds());
        this.serverError(new PldnsError('UPSTREAM_BAD_REPLY', 'malformed reply'));
        return;
      }
      const s = this.seconds();
      observer.exchange(server.label, this.proto, 'ok', s);
      this.host.serverSucceeded(server, s * 1000);
      const rcode = reply[3] & RCODE_MASK;
      if (rcode === RCode.SERVFAIL || rcode === RCode.REFUSED) {
        this.fallbackReply = reply;
        this.fallbackScan = scan;
        this.host.serverFailed(server, rcode === RCode.SERVFAIL ? 'servfail' : 'refused');
        this.next();
        return;
      }
      this.succeed(reply, scan);
    } catch (err) {
      this.unexpected(err);
    }
  }

  exchangeFailed(err: unknown): void {
    this.pending = false;
    const server = this.server as UpstreamServer;
    const { observer } = this.host;
    try {
      const timeout = isPldnsError(err, 'UPSTREAM_TIMEOUT');
      // Forged replies that never got a genuine one after them (a spoofing attempt) count too.
      if (timeout && ((err.details?.mismatches as number | undefined) ?? 0) > 0) observer.exchange(server.label, this.proto, 'mismatch', 0);
      observer.exchange(server.label, this.proto, timeout ? 'timeout' : 'error', this.seconds());
      this.serverError(err);
    } catch (thrown) {
      this.unexpected(thrown);
    }
  }

  /**
   * Not expected (metrics and scanning do not throw): the query fails rather than the batch of
   * replies it came in. Rethrown when the job cannot own it: it has ended (a sink broke its
   * contract) or an exchange it started since is still out.
   */
  private unexpected(err: unknown): void {
    if (!this.active || this.pending) throw err;
    this.fail(err);
  }

  private serverError(err: unknown): void {
    const server = this.server as UpstreamServer;
    this.lastError = err;
    // Each server's own cause (a timeout, ECONNREFUSED from ICMP port unreachable...) in the message.
    this.causes ??= [];
    this.causes.push(`${server.label}: ${describeError(err)}`);
    this.host.serverFailed(server, isPldnsError(err) ? err.code : 'error');
    this.next();
  }

  /** Every server tried: the last SERVFAIL/REFUSED if one came, else a failure naming each cause. */
  private end(): void {
    const reply = this.fallbackReply;
    if (reply && this.fallbackScan) {
      this.succeed(reply, this.fallbackScan);
      return;
    }
    const n = this.servers.length;
    this.fail(new PldnsError('UPSTREAM_FAILED', `all ${n} upstream(s) failed (${(this.causes ?? []).join('; ')})`, { cause: this.lastError }));
  }

  private succeed(reply: Buffer, scan: ResponseScan): void {
    reply.writeUInt16BE((this.q as Query).id, 0);
    this.active = false;
    const { sink, joiners } = this;
    this.host.jobEnded(this);
    sink?.forwarded(reply, scan);
    if (joiners) for (const j of joiners) j.forwarded(reply, scan);
  }

  private fail(err: unknown): void {
    this.active = false;
    const { sink, joiners } = this;
    this.host.jobEnded(this);
    sink?.forwardFailed(err);
    if (joiners) for (const j of joiners) j.forwardFailed(err);
  }

  /** Drops every reference (called by the forwarder when the job is kept for reuse). */
  reset(): void {
    this.q = undefined;
    this.flight = undefined;
    this.sink = undefined;
    this.joiners = undefined;
    this.servers = [];
    this.server = undefined;
    this.query = undefined;
    this.fallbackReply = undefined;
    this.fallbackScan = undefined;
    this.lastError = undefined;
    this.causes = undefined;
  }

  private seconds(): number {
    return (performance.now() - this.startedMs) / 1000;
  }
}
