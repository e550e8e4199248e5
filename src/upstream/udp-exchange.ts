import dgram from 'node:dgram';
import { PldnsError } from '../errors';
import type { HostPort } from '../config/units';
import { matchesQuery } from './upstream-query';

export interface ExchangeResult {
  readonly reply: Buffer;
  /** Replies that arrived on the socket but failed the RFC 5452 checks. */
  readonly mismatches: number;
}

/**
 * One UDP exchange on a socket of its own, so the kernel picks a fresh random source port
 * (RFC 5452 §9.2). Replies from another address or port, or that do not match the ID and
 * question, are ignored and counted; the first matching reply wins.
 */
export function udpExchange(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
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
  // IPv6 text forms can differ ("::1" vs "0:0:0:0:0:0:0:1"); compare expanded.
  return a.includes(':') && b.includes(':') && expand6(a) === expand6(b);
}

function expand6(a: string): string {
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((p) => p.replace(/^0+(?=.)/, '').toLowerCase()).join(':');
}
