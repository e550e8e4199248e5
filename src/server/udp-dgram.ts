import dgram from 'node:dgram';
import { PldnsError } from '../errors';
import type { DatagramSink, UdpTransport, UdpTransportOptions } from './udp-transport';

/**
 * Replies go to the address a datagram came from: always an IP literal. Node's default lookup
 * (dns.lookup) answers literals on the next tick, which costs every reply a deferred call.
 */
function literalLookup(address: string, _family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** UDP through Node's dgram: one syscall and one JS callback per datagram. Works everywhere. */
export class DgramTransport implements UdpTransport {
  readonly engine = 'dgram';
  private socket: dgram.Socket | undefined;
  private current: dgram.RemoteInfo | undefined;

  constructor(private readonly options: UdpTransportOptions) {}

  async start(sink: DatagramSink): Promise<number> {
    const { address, label, logger, socketBufferBytes } = this.options;
    const socket = dgram.createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6, lookup: literalLookup });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PldnsError('LISTEN_FAILED', `cannot bind ${label}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.bind(address.port, address.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (err) => logger.error({ err: err.message, listener: label }, 'udp socket error'));
    if (address.host === '0.0.0.0' || address.host === '::') {
      logger.warn({ listener: label }, 'wildcard UDP address with the dgram engine: on a host with several addresses, replies leave from the primary one and clients that asked another address drop them; list the addresses, or use listen.udp_io batch');
    }
    if (socketBufferBytes > 0) {
      try {
        socket.setRecvBufferSize(socketBufferBytes);
        socket.setSendBufferSize(socketBufferBytes);
      } catch {
        // The kernel caps buffers at net.core.rmem_max; the default still works.
      }
    }
    socket.on('message', (msg, rinfo) => {
      this.current = rinfo;
      sink(msg, { address: rinfo.address, port: rinfo.port });
      this.current = undefined;
    });
    return socket.address().port;
  }

  replyNow(bytes: Buffer): void {
    if (this.current) this.replyLater(this.current, bytes);
  }

  keepPeer(): unknown {
    return this.current;
  }

  replyLater(peer: unknown, bytes: Buffer): void {
    const rinfo = peer as dgram.RemoteInfo | undefined;
    // A shared callback (no closure per reply); without one Node drops send errors silently.
    if (this.socket && rinfo) this.socket.send(bytes, rinfo.port, rinfo.address, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.options.counters.dropped('send_error');
  };

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
