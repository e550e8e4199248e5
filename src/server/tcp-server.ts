import net from 'node:net';
import type { Logger } from '../runtime/log';
import { PldnsError } from '../errors';
import { formatHostPort, type HostPort } from '../config/units';
import { MAX_QUERY_BYTES } from '../wire/constants';
import { ScratchBuffer } from '../wire/scratch-buffer';
import { frameMessage, TcpFrameReader } from '../wire/tcp-frames';
import type { ClientAddress, PipelineCounters } from './request';
import type { PipelineOutput, QueryPipeline } from './pipeline';
import { queryClock } from './query-clock';
import { StreamScheduler } from './stream-scheduler';
import { TcpReplyBatch, type ReplyTarget } from './tcp-reply-batch';

export interface TcpLimits {
  /** Open connections of every listener sharing one TcpSlots. */
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  /** A connection with nothing in flight and no complete message for this long is closed. */
  readonly idleTimeoutMs: number;
  /** A frame must be complete this long after its first byte; later bytes do not extend it. */
  readonly frameTimeoutMs: number;
  readonly maxInFlight: number;
  readonly maxWriteBufferBytes: number;
  /** Frames handled per read before yielding to the event loop. */
  readonly framesPerTick: number;
  /**
   * A zone transfer stream must be written whole within this long of its start; absent:
   * DEFAULT_TRANSFER_TIMEOUT_MS. (Each wait for the reader is also bounded by idleTimeoutMs.)
   */
  readonly transferTimeoutMs?: number;
}

/**
 * A whole transfer of the largest zone the hub publishes (a 16 MiB table) takes seconds on a
 * data-center network; an edge gives up on one after primaries.timeout (10 s by default). A reader
 * slower than this holds a connection and a stream slot for nothing.
 */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 60_000;

export interface TcpServerOptions {
  readonly address: HostPort;
  readonly pipeline: QueryPipeline;
  readonly logger: Logger;
  readonly limits: TcpLimits;
  /** Shared by every listener so the caps are totals; a server alone gets its own. */
  readonly slots?: TcpSlots;
}

/** How often the deadlines of open connections are checked. */
const SWEEP_INTERVAL_MS = 250;

/**
 * The open connections of all TCP listeners, by client address, and the deadline sweep. A timer
 * per server would work too; one sweep over at most maxConnections entries is cheaper than
 * re-arming a timer for every chunk read.
 */
export class TcpSlots {
  readonly all = new Set<Connection>();
  readonly byClient = new Map<string, Set<Connection>>();
  private sweeper: NodeJS.Timeout | undefined;

  add(conn: Connection): void {
    this.all.add(conn);
    let mine = this.byClient.get(conn.address);
    if (!mine) {
      mine = new Set();
      this.byClient.set(conn.address, mine);
    }
    mine.add(conn);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.sweeper.unref();
    }
  }

  /** Idempotent: called when a connection is shed (at once) and again when its socket closes. */
  remove(conn: Connection): boolean {
    if (!this.all.delete(conn)) return false;
    const mine = this.byClient.get(conn.address);
    mine?.delete(conn);
    if (mine?.size === 0) this.byClient.delete(conn.address);
    if (this.all.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    return true;
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.all) conn.checkDeadlines(now);
  }
}

/** The connection in `set` that has been idle longest (nothing in flight, nothing unwritten), if any. */
function oldestIdle(set: Iterable<Connection>): Connection | undefined {
  let victim: Connection | undefined;
  for (const conn of set) {
    if (!conn.busy && (victim === undefined || conn.idleSince < victim.idleSince)) victim = conn;
  }
  return victim;
}

/**
 * RFC 7766 DNS over TCP: pipelined queries answered out of order, caps on connections (total and
 * per client), queries in flight (reading pauses above it) and unread responses (a client that
 * does not read is cut off). Against slowloris (§10): sources every query would refuse are
 * refused at accept; a frame must be complete within frameTimeoutMs of its first byte and a
 * connection is idle from its last complete message, so trickled bytes buy nothing; at a cap a
 * new connection sheds the oldest idle one (of that client at the per-client cap) instead of being
 * turned away.
 */
export class TcpServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<Connection>();
  private readonly slots: TcpSlots;
  private closing = false;

  readonly counters: PipelineCounters;
  /** Every transfer stream of this listener takes turns here. */
  readonly streams = new StreamScheduler();
  /** The answers to the queries of one read, written together (every connection's in turn). */
  readonly replies = new TcpReplyBatch();
  /** The query being served, copied out of the read chunks (serving is synchronous: one for all connections). */
  readonly query = new ScratchBuffer(MAX_QUERY_BYTES);

  constructor(readonly options: TcpServerOptions) {
    this.counters = options.pipeline.pipelineCounters;
    this.slots = options.slots ?? new TcpSlots();
  }

  get label(): string {
    return `tcp://${formatHostPort(this.options.address)}`;
  }

  async start(): Promise<number> {
    // allowHalfOpen: a client that shuts down its sending side after its queries still gets every
    // answer (RFC 1035 §4.2.2); the connection ends once nothing is outstanding.
    const server = net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (socket) => this.onConnection(socket));
    this.server = server;
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

  private refuse(socket: net.Socket, reason: string): void {
    this.counters.dropped(reason);
    socket.on('error', () => {});
    socket.destroy();
  }

  private onConnection(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    if (this.closing) {
      this.refuse(socket, 'shutting_down');
      return;
    }
    if (!this.options.pipeline.admitsConnection({ address, port: socket.remotePort ?? 0 })) {
      this.refuse(socket, 'tcp_refused');
      return;
    }
    const { limits } = this.options;
    const slots = this.slots;
    const mine = slots.byClient.get(address);
    if (mine && mine.size >= limits.maxConnectionsPerClient) {
      const victim = oldestIdle(mine);
      if (!victim) {
        this.refuse(socket, 'tcp_client_cap');
        return;
      }
      victim.shed('tcp_client_shed');
    }
    if (slots.all.size >= limits.maxConnections) {
      const victim = oldestIdle(slots.all);
      if (!victim) {
        this.refuse(socket, 'tcp_connection_cap');
        return;
      }
      victim.shed('tcp_idle_shed');
    }
    const conn = new Connection(socket, address, this);
    this.sockets.add(conn);
    slots.add(conn);
    this.counters.tcpConnections(1);
    socket.once('close', () => {
      this.sockets.delete(conn);
      this.release(conn);
    });
  }

  /** Frees the connection's slot; the gauge moves once however often this is called. */
  release(conn: Connection): void {
    if (this.slots.remove(conn)) this.counters.tcpConnections(-1);
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

/** One client connection: frame reassembly, pipelining, backpressure, deadlines. */
class Connection implements ReplyTarget {
  private readonly frames = new TcpFrameReader();
  /** The peer, read once: handed to the pipeline with every query (which copies it to keep it). */
  private readonly client: ClientAddress;
  private inFlight = 0;
  private paused = false;
  private scheduled = false;
  private readonly output: PipelineOutput;
  /** Date.now() of the connect, the last complete frame or the last answer written. */
  idleSince = Date.now();
  /** Date.now() when the first byte of the incomplete frame at the head arrived; -1 without one. */
  private frameStartedAt = -1;
  /** The client sent FIN: answer what is outstanding, then end our side. */
  private readEnded = false;
  /** Transfer streams being written: when each started, and since when it has been waiting on a reader that took nothing (-1: not waiting). */
  private readonly streams = new Set<StreamProgress>();
  /** A transfer was written on this connection (unread bytes may sit in the kernel). */
  private streamed = false;
  /** Date.now() when `cut` ended the connection after a transfer; -1 while it has not. */
  private endedAt = -1;

  constructor(private readonly socket: net.Socket, readonly address: string, private readonly server: TcpServer) {
    const { limits, logger } = server.options;
    this.client = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    // No socket activity for the idle time: a reader that stopped reading what we write (a stalled
    // transfer) is cut off; a query still waiting on an upstream is not idle (the sweep handles the rest).
    socket.setTimeout(limits.idleTimeoutMs, () => {
      if (this.inFlight === 0 || socket.writableLength > 0) this.cut();
    });
    socket.on('error', (err) => logger.debug({ err: err.message }, 'tcp client socket error'));
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('end', () => {
      this.readEnded = true;
      this.endIfDone();
    });
    const replies = server.replies;
    this.output = {
      // Answers are copied into the reply batch at once (the resolver may build them in a reused
      // buffer); drain refreshes the query clock once per read.
      copiesReplies: true,
      stampsArrival: true,
      send: (bytes) => replies.add(this, bytes),
      hold: () => {
        this.inFlight++;
        return (bytes) => {
          if (bytes && !this.socket.destroyed) replies.addLater(this, bytes);
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

  /** Shutdown: a connection that carried a transfer is reset (see `cut`): there is no time left to deliver it. */
  destroy(): void {
    if (this.streamed) this.reset();
    else this.socket.destroy();
  }

  /** Closed to make room for a new connection; its slot is free at once. */
  shed(reason: string): void {
    this.server.counters.dropped(reason);
    this.server.release(this);
    this.socket.destroy();
  }

  checkDeadlines(now: number): void {
    const { limits } = this.server.options;
    if (this.frameStartedAt >= 0 && now - this.frameStartedAt >= limits.frameTimeoutMs && this.waitingForBytes()) {
      this.server.counters.dropped('tcp_frame_timeout');
      this.socket.destroy();
    } else if (this.streams.size > 0 && this.transferOverdue(now)) {
      this.server.counters.dropped('tcp_transfer_timeout');
      this.reset();
    } else if (this.endedAt >= 0) {
      // Ended after a transfer and the reader has still not taken it to our FIN: it is not reading.
      if (now - this.endedAt >= limits.idleTimeoutMs) {
        this.server.counters.dropped('tcp_transfer_timeout');
        this.reset();
      }
    } else if (!this.busy && now - this.idleSince >= limits.idleTimeoutMs) {
      this.cut();
    }
  }

  /**
   * A stream of this connection past its whole-transfer deadline, or whose reader has taken nothing
   * for the idle time: while a stream waits for room, any byte the kernel takes from our buffer
   * is progress (a reader slowed by its own load is not stalled).
   */
  private transferOverdue(now: number): boolean {
    const { limits } = this.server.options;
    const wholeMs = limits.transferTimeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS;
    const pending = this.socket.writableLength;
    for (const stream of this.streams) {
      if (now - stream.startedAt >= wholeMs) return true;
      if (stream.waitingSince < 0) continue;
      if (pending < stream.pendingBytes) {
        stream.pendingBytes = pending;
        stream.waitingSince = now;
      } else if (now - stream.waitingSince >= limits.idleTimeoutMs) return true;
    }
    return false;
  }

  /**
   * Closes an idle connection. After a transfer, what we wrote may still sit unread in the kernel
   * (a slow reader is still taking it): the connection is ended (our FIN queues behind the data)
   * and, if the reader has not taken it all within another idle time, reset. A FIN alone would let
   * the socket linger (FIN-WAIT-1, the client never sees the end) for as long as a stalled reader
   * keeps its window shut. A connection that only carried queries closes at once.
   */
  private cut(): void {
    if (!this.streamed) {
      this.socket.destroy();
    } else if (this.socket.writableLength > 0 || this.streams.size > 0) {
      // An unfinished transfer cannot be delivered whole any more.
      this.server.counters.dropped('tcp_transfer_timeout');
      this.reset();
    } else if (this.endedAt < 0 && !this.socket.destroyed) {
      this.endedAt = Date.now();
      this.socket.end();
    }
  }

  private reset(): void {
    if (this.socket.destroyed) return;
    this.socket.resetAndDestroy();
  }

  /** The client owes us bytes: we are reading and the frame at the head is incomplete. */
  private waitingForBytes(): boolean {
    return !this.paused && !this.frames.hasMessage;
  }

  private onData(chunk: Buffer): void {
    if (this.frameStartedAt < 0) this.frameStartedAt = Date.now();
    this.frames.append(chunk);
    // A frame header announcing more than a query can be is abuse: hang up before buffering it.
    if (this.frames.nextLength > MAX_QUERY_BYTES) {
      this.server.counters.dropped('tcp_frame_too_large');
      this.socket.destroy();
      return;
    }
    this.drain();
  }

  /** Serves the complete frames read (up to framesPerTick), then writes their answers at once. */
  private drain(): void {
    this.serveFrames();
    this.server.replies.flush();
    if (!this.paused) this.endIfDone();
  }

  private serveFrames(): void {
    this.scheduled = false;
    const { limits } = this.server.options;
    const { pipeline } = this.server.options;
    const query = this.server.query;
    // Every frame of this read arrived by now: one clock read for all of them.
    queryClock.refresh();
    const now = queryClock.wallMs;
    let frames = 0;
    while (!this.socket.destroyed && this.frames.nextLength >= 0) {
      if (this.inFlight >= limits.maxInFlight) {
        this.pause();
        return;
      }
      if (this.frames.nextLength > MAX_QUERY_BYTES) {
        this.server.counters.dropped('tcp_frame_too_large');
        this.socket.destroy();
        return;
      }
      const frame = this.frames.takeInto(query);
      if (frame === undefined) break;
      // The bytes after a complete frame start the next one now.
      this.idleSince = now;
      this.frameStartedAt = this.frames.bufferedBytes > 0 ? now : -1;
      pipeline.serve(frame, this.client, 'tcp', this.output);
      if (++frames >= limits.framesPerTick && this.frames.nextLength >= 0) {
        // Yield so one connection cannot monopolise the loop with a long pipeline.
        this.pause();
        if (!this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.drain());
        }
        return;
      }
    }
    this.resume();
  }

  private settle(): void {
    this.inFlight--;
    if (this.paused && !this.scheduled) this.drain();
    else this.endIfDone();
  }

  /** After the client's FIN: close our side once every answer is written and no frame is left to read (an incomplete frame never will be). */
  private endIfDone(): void {
    if (!this.readEnded || this.inFlight > 0 || this.scheduled || this.socket.destroyed || this.socket.writableEnded) return;
    if (this.frames.hasMessage) return;
    // Answers that came later may still sit in the reply batch: they go before our FIN.
    if (this.server.replies.holds(this)) this.server.replies.flush();
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

  /** Framed answers from the reply batch. */
  writeFrames(frames: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    this.idleSince = Date.now();
    socket.write(frames);
    if (socket.writableLength > this.server.options.limits.maxWriteBufferBytes) {
      // The client is not reading its answers; do not hold memory for it.
      this.server.counters.dropped('tcp_slow_reader');
      this.reset();
    }
  }

  /**
   * Several messages (a zone transfer), one per turn of the listener's stream scheduler, so
   * transfers take turns with each other and with queries; a message is taken from `messages`
   * only when it is its turn (a lazily built zone is built as it is sent). Writing waits while
   * the socket holds more than half the write buffer, so a slow reader holds only its own
   * connection and at most one buffer's worth of memory. Progress deadlines (checked by the sweep):
   * a reader that takes nothing for the idle time, or a stream not written whole within
   * transferTimeoutMs, gets the connection reset.
   */
  private writeStream(messages: Iterable<Buffer>): Promise<void> {
    const socket = this.socket;
    const { counters, options, streams } = this.server;
    const roomBytes = options.limits.maxWriteBufferBytes / 2;
    const it = messages[Symbol.iterator]();
    const progress: StreamProgress = { startedAt: Date.now(), waitingSince: -1, pendingBytes: 0 };
    this.streams.add(progress);
    this.streamed = true;
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        this.streams.delete(progress);
        // Handed over whole: the connection idles from here, not from the request.
        this.idleSince = Date.now();
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
        progress.waitingSince = -1;
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
        // Answers held for this connection go first (each is a whole frame: nothing interleaves inside one).
        if (this.server.replies.holds(this)) this.server.replies.flush();
        socket.write(frameMessage(next.value));
        if (socket.writableLength > roomBytes && !socket.destroyed) {
          progress.waitingSince = Date.now();
          progress.pendingBytes = socket.writableLength;
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

interface StreamProgress {
  readonly startedAt: number;
  /** Date.now() of the last progress while waiting for room; -1 when not waiting. */
  waitingSince: number;
  /** Our unsent bytes at the last progress. */
  pendingBytes: number;
}
