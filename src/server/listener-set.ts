import { formatHostPort, type HostPort } from '../config/units';
import type { Logger } from '../runtime/log';
import type { QueryPipeline } from './pipeline';
import { TcpServer, TcpSlots, type TcpLimits } from './tcp-server';
import { UdpServer, type UdpIoSetting } from './udp-server';

export interface ListenerSetOptions {
  readonly pipeline: QueryPipeline;
  readonly logger: Logger;
  readonly udpIo: UdpIoSetting;
  readonly tcpLimits: TcpLimits;
  readonly recvBufferBytes: number;
}

interface Listener {
  readonly key: string;
  readonly udp: UdpServer;
  readonly tcp: TcpServer;
  readonly udpPort: number;
  readonly tcpPort: number;
}

export interface BoundListener {
  readonly address: string;
  readonly udp: number;
  readonly tcp: number;
  readonly udpIo: string;
}

/** With port 0 (tests) TCP takes the number the kernel gave UDP; tries this often to find one free for both. */
const PORT_ZERO_ATTEMPTS = 10;

/**
 * The DNS listeners: one UDP and one TCP server per `listen.dns` address, all feeding one edge
 * pipeline. A reconfigure keeps the sockets of addresses still wanted, closes the others and opens
 * the new ones.
 */
export class ListenerSet {
  private readonly listeners = new Map<string, Listener>();
  private options: ListenerSetOptions;
  /** One connection table for every TCP listener: limits.tcp_max_connections is a total. */
  private readonly tcpSlots = new TcpSlots();

  constructor(options: ListenerSetOptions) {
    this.options = options;
  }

  get bound(): BoundListener[] {
    return [...this.listeners.values()].map((l) => ({ address: l.key, udp: l.udpPort, tcp: l.tcpPort, udpIo: l.udp.engine ?? 'closed' }));
  }

  get size(): number {
    return this.listeners.size;
  }

  async open(addresses: readonly HostPort[]): Promise<void> {
    for (const address of addresses) await this.openOne(address);
  }

  async reconfigure(addresses: readonly HostPort[], next: ListenerSetOptions): Promise<void> {
    const engineChanged = next.udpIo !== this.options.udpIo;
    this.options = next;
    const wanted = new Map(addresses.map((a) => [formatHostPort(a), a]));
    for (const [key, l] of this.listeners) {
      if (wanted.has(key) && !engineChanged) continue;
      await Promise.all([l.udp.close(), l.tcp.close()]);
      this.listeners.delete(key);
      this.options.logger.info({ listen: key }, 'listener closed by reload');
    }
    for (const [key, address] of wanted) {
      if (this.listeners.has(key)) continue;
      await this.openOne(address);
      this.options.logger.info({ listen: key }, 'listener opened by reload');
    }
  }

  async close(graceMs = 0): Promise<void> {
    await Promise.all([...this.listeners.values()].flatMap((l) => [l.udp.close(graceMs), l.tcp.close(graceMs)]));
    this.listeners.clear();
  }

  private async openOne(address: HostPort): Promise<void> {
    const key = formatHostPort(address);
    const { pipeline, udpIo, tcpLimits, recvBufferBytes } = this.options;
    const logger = this.options.logger.child({ listen: key });
    // With port 0 the number the kernel gave UDP can already be some TCP socket's ephemeral port.
    for (let attempt = 1; ; attempt++) {
      const udp = new UdpServer({ address, pipeline, logger, udpIo, recvBufferBytes });
      const udpPort = await udp.start();
      const tcpAddress = address.port === 0 ? { ...address, port: udpPort } : address;
      const tcp = new TcpServer({ address: tcpAddress, pipeline, logger, limits: tcpLimits, slots: this.tcpSlots });
      try {
        const tcpPort = await tcp.start();
        this.listeners.set(key, { key, udp, tcp, udpPort, tcpPort });
        return;
      } catch (err) {
        await udp.close();
        if (address.port !== 0 || attempt >= PORT_ZERO_ATTEMPTS) throw err;
      }
    }
  }
}
