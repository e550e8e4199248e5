import dgram from 'node:dgram';
import type { Logger } from '../log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { parseQuery } from './query';
import { buildRcodeResponse, buildRejectResponse, truncateResponse, udpLimit } from './response';
import { RCode } from './constants';
import type { AdmissionCheck, DnsHandler, EdgeCounters } from './edge';
import type { Query } from './query';

/**
 * Replies go to the address a datagram came from: always an IP literal. Node's default lookup
 * (dns.lookup) answers literals on the next tick, which costs every reply a deferred call.
 */
function literalLookup(address: string, _family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

export interface UdpServerOptions {
  readonly address: HostPort;
  readonly handler: DnsHandler;
  readonly admit: AdmissionCheck;
  readonly counters: EdgeCounters;
  readonly logger: Logger;
  readonly recvBufferBytes?: number;
}

/**
 * One UDP socket. Guards run before any parsing; every send is observed; a handler failure
 * costs that query a SERVFAIL, never the process.
 */
export class UdpServer {
  private socket: dgram.Socket | undefined;
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

  /** Swaps the pipeline without touching the socket (config reload). */
  setHandler(handler: DnsHandler, admit: AdmissionCheck): void {
    this.handler = handler;
    this.admit = admit;
  }

  async start(): Promise<number> {
    const { address } = this.options;
    const socket = dgram.createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6, lookup: literalLookup });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PldnsError('LISTEN_FAILED', `cannot bind ${this.label}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.bind(address.port, address.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (err) => this.options.logger.error({ err: err.message, listener: this.label }, 'udp socket error'));
    if (this.options.recvBufferBytes) {
      try {
        socket.setRecvBufferSize(this.options.recvBufferBytes);
        socket.setSendBufferSize(this.options.recvBufferBytes);
      } catch {
        // The kernel caps buffers at net.core.rmem_max; the default still works.
      }
    }
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    return socket.address().port;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closing) return;
    const counters = this.options.counters;
    const client = { address: rinfo.address, port: rinfo.port };
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
      if (admission === 'pass') this.send(buildRejectResponse(msg, parsed), rinfo);
      return;
    }
    if (admission === 'refuse') {
      counters.rejected('refused', 'udp');
      this.send(buildRcodeResponse(parsed, RCode.REFUSED), rinfo);
      return;
    }
    if (admission === 'slip') {
      this.send(truncateResponse(parsed, buildRcodeResponse(parsed, RCode.NOERROR)), rinfo);
      return;
    }
    let result: Buffer | null | Promise<Buffer | null>;
    try {
      result = this.handler({ query: parsed, client, protocol: 'udp', receivedAt: process.hrtime.bigint() });
    } catch (err) {
      this.handlerFailed(parsed, rinfo, err);
      return;
    }
    if (result instanceof Promise) {
      this.inFlight++;
      result.then(
        (bytes) => {
          if (bytes) this.sendAnswer(parsed, bytes, rinfo);
        },
        (err) => this.handlerFailed(parsed, rinfo, err),
      ).finally(() => this.settle());
    } else if (result) {
      this.sendAnswer(parsed, result, rinfo);
    }
  }

  private handlerFailed(q: Query, rinfo: dgram.RemoteInfo, err: unknown): void {
    this.options.counters.dropped('handler_error');
    this.options.logger.error({ err: err instanceof Error ? err.message : String(err), qname: q.qname }, 'query handler failed; answering SERVFAIL');
    this.send(buildRcodeResponse(q, RCode.SERVFAIL), rinfo);
  }

  private sendAnswer(q: Query, bytes: Buffer, rinfo: dgram.RemoteInfo): void {
    this.send(bytes.length > udpLimit(q.edns) ? truncateResponse(q, bytes) : bytes, rinfo);
  }

  private send(bytes: Buffer, rinfo: dgram.RemoteInfo): void {
    const socket = this.socket;
    if (!socket) return;
    // A shared callback (no closure per reply); without one Node drops send errors silently.
    socket.send(bytes, rinfo.port, rinfo.address, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.options.counters.dropped('send_error');
  };

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
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
