import net from 'node:net';
import { PldnsError } from '../errors';
import type { HostPort } from '../config/units';
import { frameMessage, TcpFrameReader } from '../wire/tcp-frames';
import { matchesQuery } from './upstream-query';
import type { ExchangeResult } from './udp-exchange';

/** One query over a fresh TCP connection, with one deadline for connect, write and read. */
export function tcpExchange(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port, noDelay: true });
    const frames = new TcpFrameReader();
    let done = false;
    const finish = (err: Error | undefined, reply?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve({ reply: reply as Buffer, mismatches: 0 });
    };
    const timer = setTimeout(() => finish(new PldnsError('UPSTREAM_TIMEOUT', `no tcp answer within ${timeoutMs}ms`)), timeoutMs);
    socket.on('error', (err) => finish(new PldnsError('UPSTREAM_FAILED', `tcp: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
    socket.on('close', () => finish(new PldnsError('UPSTREAM_FAILED', 'tcp: connection closed before an answer')));
    socket.on('connect', () => socket.write(frameMessage(query)));
    socket.on('data', (chunk) => {
      frames.append(chunk);
      const msg = frames.take();
      if (msg === undefined) return;
      if (matchesQuery(msg, query, questionEnd)) finish(undefined, msg);
      else finish(new PldnsError('UPSTREAM_BAD_REPLY', 'tcp reply does not match the query'));
    });
  });
}
