import net from 'node:net';
import { PldnsError } from '../errors';
import type { HostPort } from '../config/units';
import { matchesQuery } from './upstream-query';
import type { ExchangeResult } from './udp-exchange';

/** One query over a fresh TCP connection, with one deadline for connect, write and read. */
export function tcpExchange(server: HostPort, query: Buffer, questionEnd: number, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port, noDelay: true });
    let buffered = Buffer.alloc(0);
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
    socket.on('connect', () => {
      const frame = Buffer.allocUnsafe(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) return;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        if (matchesQuery(msg, query, questionEnd)) {
          finish(undefined, Buffer.from(msg));
          return;
        }
        finish(new PldnsError('UPSTREAM_BAD_REPLY', 'tcp reply does not match the query'));
        return;
      }
    });
  });
}
