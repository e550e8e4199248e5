import type { HostPort } from '../config/units';
import type { Logger } from '../runtime/log';
import type { ClientAddress, PipelineCounters } from './request';

/** How a UDP listener moves datagrams: recvmmsg/sendmmsg batches (addon) or Node's dgram. */
export type UdpEngine = 'batch' | 'dgram';

/** Called once per received datagram; replies to it go through the transport while it runs. */
export type DatagramSink = (msg: Buffer, client: ClientAddress) => void;

/**
 * A bound UDP socket. `replyNow` answers the datagram being delivered (only inside the sink);
 * an answer that comes later needs `keepPeer()` taken inside the sink, then `replyLater`.
 */
export interface UdpTransport {
  readonly engine: UdpEngine;
  /** Binds and starts delivering; resolves with the bound port. */
  start(sink: DatagramSink): Promise<number>;
  replyNow(bytes: Buffer): void;
  keepPeer(): unknown;
  replyLater(peer: unknown, bytes: Buffer): void;
  close(): Promise<void>;
}

export interface UdpTransportOptions {
  readonly address: HostPort;
  readonly label: string;
  /** SO_RCVBUF/SO_SNDBUF wish (the kernel caps it at net.core.rmem_max/wmem_max). */
  readonly socketBufferBytes: number;
  readonly counters: PipelineCounters;
  readonly logger: Logger;
}
