// Shared by the hardening, fault and fuzz e2e tests: raw UDP/TCP clients, /metrics and /status
// readers, and small misbehaving upstreams. Not a test file itself.
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';

/** Sends one datagram and resolves with the first reply, or undefined after `timeoutMs`. */
export function udpAsk(port: number, msg: Buffer, timeoutMs = 2000, bindAddress = '127.0.0.1', host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    let done = false;
    const finish = (r: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.close();
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    s.on('error', () => finish(undefined));
    s.on('message', (m) => finish(m));
    s.bind(0, bindAddress, () => s.send(msg, port, host));
  });
}

/**
 * Sends `count` queries from one socket bound to `bindAddress` and collects every reply for
 * `settleMs` after the last send.
 */
export async function udpBurst(port: number, make: (i: number) => Buffer, count: number, bindAddress: string, settleMs = 800): Promise<Buffer[]> {
  const s = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  s.on('message', (m) => replies.push(m));
  s.on('error', () => {});
  await new Promise<void>((r) => s.bind(0, bindAddress, () => r()));
  for (let i = 0; i < count; i++) {
    s.send(make(i), port, '127.0.0.1');
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, settleMs));
  s.close();
  return replies;
}

/** A DNS-over-TCP client: frames out, frames in. */
export class TcpDns {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  readonly frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  readonly closedAt: Promise<number>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        const len = this.buf.readUInt16BE(0);
        this.frames.push(this.buf.subarray(2, 2 + len));
        this.buf = this.buf.subarray(2 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
    this.closedAt = new Promise((r) =>
      socket.once('close', () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w();
        r(Date.now());
      }),
    );
  }

  static connect(port: number, localAddress = '127.0.0.1'): Promise<TcpDns> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
        s.off('error', reject);
        resolve(new TcpDns(s));
      });
      s.once('error', reject);
    });
  }

  send(msg: Buffer): void {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    this.socket.write(Buffer.concat([len, msg]));
  }

  /** Resolves when `n` frames arrived or the connection closed, or after `timeoutMs`. */
  async waitFrames(n: number, timeoutMs = 3000): Promise<Buffer[]> {
    const until = Date.now() + timeoutMs;
    while (this.frames.length < n && !this.closed && Date.now() < until) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, until - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames;
  }

  /** True when the server closed (or reset) the connection within `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    await Promise.race([this.closedAt, new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export type MetricSamples = Map<string, number>;

/** GET /metrics as `name{labels}` → value (labels as printed by prom-client). */
export async function metrics(httpPort: number): Promise<MetricSamples> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const out: MetricSamples = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of every sample of `name` whose labels contain each of `labels` (e.g. `source="cache"`). */
export function metric(m: MetricSamples, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const [k, v] of m) {
    const base = k.includes('{') ? k.slice(0, k.indexOf('{')) : k;
    if (base !== name) continue;
    if (labels.every((l) => k.includes(l))) sum += v;
  }
  return sum;
}

export async function status(httpPort: number): Promise<Record<string, any>> {
  return (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as Record<string, any>;
}

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

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

/** Encodes a name as uncompressed labels. */
export function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

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
export async function startResponder(
  reply: (query: Buffer, send: (b: Buffer) => void, rinfo: dgram.RemoteInfo) => void, port = 0, options: { tcp?: boolean } = {}, attempt = 1,
): Promise<Responder> {
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
    reply(msg, (b) => socket.send(b, rinfo.port, rinfo.address), rinfo);
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
          }, { address: conn.remoteAddress ?? '', port: conn.remotePort ?? 0, family: 'IPv4', size: msg.length });
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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
