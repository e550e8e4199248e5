import { constants as osConstants } from 'node:os';
import { PldnsError } from '../errors';
import type { HostPort } from '../config/units';
import type { NativeAddon, UpstreamHandle } from '../native/addon';
import { exchangeOnce, type ExchangeResult, type ExchangeSink, type UdpExchanger } from './udp-exchange';
import { matchesQuery } from './upstream-query';

/** errno number → name, for replies the addon reports as -errno (ECONNREFUSED after ICMP). */
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** Exchange records kept for reuse at most (more than this out at once are allocated and dropped). */
const POOL_MAX = 4096;
const NO_QUERY = Buffer.alloc(0);

/** One exchange out: its socket's token, the query it must match, whom to tell, its deadline. */
class Exchange {
  token = -1;
  query: Buffer = NO_QUERY;
  questionEnd = 0;
  sink: ExchangeSink | undefined = undefined;
  mismatches = 0;
  /** performance.now() past which it times out. */
  deadline = 0;
  lane: Lane | undefined = undefined;
  prev: Exchange | undefined = undefined;
  next: Exchange | undefined = undefined;
}

/**
 * The exchanges out with one timeout value, oldest first: they were started in time order with
 * the same timeout, so their deadlines are in order too, and the head is the next to expire.
 */
class Lane {
  head: Exchange | undefined = undefined;
  tail: Exchange | undefined = undefined;
  constructor(readonly timeoutMs: number) {}
}

/**
 * Upstream UDP exchanges inside the addon (src/native/upstream_udp.c): each exchange opens a
 * socket of its own, connected to the server, so the kernel gives it a fresh random source port
 * (RFC 5452 §9.2) and drops datagrams from any other address or port; ID and question are
 * checked here, the first matching reply wins, other replies are counted as mismatches. Replies
 * of all exchanges arrive in batches, one JavaScript call per batch; the socket is closed as soon
 * as its exchange ends.
 *
 * Per exchange nothing is allocated but the reply's copy: exchange records are reused, the sink
 * is the caller's own object, and deadlines need no timer each. Exchanges with the same timeout
 * sit in one list in deadline order (a few lists: the configured timeout, the shorter one used
 * while every server is down, the probes'), and one timer is armed for the earliest head; when it
 * fires, every exchange past its deadline fails with UPSTREAM_TIMEOUT and the timer is armed for
 * the next head. An exchange that ends earlier is unlinked at once.
 */
export class NativeUdpExchanger implements UdpExchanger {
  readonly engine = 'native';
  private handle: UpstreamHandle | undefined;
  private closed = false;
  /** Exchanges out, by token (a socket descriptor: a small integer). */
  private readonly byToken: (Exchange | undefined)[] = [];
  private readonly lanes: Lane[] = [];
  private readonly free: Exchange[] = [];
  private outCount = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (performance.now() time); Infinity when none is armed. */
  private timerDue = Infinity;
  private readonly input: Buffer;
  private readonly meta: Buffer;
  private readonly metaWords: Int32Array;

  constructor(private readonly binding: NativeAddon) {
    // Own ArrayBuffers (not the shared pool): the addon keeps raw pointers into them. The input
    // (64 slots of 64 KiB) is left unfilled, so only pages that replies write become resident.
    this.input = Buffer.allocUnsafeSlow(binding.UP_BATCH * binding.UP_SLOT);
    this.meta = Buffer.alloc(binding.UP_BATCH * 8);
    this.metaWords = new Int32Array(this.meta.buffer, this.meta.byteOffset, this.meta.length / 4);
  }

  /** Exchange sockets open now. */
  get openSockets(): number {
    return this.handle ? this.binding.upOpenSockets(this.handle) : 0;
  }

  /** Exchanges out now. */
  get outstanding(): number {
    return this.outCount;
  }

  /** One exchange as a promise (tests, probes); the forwarder uses start(). */
  exchange(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
    return exchangeOnce(this, server, query, questionEnd, timeoutMs);
  }

  start(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number, sink: ExchangeSink): void {
    if (this.closed) {
      sink.exchangeFailed(new PldnsError('UPSTREAM_FAILED', 'udp: the forwarder was closed'));
      return;
    }
    this.handle ??= this.binding.upOpen(this.input, this.meta, this.onReplies);
    const token = this.binding.upSend(this.handle, server.family === 6 ? 6 : 4, server.host, server.port, query);
    if (typeof token === 'string') {
      sink.exchangeFailed(new PldnsError('UPSTREAM_FAILED', `udp send: ${token}`));
      return;
    }
    const x = this.free.pop() ?? new Exchange();
    x.token = token;
    x.query = query;
    x.questionEnd = questionEnd;
    x.sink = sink;
    x.mismatches = 0;
    const now = performance.now();
    x.deadline = now + timeoutMs;
    this.link(x, this.laneFor(timeoutMs));
    this.byToken[token] = x;
    if (this.outCount++ === 0) this.timer?.ref();
    if (x.deadline < this.timerDue) this.arm(x.deadline, now);
  }

  private laneFor(timeoutMs: number): Lane {
    for (const lane of this.lanes) if (lane.timeoutMs === timeoutMs) return lane;
    const lane = new Lane(timeoutMs);
    this.lanes.push(lane);
    return lane;
  }

  private link(x: Exchange, lane: Lane): void {
    x.lane = lane;
    x.prev = lane.tail;
    x.next = undefined;
    if (lane.tail) lane.tail.next = x;
    else lane.head = x;
    lane.tail = x;
  }

  /** One timer for every exchange out: it fires at `due`, the earliest deadline. */
  private arm(due: number, now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    // Whole milliseconds, rounded up: a timer that fires a little early finds nothing due and is
    // armed again for the rest.
    this.timer = setTimeout(this.sweep, Math.max(1, Math.ceil(due - now)));
    if (this.outCount === 0) this.timer.unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = performance.now();
    for (const lane of this.lanes) {
      // Each turn takes the head off (finish unlinks it), so this ends.
      for (let x = lane.head; x !== undefined && x.deadline <= now; x = lane.head) {
        const { sink, mismatches } = x;
        this.finish(x);
        sink?.exchangeFailed(new PldnsError('UPSTREAM_TIMEOUT', `no answer within ${lane.timeoutMs}ms`, { details: { mismatches } }));
      }
    }
    // A sink may have started new exchanges (and armed the timer) above; the earliest head decides.
    let next = Infinity;
    for (const lane of this.lanes) if (lane.head && lane.head.deadline < next) next = lane.head.deadline;
    if (next < this.timerDue) this.arm(next, now);
  };

  private readonly onReplies = (count: number): void => {
    const { UP_SLOT } = this.binding;
    for (let i = 0; i < count; i++) {
      const token = this.metaWords[2 * i];
      const len = this.metaWords[2 * i + 1];
      const x = this.byToken[token];
      // Nothing out on that socket: a reply after its exchange ended (the socket is closed then).
      if (x === undefined) continue;
      if (len < 0) {
        const sink = x.sink;
        this.finish(x);
        sink?.exchangeFailed(new PldnsError('UPSTREAM_FAILED', `udp: ${ERRNO_NAMES.get(-len) ?? `errno ${-len}`}`));
        continue;
      }
      const start = i * UP_SLOT;
      if (!matchesQuery(this.input, x.query, x.questionEnd, start, len)) {
        x.mismatches++;
        continue;
      }
      // The caller keeps the reply: a copy of its own (the slot is refilled by the next batch).
      const reply = Buffer.allocUnsafe(len);
      this.input.copy(reply, 0, start, start + len);
      const { sink, mismatches } = x;
      this.finish(x);
      sink?.exchanged(reply, mismatches);
    }
  };

  /** Unlinks an exchange, closes its socket and keeps the record for reuse. */
  private finish(x: Exchange): void {
    const lane = x.lane;
    if (lane) {
      if (x.prev) x.prev.next = x.next;
      else lane.head = x.next;
      if (x.next) x.next.prev = x.prev;
      else lane.tail = x.prev;
    }
    this.byToken[x.token] = undefined;
    if (--this.outCount === 0) this.timer?.unref();
    if (this.handle) this.binding.upRelease(this.handle, x.token);
    x.lane = x.prev = x.next = x.sink = undefined;
    x.query = NO_QUERY;
    x.token = -1;
    if (this.free.length < POOL_MAX) this.free.push(x);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    const handle = this.handle;
    if (!handle) return;
    const left: ExchangeSink[] = [];
    for (const lane of this.lanes) {
      for (let x = lane.head; x !== undefined; x = lane.head) {
        if (x.sink) left.push(x.sink);
        this.finish(x);
      }
    }
    this.handle = undefined;
    this.binding.upClose(handle);
    for (const sink of left) sink.exchangeFailed(new PldnsError('UPSTREAM_FAILED', 'udp: the forwarder was closed'));
  }
}
