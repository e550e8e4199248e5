import type { Logger } from '../log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { loadUdpBatch, type BindingLoad } from '../native/binding';
import { parseQuery } from './query';
import { buildRcodeResponse, buildRejectResponse, truncateResponse, udpLimit } from './response';
import { RCode } from './constants';
import type { AdmissionCheck, ClientAddress, DnsHandler, EdgeCounters } from './edge';
import type { Query } from './query';
import { BatchTransport } from './udp-batch';
import { DgramTransport } from './udp-dgram';
import type { UdpEngine, UdpTransport, UdpTransportOptions } from './udp-transport';

/** `listen.udp_io`: batch needs the addon; auto takes it when it loads, dgram otherwise. */
export type UdpIoSetting = 'auto' | UdpEngine;

export interface UdpServerOptions {
  readonly address: HostPort;
  readonly handler: DnsHandler;
  readonly admit: AdmissionCheck;
  readonly counters: EdgeCounters;
  readonly logger: Logger;
  readonly udpIo?: UdpIoSetting;
  readonly recvBufferBytes?: number;
  /** Where the addon comes from (tests replace it to see the fallback). */
  readonly loadBatch?: () => BindingLoad;
}

/**
 * One UDP listener. Guards run before any parsing; every send is observed; a handler failure
 * costs that query a SERVFAIL, never the process. The socket itself is a transport: batched
 * recvmmsg/sendmmsg through the addon, or Node's dgram.
 */
export class UdpServer {
  private transport: UdpTransport | undefined;
  private handler: DnsHandler;
  private admit: AdmissionCheck;
  private inFlight = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  constructor(private readonly options: UdpServerOptions) {
    this.handler = options.handler;
    this.admit = options.admit;
  }

  get label(): string {
    return `udp://${formatHostPort(this.options.address)}`;
  }

  /** The engine in use once started. */
  get engine(): UdpEngine | undefined {
    return this.transport?.engine;
  }

  /** Swaps the pipeline without touching the socket (config reload). */
  setHandler(handler: DnsHandler, admit: AdmissionCheck): void {
    this.handler = handler;
    this.admit = admit;
  }

  async start(): Promise<number> {
    const transport = this.createTransport();
    this.transport = transport;
    return transport.start((msg, client) => this.onDatagram(transport, msg, client));
  }

  private createTransport(): UdpTransport {
    const { address, counters, logger } = this.options;
    const setting = this.options.udpIo ?? 'auto';
    const options: UdpTransportOptions = { address, label: this.label, socketBufferBytes: this.options.recvBufferBytes ?? 0, counters, logger };
    if (setting === 'dgram') return new DgramTransport(options);
    const load = (this.options.loadBatch ?? loadUdpBatch)();
    if (load.ok) return new BatchTransport(load.binding, options);
    if (setting === 'batch') throw new PldnsError('LISTEN_FAILED', `cannot open ${this.label} with listen.udp_io "batch": ${load.reason}`);
    logger.warn({ listener: this.label, reason: load.reason }, "UDP batch I/O unavailable; using Node's dgram");
    return new DgramTransport(options);
  }

  private onDatagram(io: UdpTransport, msg: Buffer, client: ClientAddress): void {
    if (this.closing) return;
    const counters = this.options.counters;
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') {
      counters.dropped(parsed.reason);
      return;
    }
    const admission = this.admit(client, 'udp');
    if (admission === 'drop') {
      counters.dropped('rate_limit');
      return;
    }
    if (parsed.kind === 'reject') {
      counters.rejected(parsed.reason, 'udp');
      if (admission === 'pass') io.replyNow(buildRejectResponse(msg, parsed));
      return;
    }
    if (admission === 'refuse') {
      counters.rejected('refused', 'udp');
      io.replyNow(buildRcodeResponse(parsed, RCode.REFUSED));
      return;
    }
    if (admission === 'slip') {
      io.replyNow(truncateResponse(parsed, buildRcodeResponse(parsed, RCode.NOERROR)));
      return;
    }
    let result: Buffer | null | Promise<Buffer | null>;
    try {
      result = this.handler({ query: parsed, client, protocol: 'udp', receivedAt: process.hrtime.bigint() });
    } catch (err) {
      io.replyNow(this.handlerFailed(parsed, err));
      return;
    }
    if (result instanceof Promise) {
      const peer = io.keepPeer();
      this.inFlight++;
      result.then(
        (bytes) => {
          if (bytes) io.replyLater(peer, fitUdp(parsed, bytes));
        },
        (err) => io.replyLater(peer, this.handlerFailed(parsed, err)),
      ).finally(() => this.settle());
    } else if (result) {
      io.replyNow(fitUdp(parsed, result));
    }
  }

  private handlerFailed(q: Query, err: unknown): Buffer {
    this.options.counters.dropped('handler_error');
    this.options.logger.error({ err: err instanceof Error ? err.message : String(err), qname: q.qname }, 'query handler failed; answering SERVFAIL');
    return buildRcodeResponse(q, RCode.SERVFAIL);
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

function fitUdp(q: Query, bytes: Buffer): Buffer {
  return bytes.length > udpLimit(q.edns) ? truncateResponse(q, bytes) : bytes;
}
