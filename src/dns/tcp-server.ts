import net from 'node:net';
import type { Logger } from '../log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { parseQuery, type Query } from './query';
import { buildRcodeResponse, buildRejectResponse } from './response';
import { RCode } from './constants';
import type { AdmissionCheck, DnsHandler, EdgeCounters } from './edge';

export interface TcpLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly idleTimeoutMs: number;
  readonly maxInFlight: number;
  readonly maxWriteBufferBytes: number;
  /** Frames handled per read before yielding to the event loop. */
  readonly framesPerTick: number;
}

export interface TcpServerOptions {
  readonly address: HostPort;
  readonly handler: DnsHandler;
  readonly admit: AdmissionCheck;
  readonly counters: EdgeCounters;
  readonly logger: Logger;
  readonly limits: TcpLimits;
}

/** A TCP query frame is at most 64 KiB by construction; queries are far smaller. */
const MAX_QUERY_FRAME_BYTES = 4096;

/**
 * RFC 7766 DNS over TCP: pipelined queries answered out of order, an idle timer that destroys,
 * caps on connections (total and per client), queries in flight (reading pauses above it) and
 * unread responses (a client that does not read is cut off).
 */
export class TcpServer {
  private server: net.Server | undefined;
  private handler: DnsHandler;
  private admit: AdmissionCheck;
  private readonly sockets = new Set<Connection>();
  private readonly perClient = new Map<string, number>();
  private closing = false;

  constructor(private readonly options: TcpServerOptions) {
    this.handler = options.handler;
    this.admit = options.admit;
  }

  get label(): string {
    return `tcp://${formatHostPort(this.options.address)}`;
  }

  setHandler(handler: DnsHandler, admit: AdmissionCheck): void {
    this.handler = handler;
    this.admit = admit;
  }

  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<number> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    this.server = server;
    server.maxConnections = this.options.limits.maxConnections;
    server.on('drop', () => this.options.counters.dropped('tcp_connection_cap'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PldnsError('LISTEN_FAILED', `cannot bind ${this.label}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      server.once('error', onError);
      const { host, port, family } = this.options.address;
      server.listen({ host, port, ipv6Only: family === 6, backlog: 511 }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.options.logger.error({ err: err.message, listener: this.label }, 'tcp server error'));
    return (server.address() as net.AddressInfo).port;
  }

  private onConnection(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    const count = (this.perClient.get(address) ?? 0) + 1;
    if (this.closing || count > this.options.limits.maxConnectionsPerClient) {
      this.options.counters.dropped(this.closing ? 'shutting_down' : 'tcp_client_cap');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.perClient.set(address, count);
    const conn = new Connection(socket, this);
    this.sockets.add(conn);
    this.options.counters.tcpConnections(1);
    socket.once('close', () => {
      this.sockets.delete(conn);
      const left = (this.perClient.get(address) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(address);
      else this.perClient.set(address, left);
      this.options.counters.tcpConnections(-1);
    });
  }

  /** @internal used by Connection */
  get context(): { handler: DnsHandler; admit: AdmissionCheck; options: TcpServerOptions } {
    return { handler: this.handler, admit: this.admit, options: this.options };
  }

  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    // Let connections with answers pending finish, then cut everything.
    const deadline = Date.now() + graceMs;
    while (graceMs > 0 && Date.now() < deadline && [...this.sockets].some((c) => c.busy)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const conn of this.sockets) conn.destroy();
    await closed;
  }
}

/** One client connection: frame reassembly, pipelining, backpressure. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private inFlight = 0;
  private paused = false;
  private scheduled = false;

  constructor(private readonly socket: net.Socket, private readonly server: TcpServer) {
    const { limits, logger } = server.context.options;
    socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
    socket.on('error', (err) => logger.debug({ err: err.message }, 'tcp client socket error'));
    socket.on('data', (chunk) => this.onData(chunk));
  }

  get busy(): boolean {
    return this.inFlight > 0 || this.socket.writableLength > 0;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    // A frame header announcing more than a query can be is abuse: hang up before buffering it.
    if (this.buffered.length >= 2 && this.buffered.readUInt16BE(0) > MAX_QUERY_FRAME_BYTES) {
      this.server.context.options.counters.dropped('tcp_frame_too_large');
      this.socket.destroy();
      return;
    }
    this.drain();
  }

  private drain(): void {
    this.scheduled = false;
    const { limits } = this.server.context.options;
    let frames = 0;
    while (!this.socket.destroyed && this.buffered.length >= 2) {
      if (this.inFlight >= limits.maxInFlight) {
        this.pause();
        return;
      }
      const len = this.buffered.readUInt16BE(0);
      if (len > MAX_QUERY_FRAME_BYTES) {
        this.server.context.options.counters.dropped('tcp_frame_too_large');
        this.socket.destroy();
        return;
      }
      if (this.buffered.length < 2 + len) break;
      const frame = this.buffered.subarray(2, 2 + len);
      this.buffered = this.buffered.subarray(2 + len);
      this.handleFrame(frame);
      if (++frames >= limits.framesPerTick && this.buffered.length >= 2) {
        // Yield so one connection cannot monopolise the loop with a long pipeline.
        this.pause();
        if (!this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.drain());
        }
        return;
      }
    }
    if (this.buffered.length === 0) this.buffered = Buffer.alloc(0);
    this.resume();
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resume(): void {
    if (this.paused && this.inFlight < this.server.context.options.limits.maxInFlight) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private handleFrame(frame: Buffer): void {
    const { handler, admit, options } = this.server.context;
    const counters = options.counters;
    // Copy: the frame is a view into a buffer that later reads may replace.
    const msg = Buffer.from(frame);
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') {
      counters.dropped(parsed.reason);
      return;
    }
    const client = { address: this.socket.remoteAddress ?? '', port: this.socket.remotePort ?? 0 };
    const admission = admit(client, 'tcp');
    if (admission === 'drop') {
      counters.dropped('rate_limit');
      return;
    }
    if (parsed.kind === 'reject') {
      counters.rejected(parsed.reason, 'tcp');
      if (admission === 'pass' || admission === 'slip') this.write(buildRejectResponse(msg, parsed));
      return;
    }
    if (admission === 'refuse') {
      counters.rejected('refused', 'tcp');
      this.write(buildRcodeResponse(parsed, RCode.REFUSED));
      return;
    }
    let result: Buffer | null | Promise<Buffer | null>;
    try {
      result = handler({ query: parsed, client, protocol: 'tcp', receivedAt: process.hrtime.bigint() });
    } catch (err) {
      this.failed(parsed, err);
      return;
    }
    if (result instanceof Promise) {
      this.inFlight++;
      result.then(
        (bytes) => {
          if (bytes) this.write(bytes);
        },
        (err) => this.failed(parsed, err),
      ).finally(() => {
        this.inFlight--;
        if (this.paused && !this.scheduled) this.drain();
      });
    } else if (result) {
      this.write(result);
    }
  }

  private failed(q: Query, err: unknown): void {
    const { options } = this.server.context;
    options.counters.dropped('handler_error');
    options.logger.error({ err: err instanceof Error ? err.message : String(err), qname: q.qname }, 'query handler failed; answering SERVFAIL');
    this.write(buildRcodeResponse(q, RCode.SERVFAIL));
  }

  private write(bytes: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    const frame = Buffer.allocUnsafe(2 + bytes.length);
    frame.writeUInt16BE(bytes.length, 0);
    bytes.copy(frame, 2);
    socket.write(frame);
    if (socket.writableLength > this.server.context.options.limits.maxWriteBufferBytes) {
      // The client is not reading its answers; do not hold memory for it.
      this.server.context.options.counters.dropped('tcp_slow_reader');
      socket.destroy();
    }
  }
}
