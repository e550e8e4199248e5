import { detachQuery, type Query } from '../wire/query';

export type Protocol = 'udp' | 'tcp';

export interface ClientAddress {
  readonly address: string;
  readonly port: number;
}

/** What the servers hand to the answer pipeline: a query that passed the wire guards. */
export interface DnsRequest {
  readonly query: Query;
  readonly client: ClientAddress;
  readonly protocol: Protocol;
  /** queryClock.micros at receipt (monotonic µs modulo 2^30), for the duration histogram. */
  readonly receivedAt: number;
  /**
   * The transport copies the answer out before it serves the next query (the batch engine's
   * output slots): the handler may return bytes in a buffer it reuses (ScratchBuffer).
   */
  readonly replyCopied?: boolean;
}

/**
 * A request of its own for an answer that comes later: the pipeline's request, its query and its
 * client are reused for the next datagram (QueryParser), so whatever waits copies them first.
 */
export function detachRequest(req: DnsRequest): DnsRequest {
  return { query: detachQuery(req.query), client: { address: req.client.address, port: req.client.port }, protocol: req.protocol, receivedAt: req.receivedAt };
}

/**
 * The contract between the wire and the resolver: answer bytes, or null to send nothing. The
 * returned bytes already carry the client's ID; the server only truncates for UDP.
 */
export type DnsHandler = (request: DnsRequest) => Buffer | null | Promise<Buffer | null>;

/**
 * The zone side of the edge (zone transfer, NOTIFY, SOA of a published zone). It sees messages the
 * query pipeline does not answer: queries it claims, and messages the hot-path guard rejected
 * (NOTIFY, TSIG-signed or IXFR requests) which it may take over. Admission (access.allow, the rate
 * limits) comes first; the service then applies transfer.allow, TSIG and its primaries itself.
 */
export interface ZoneService {
  /** Cheap test on the per-query path: AXFR/IXFR, or a name inside a zone this instance serves. */
  claims(query: Query): boolean;
  /** The reply to a claimed query or a rejected message; undefined when the message is not its business. */
  handle(msg: Buffer, client: ClientAddress, protocol: Protocol): ZoneReply | Promise<ZoneReply> | undefined;
  /** Whether a TCP connection from `address` could carry a request this service would serve; absent: yes. */
  acceptsConnection?(address: string): boolean;
  /**
   * Whether the service names `address` itself (a transfer.allow network, a configured primary):
   * such a source outside access.allow is served as usual; any other one outside it is held to the
   * REFUSED rate limit over UDP whatever it sends. Absent: no source is.
   */
  trusts?(address: string): boolean;
}

/** One message, several (a zone transfer over TCP, written with backpressure), or nothing. */
export type ZoneReply = Buffer | Iterable<Buffer> | null;

/** Admission before any answer (access list and rate limit): decided per datagram or frame. */
export type Admission = 'pass' | 'refuse' | 'drop' | 'slip';
export type AdmissionCheck = (client: ClientAddress, protocol: Protocol) => Admission;

/** Counters the servers report to; the app binds them to metrics. */
export interface PipelineCounters {
  dropped(reason: string): void;
  rejected(reason: string, protocol: Protocol): void;
  tcpConnections(delta: number): void;
  /** Datagrams read by one recvmmsg (batch engine only). */
  udpBatch(datagrams: number): void;
}
