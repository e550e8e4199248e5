// An in-process DNS upstream for tests (in the spirit of CoreDNS's dnstest.NewServer): UDP, and
// optionally TCP, on 127.0.0.1 with a free port; each test decides per query what to send back.
import dgram from 'node:dgram';
import net from 'node:net';

/** Question bytes (from offset 12 to just past QTYPE/QCLASS) of an uncompressed query. */
export function questionOf(msg: Buffer): { question: Buffer; qtype: number; name: string } {
  let off = 12;
  const labels: string[] = [];
  while (off < msg.length && msg[off] !== 0) {
    labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString('latin1'));
    off += msg[off] + 1;
  }
  off += 1;
  return { question: msg.subarray(12, off + 4), qtype: msg.readUInt16BE(off), name: labels.join('.').toLowerCase() };
}

/** A well-formed answer to `query`: one A record with `ip` and `ttl`; `id` and question overridable. */
export function answerFor(query: Buffer, ip: string, opts: { id?: number; question?: Buffer; ttl?: number } = {}): Buffer {
  const { question } = questionOf(query);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? query.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8180, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, ...ip.split('.').map(Number)]);
  rr.writeUInt32BE(opts.ttl ?? 60, 6);
  return Buffer.concat([header, opts.question ?? question, rr]);
}

/** Called per query; `protocol` says which transport it came on (with `tcp`, both are served). */
export type ResponderReply = (query: Buffer, send: (b: Buffer) => void, rinfo: dgram.RemoteInfo, protocol: 'udp' | 'tcp') => void;

export interface Responder {
  readonly port: number;
  readonly socket: dgram.Socket;
  seen: number;
  close(): Promise<void>;
}

/**
 * A UDP "upstream" on 127.0.0.1 that calls `reply(query, send)` for every datagram; `port` picks
 * the port (0 = any). `send` answers from this socket; the callback may also do nothing. With
 * `tcp`, the same callback also serves DNS over TCP on the same port (one call per frame).
 */
export async function startResponder(reply: ResponderReply, port = 0, options: { tcp?: boolean } = {}, attempt = 1): Promise<Responder> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  let tcpServer: net.Server | undefined;
  const tcpSockets = new Set<net.Socket>();
  const r: Responder = {
    port: 0,
    socket,
    seen: 0,
    close: async () => {
      for (const s of tcpSockets) s.destroy();
      if (tcpServer) await new Promise<void>((res) => tcpServer?.close(() => res()));
      await new Promise<void>((res) => socket.close(() => res()));
    },
  };
  socket.on('error', () => {});
  socket.on('message', (msg, rinfo) => {
    r.seen++;
    reply(msg, (b) => socket.send(b, rinfo.port, rinfo.address), rinfo, 'udp');
  });
  await new Promise<void>((res, rej) => {
    socket.once('error', rej);
    socket.bind(port, '127.0.0.1', () => res());
  });
  (r as { port: number }).port = socket.address().port;
  if (options.tcp) {
    tcpServer = net.createServer((conn) => {
      tcpSockets.add(conn);
      conn.on('close', () => tcpSockets.delete(conn));
      conn.on('error', () => {});
      let buf = Buffer.alloc(0);
      conn.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + msg.length);
          r.seen++;
          reply(msg, (b) => {
            if (conn.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(b.length);
            conn.write(Buffer.concat([len, b]));
          }, { address: conn.remoteAddress ?? '', port: conn.remotePort ?? 0, family: 'IPv4', size: msg.length }, 'tcp');
        }
      });
    });
    try {
      await new Promise<void>((res, rej) => {
        tcpServer?.once('error', rej);
        tcpServer?.listen(r.port, '127.0.0.1', () => res());
      });
    } catch (err) {
      // The kernel's UDP port can be some TCP socket's port already: close the UDP side (an open
      // socket would keep the test process alive) and, with port 0, try another number.
      await new Promise<void>((res) => socket.close(() => res()));
      if (port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
      return startResponder(reply, port, options, attempt + 1);
    }
  }
  return r;
}
