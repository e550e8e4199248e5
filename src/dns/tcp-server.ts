import net from 'node:net';
import type { Logger } from '../log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { MAX_QUERY_BYTES } from './constants';
import type { EdgeCounters } from './edge';
import type { EdgeOutput, EdgePipeline } from './edge-pipeline';
import { StreamScheduler } from './stream-scheduler';

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
  readonly pipeline: EdgePipeline;
  readonly logger: Logger;
  readonly limits: TcpLimits;
}


/**
 * RFC 7766 DNS over TCP: pipelined queries answered out of order, an idle timer that destroys,
 * caps on connections (total and per client), queries in flight (reading pauses above it) and
 * unread responses (a client that does not read is cut off).
 */
export class TcpServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<Connection>();
  private readonly perClient = new Map<string, number>();
  private closing = false;

  readonly counters: EdgeCounters;
  /** Every transfer stream of this listener takes turns here. */
  readonly streams = new StreamScheduler();

  constructor(readonly options: TcpServerOptions) {
    this.counters = options.pipeline.edgeCounters;
  }

  get label(): string {
    return `tcp://${formatHostPort(this.options.address)}`;
  }

  async start(): Promise<number> {
    // Half-open: a client may send its queries and then FIN (shut down writing); it still gets every
    // answer, the last of a zone transfer included, and we close once nothing is left to send.
    const server = net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (socket) => this.onConnection(socket));
    this.server = server;
    server.maxConnections = this.options.limits.maxConnections;
    server.on('drop', () => this.counters.dropped('tcp_connection_cap'));
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
      this.counters.dropped(this.closing ? 'shutting_down' : 'tcp_client_cap');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.perClient.set(address, count);
    const conn = new Connection(socket, this);
    this.sockets.add(conn);
    this.counters.tcpConnections(1);
    socket.once('close', () => {
      this.sockets.delete(conn);
      const left = (this.perClient.get(address) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(address);
      else this.perClient.set(address, left);
      this.counters.tcpConnections(-1);
    });
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
  /** The client sent FIN: no more queries will come. */
  private readEnded = false;
  private readonly output: EdgeOutput;

  constructor(private readonly socket: net.Socket, private readonly server: TcpServer) {
    const { limits, logger } = server.options;
    socket.setTimeout(limits.idleTimeoutMs, () => socket.destroy());
    socket.on('error', (err) => logger.debug({ err: err.message }, 'tcp client socket error'));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => {
      this.readEnded = true;
      this.endIfDone();
    });
    this.output = {
      send: (bytes) => this.write(bytes),
      hold: () => {
        this.inFlight++;
        return (bytes) => {
          if (bytes) this.write(bytes);
          this.settle();
        };
      },
      stream: (messages) => {
        this.inFlight++;
        this.writeStream(messages).finally(() => this.settle());
      },
    };
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
    if (this.buffered.length >= 2 && this.buffered.readUInt16BE(0) > MAX_QUERY_BYTES) {
      this.server.counters.dropped('tcp_frame_too_large');
      this.socket.destroy();
      return;
    }
    this.drain();
  }

  private drain(): void {
    this.scheduled = false;
    const { limits } = this.server.options;
    let frames = 0;
    while (!this.socket.destroyed && this.buffered.length >= 2) {
      if (this.inFlight >= limits.maxInFlight) {
        this.pause();
        return;
      }
      const len = this.buffered.readUInt16BE(0);
      if (len > MAX_QUERY_BYTES) {
        this.server.counters.dropped('tcp_frame_too_large');
        this.socket.destroy();
        return;
      }
      if (this.buffered.length < 2 + len) break;
      // Copy: the frame is a view into a buffer that later reads may replace.
      const frame = Buffer.from(this.buffered.subarray(2, 2 + len));
      this.buffered = this.buffered.subarray(2 + len);
      const client = { address: this.socket.remoteAddress ?? '', port: this.socket.remotePort ?? 0 };
      this.server.options.pipeline.serve(frame, client, 'tcp', this.output);
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
    this.endIfDone();
  }

  private settle(): void {
    this.inFlight--;
    if (this.paused && !this.scheduled) this.drain();
    else this.endIfDone();
  }

  /** After the client's FIN: close our side once every answer is written (an incomplete frame never will be). */
  private endIfDone(): void {
    if (!this.readEnded || this.inFlight > 0 || this.socket.destroyed || this.socket.writableEnded) return;
    const b = this.buffered;
    if (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) return;
    this.socket.end();
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resume(): void {
    if (this.paused && this.inFlight < this.server.options.limits.maxInFlight) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private write(bytes: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.write(frameOf(bytes));
    if (socket.writableLength > this.server.options.limits.maxWriteBufferBytes) {
      // The client is not reading its answers; do not hold memory for it.
      this.server.counters.dropped('tcp_slow_reader');
      socket.destroy();
    }
  }

  /**
   * Several messages (a zone transfer), one per turn of the listener's stream scheduler, so
   * transfers take turns with each other and with queries; a message is taken from `messages`
   * only when it is its turn (a lazily built zone is built as it is sent). Writing waits while
   * the socket holds more than half the write buffer, so a slow reader holds only its own
   * connection and at most one buffer's worth of memory; the idle timer ends a reader that stops.
   */
  private writeStream(messages: Iterable<Buffer>): Promise<void> {
    const socket = this.socket;
    const { counters, options, streams } = this.server;
    const roomBytes = options.limits.maxWriteBufferBytes / 2;
    const it = messages[Symbol.iterator]();
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        socket.off('drain', resume);
        socket.off('close', resume);
        // Stopped early (the connection went away): let the source know it was cut short.
        try {
          it.return?.();
        } catch {
          // nothing left to clean up
        }
        resolve();
      };
      const resume = (): void => {
        socket.off('drain', resume);
        socket.off('close', resume);
        if (!finished) streams.add(step);
      };
      const step = (): boolean => {
        if (socket.destroyed) {
          finish();
          return false;
        }
        let next: IteratorResult<Buffer>;
        try {
          next = it.next();
        } catch (err) {
          counters.dropped('handler_error');
          options.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'zone transfer stream failed; connection closed');
          socket.destroy();
          finish();
          return false;
        }
        if (next.done) {
          finish();
          return false;
        }
        socket.write(frameOf(next.value));
        if (socket.writableLength > roomBytes && !socket.destroyed) {
          socket.on('drain', resume);
          socket.on('close', resume);
          return false;
        }
        return true;
      };
      streams.add(step);
    });
  }
}

function frameOf(bytes: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + bytes.length);
  frame.writeUInt16BE(bytes.length, 0);
  bytes.copy(frame, 2);
  return frame;
}
