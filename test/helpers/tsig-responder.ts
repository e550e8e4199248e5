import dgram from 'node:dgram';
import net from 'node:net';
import { CLASS_IN, FLAG_AA, FLAG_QR, FLAG_RD, RRType } from '../../src/wire/constants';
import { encodeMessage, parseMessage, type DnsMessage } from '../../src/fleet/codec/message';
import { frameMessage, TcpFrameReader } from '../../src/wire/tcp-frames';
import { tsigErrorResponse, verifyRequest, type TsigKey, type TsigOptions, type TsigRequestCheck } from '../../src/fleet/codec/tsig';
import { signResponse } from './tsig';

export interface ResponderOptions {
  /** Keys requests are verified with. */
  readonly keys: readonly TsigKey[];
  /** Sign answers with this key instead of the one that verified (a wrong-key server). */
  readonly signWith?: TsigKey;
  /** Our clock for verification (moves BADTIME). */
  readonly tsig?: TsigOptions;
}

export interface Responder {
  readonly port: number;
  /** Every request's TSIG check, in arrival order. */
  readonly checks: TsigRequestCheck[];
  /** Raw requests as received. */
  readonly requests: Buffer[];
  stop(): Promise<void>;
}

/**
 * A loopback UDP + TCP server built on our codec and TSIG: answers every A query with 192.0.2.1,
 * signed per RFC 8945, or with the TSIG error response a bad request deserves.
 */
export async function startTsigResponder(opts: ResponderOptions, attempt = 1): Promise<Responder> {
  const checks: TsigRequestCheck[] = [];
  const requests: Buffer[] = [];
  const answer = (req: Buffer): Buffer | undefined => {
    requests.push(req);
    let parsed: DnsMessage;
    try {
      parsed = parseMessage(req);
    } catch {
      return undefined;
    }
    const check = verifyRequest(req, parsed, opts.keys, opts.tsig);
    checks.push(check);
    if (check.kind === 'error') return tsigErrorResponse(parsed, check, opts.tsig);
    const q = parsed.questions[0];
    const reply = encodeMessage({
      id: parsed.id, flags: FLAG_QR | FLAG_AA | (parsed.flags & FLAG_RD), question: q,
      answers: q.type === RRType.A ? [{ name: q.name, type: RRType.A, class: CLASS_IN, ttl: 60, rdata: Buffer.from([192, 0, 2, 1]) }] : [],
    });
    if (check.kind === 'unsigned') return reply;
    return signResponse(reply, opts.signWith ?? check.key, check.requestMac).message;
  };

  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, '127.0.0.1', () => resolve());
  });
  const port = udp.address().port;
  udp.on('message', (msg, rinfo) => {
    const out = answer(msg);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new TcpFrameReader();
    socket.on('data', (chunk) => {
      for (const msg of reader.push(chunk)) {
        const out = answer(msg);
        if (out) socket.write(frameMessage(out));
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    // The UDP port the kernel chose can be some TCP socket's already: free the UDP socket (an open
    // one would keep the test process alive) and try another number.
    await new Promise<void>((r) => udp.close(() => r()));
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    return startTsigResponder(opts, attempt + 1);
  }
  return {
    port,
    checks,
    requests,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => tcp.close(() => r())), new Promise<void>((r) => udp.close(() => r()))]);
    },
  };
}
