import type { Logger } from '../runtime/log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { loadNativeAddon, type NativeAddonLoad } from '../native/addon';
import type { ClientAddress } from './request';
import type { PipelineOutput, QueryPipeline } from './pipeline';
import { BatchTransport } from './udp-batch';
import { DgramTransport } from './udp-dgram';
import type { UdpEngine, UdpTransport, UdpTransportOptions } from './udp-transport';

/** `listen.udp_io`: batch needs the addon; auto takes it when it loads, dgram otherwise. */
export type UdpIoSetting = 'auto' | UdpEngine;

export interface UdpServerOptions {
  readonly address: HostPort;
  readonly pipeline: QueryPipeline;
  readonly logger: Logger;
  readonly udpIo?: UdpIoSetting;
  readonly recvBufferBytes?: number;
  /** Where the addon comes from (tests replace it to see the fallback). */
  readonly loadBatch?: () => NativeAddonLoad;
}

/**
 * One UDP listener: moves datagrams between a transport (batched recvmmsg/sendmmsg through the
 * addon, or Node's dgram) and the query pipeline, and tracks answers still to come for a graceful close.
 */
export class UdpServer {
  private transport: UdpTransport | undefined;
  private inFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  /**
   * One output for every datagram: `send` answers the datagram the transport is delivering. The
   * batch engine copies it into its output slots at once (copiesReplies, set at start) and reads
   * the clock once per batch (stampsArrival); dgram keeps the buffer until it is sent.
   */
  private readonly output: PipelineOutput & { copiesReplies: boolean; stampsArrival: boolean } = {
    copiesReplies: false,
    stampsArrival: false,
    send: (bytes) => this.transport?.replyNow(bytes),
    hold: () => {
      const io = this.transport;
      if (!io) return () => {};
      const peer = io.keepPeer();
      this.inFlight++;
      return (bytes) => {
        if (bytes) io.replyLater(peer, bytes);
        this.settle();
      };
    },
  };

  constructor(private readonly options: UdpServerOptions) {}

  get label(): string {
    return `udp://${formatHostPort(this.options.address)}`;
  }

  /** The engine in use once started. */
  get engine(): UdpEngine | undefined {
    return this.transport?.engine;
  }

  async start(): Promise<number> {
    const transport = this.createTransport();
    this.transport = transport;
    this.output.copiesReplies = transport.engine === 'batch';
    this.output.stampsArrival = transport.engine === 'batch';
    return transport.start((msg, client) => this.onDatagram(msg, client));
  }

  private createTransport(): UdpTransport {
    const { address, pipeline, logger } = this.options;
    const counters = pipeline.pipelineCounters;
    const setting = this.options.udpIo ?? 'auto';
    const options: UdpTransportOptions = { address, label: this.label, socketBufferBytes: this.options.recvBufferBytes ?? 0, counters, logger };
    if (setting === 'dgram') return new DgramTransport(options);
    const load = (this.options.loadBatch ?? loadNativeAddon)();
    if (load.ok) return new BatchTransport(load.binding, options);
    if (setting === 'batch') throw new PldnsError('LISTEN_FAILED', `cannot open ${this.label} with listen.udp_io "batch": ${load.reason}`);
    logger.warn({ listener: this.label, reason: load.reason }, "UDP batch I/O unavailable; using Node's dgram");
    return new DgramTransport(options);
  }

  private onDatagram(msg: Buffer, client: ClientAddress): void {
    if (this.closing) return;
    this.options.pipeline.serve(msg, client, 'udp', this.output);
  }

  private settle(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.drained) this.drained();
  }

  /** Stops reading, lets in-flight queries finish (bounded by `graceMs`), closes the socket. */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    if (this.inFlight > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const transport = this.transport;
    this.transport = undefined;
    await transport?.close();
  }
}
