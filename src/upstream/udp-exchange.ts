import dgram from 'node:dgram';
import { PldnsError } from '../errors';
import type { HostPort } from '../config/units';
import { parseIpv6Groups } from '../wire/ipv6-groups';
import { matchesQuery } from './upstream-query';

export interface ExchangeResult {
  readonly reply: Buffer;
  /** Replies that arrived on the socket but failed the RFC 5452 checks. */
  readonly mismatches: number;
}

/**
 * Told how one exchange ended, exactly once: the forwarder's per-query state implements it, so an
 * exchange needs no promise or closure of its own. Implementations must not throw.
 */
export interface ExchangeSink {
  exchanged(reply: Buffer, mismatches: number): void;
  /** UPSTREAM_TIMEOUT (details.mismatches) or UPSTREAM_FAILED. */
  exchangeFailed(err: PldnsError): void;
}

/** One UDP query/reply with an upstream, each on a fresh random source port. */
export interface UdpExchanger {
  /** 'native': sockets inside the addon (upstream_udp.c); 'dgram': Node's dgram. */
  readonly engine: 'native' | 'dgram';
  /**
   * Sends `query` and tells `sink` how the exchange ended; that may happen before `start` returns
   * (the socket could not be opened or the query not sent). `query` is not copied: it must stay
   * unchanged until the sink has been told.
   */
  start(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number, sink: ExchangeSink): void;
  /** Ends every exchange still out (UPSTREAM_FAILED) and frees the sockets. */
  close(): void;
}

/** One exchange as a promise (health probes, tests). */
export function exchangeOnce(udp: UdpExchanger, server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    udp.start(server, query, questionEnd, timeoutMs, {
      exchanged: (reply, mismatches) => resolve({ reply, mismatches }),
      exchangeFailed: reject,
    });
  });
}

/** Exchanges through Node's dgram: one socket created, bound and closed per exchange. */
export const dgramExchanger: UdpExchanger = {
  engine: 'dgram',
  start: (server, query, questionEnd, timeoutMs, sink) => {
    udpExchange(server, query, questionEnd, timeoutMs).then(
      (r) => sink.exchanged(r.reply, r.mismatches),
      (err: unknown) => sink.exchangeFailed(err instanceof PldnsError ? err : new PldnsError('UPSTREAM_FAILED', String(err), { cause: err })),
    );
  },
  close: () => {},
};

/**
 * One UDP exchange on a socket of its own, so the kernel picks a fresh random source port
 * (RFC 5452 §9.2). Replies from another address or port, or that do not match the ID and
 * question, are ignored and counted; the first matching reply wins.
 */
function udpExchange(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let mismatches = 0;
    let done = false;
    const finish = (err: Error | undefined, reply?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve({ reply: reply as Buffer, mismatches });
    };
    const timer = setTimeout(() => finish(new PldnsError('UPSTREAM_TIMEOUT', `no answer within ${timeoutMs}ms`, { details: { mismatches } })), timeoutMs);
    socket.on('error', (err) => finish(new PldnsError('UPSTREAM_FAILED', `udp: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== server.port || !sameAddress(rinfo.address, server.host) || !matchesQuery(msg, query, questionEnd)) {
        mismatches++;
        return;
      }
      finish(undefined, msg);
    });
    socket.send(query, server.port, server.host, (err) => {
      if (err) finish(new PldnsError('UPSTREAM_FAILED', `udp send: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
    });
  });
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  if (!a.includes(':') || !b.includes(':')) return false;
  // IPv6 text forms can differ ("::1" vs "0:0:0:0:0:0:0:1"); compare the groups.
  const ga = new Int32Array(8);
  const gb = new Int32Array(8);
  return parseIpv6Groups(a, ga) && parseIpv6Groups(b, gb) && ga.every((g, i) => g === gb[i]);
}
