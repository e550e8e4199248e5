import type { Query } from './query';

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
  /** process.hrtime.bigint() at receipt, for the duration histogram. */
  readonly receivedAt: bigint;
}

/**
 * The contract between the wire and the resolver: answer bytes, or null to send nothing. The
 * returned bytes already carry the client's ID; the server only truncates for UDP.
 */
export type DnsHandler = (request: DnsRequest) => Buffer | null | Promise<Buffer | null>;

/** Admission before any answer (access list and rate limit): decided per datagram or frame. */
export type Admission = 'pass' | 'refuse' | 'drop' | 'slip';
export type AdmissionCheck = (client: ClientAddress, protocol: Protocol) => Admission;

/** Counters the servers report to; the app binds them to metrics. */
export interface EdgeCounters {
  dropped(reason: string): void;
  rejected(reason: string, protocol: Protocol): void;
  tcpConnections(delta: number): void;
  /** Datagrams read by one recvmmsg (batch engine only). */
  udpBatch(datagrams: number): void;
}
