import { constants as osConstants } from 'node:os';
import { PldnsError } from '../errors';
import type { HostPort } from '../config/units';
import type { NativeAddon, UpstreamHandle } from '../native/addon';
import type { ExchangeResult, UdpExchanger } from './udp-exchange';
import { matchesQuery } from './upstream-query';

/** errno number → name, for replies the addon reports as -errno (ECONNREFUSED after ICMP). */
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** One exchange out: the query it must match, and how to finish it. */
class Exchange {
  mismatches = 0;
  timer: NodeJS.Timeout | undefined;
  constructor(
    readonly query: Buffer,
    readonly questionEnd: number,
    readonly resolve: (r: ExchangeResult) => void,
    readonly reject: (e: Error) => void,
  ) {}
}

/**
 * Upstream UDP exchanges inside the addon (src/native/upstream_udp.c): each exchange opens a
 * socket of its own, connected to the server, so the kernel gives it a fresh random source port
 * (RFC 5452 §9.2) and drops datagrams from any other address or port; ID and question are
 * checked here, the first matching reply wins, other replies are counted as mismatches. Replies
 * of all exchanges arrive in batches, one JavaScript call per batch; the socket is closed as soon
 * as its exchange ends. Same contract as the dgram exchange it replaces (udp-exchange.ts), minus
 * a Node socket object, a bind lookup and a close callback per query.
 */
export class NativeUdpExchanger implements UdpExchanger {
  readonly engine = 'native';
  private handle: UpstreamHandle | undefined;
  private closed = false;
  private readonly out = new Map<number, Exchange>();
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

  exchange(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
    if (this.closed) return Promise.reject(new PldnsError('UPSTREAM_FAILED', 'udp: the forwarder was closed'));
    this.handle ??= this.binding.upOpen(this.input, this.meta, this.onReplies);
    const token = this.binding.upSend(this.handle, server.family === 6 ? 6 : 4, server.host, server.port, query);
    if (typeof token === 'string') return Promise.reject(new PldnsError('UPSTREAM_FAILED', `udp send: ${token}`));
    return new Promise((resolve, reject) => {
      const x = new Exchange(query, questionEnd, resolve, reject);
      x.timer = setTimeout(() => {
        if (this.end(token) !== x) return;
        reject(new PldnsError('UPSTREAM_TIMEOUT', `no answer within ${timeoutMs}ms`, { details: { mismatches: x.mismatches } }));
      }, timeoutMs);
      this.out.set(token, x);
    });
  }

  private readonly onReplies = (count: number): void => {
    const { UP_SLOT } = this.binding;
    for (let i = 0; i < count; i++) {
      const token = this.metaWords[2 * i];
      const len = this.metaWords[2 * i + 1];
      const x = this.out.get(token);
      // Nothing out on that socket: a reply after its exchange ended (the socket is closed then).
      if (!x) continue;
      if (len < 0) {
        this.end(token);
        x.reject(new PldnsError('UPSTREAM_FAILED', `udp: ${ERRNO_NAMES.get(-len) ?? `errno ${-len}`}`));
        continue;
      }
      const reply = Buffer.allocUnsafe(len);
      this.input.copy(reply, 0, i * UP_SLOT, i * UP_SLOT + len);
      if (!matchesQuery(reply, x.query, x.questionEnd)) {
        x.mismatches++;
        continue;
      }
      this.end(token);
      x.resolve({ reply, mismatches: x.mismatches });
    }
  };

  /** Forgets an exchange and closes its socket; returns it (undefined when it had ended). */
  private end(token: number): Exchange | undefined {
    const x = this.out.get(token);
    if (!x) return undefined;
    this.out.delete(token);
    clearTimeout(x.timer);
    if (this.handle) this.binding.upRelease(this.handle, token);
    return x;
  }

  close(): void {
    this.closed = true;
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return;
    const left = [...this.out.entries()];
    this.out.clear();
    this.binding.upClose(handle);
    for (const [, x] of left) {
      clearTimeout(x.timer);
      x.reject(new PldnsError('UPSTREAM_FAILED', 'udp: the forwarder was closed'));
    }
  }
}
