// Shared by the hardening, fault and fuzz e2e tests: raw UDP/TCP clients, /metrics and /status
// readers, and small misbehaving upstreams. Not a test file itself.
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';

export { answerFor, questionOf, startResponder, type Responder, type ResponderReply } from './responder';

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

/** Encodes a name as uncompressed labels. */
export function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sockets on local `port` in the kernel's TCP table in state FIN-WAIT-1 (/proc/net/tcp: st 04): closed by us, the FIN stuck behind unread data. */
export function finWait1(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hexPort}`) && f[3] === '04';
  }).length;
}
