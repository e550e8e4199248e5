import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Config } from './config/schema';
import { formatHostPort, type HostPort } from './config/units';
import type { Logger } from './log';
import { Metrics } from './metrics';
import { UdpServer } from './dns/udp-server';
import { TcpServer } from './dns/tcp-server';
import type { Admission, AdmissionCheck, DnsHandler } from './dns/edge';
import { Resolver } from './resolve/resolver';
import { AnswerTable, type TableEntryInput } from './resolve/table';
import { AccessList } from './resolve/access';
import { Forwarder } from './upstream/forwarder';
import { edgeCounters, forwarderObserver, resolverObserver } from './observers';

export interface AppOptions {
  readonly config: Config;
  readonly configPath: string | null;
  readonly logger: Logger;
  readonly version: string;
}

interface Listener {
  readonly key: string;
  readonly udp: UdpServer;
  readonly tcp: TcpServer;
  readonly udpPort: number;
  readonly tcpPort: number;
}

/** Static entries go straight into the table; endpoint/service entries start with no IPs. */
export function staticTableInputs(config: Config): TableEntryInput[] {
  return config.records.entries.map((e) => ({
    id: e.kind === 'static' ? `static:${e.names[0]}` : e.kind === 'endpoint' ? e.endpointId : `service:${e.serviceName}`,
    names: e.names,
    ipv4: e.kind === 'static' ? e.ipv4 : [],
    ipv6: e.kind === 'static' ? e.ipv6 : [],
  }));
}

/**
 * The one place that builds and wires components: start in order, stop in reverse. Everything
 * else receives what it needs as arguments.
 */
export class App {
  readonly metrics = new Metrics();
  readonly startedAt = Date.now();
  private config: Config;
  private readonly logger: Logger;
  private readonly listeners = new Map<string, Listener>();
  private forwarder: Forwarder;
  private resolver: Resolver;
  private access: AccessList;
  private loopDelay: IntervalHistogram | undefined;
  private state: 'starting' | 'running' | 'stopping' | 'stopped' = 'starting';

  constructor(readonly options: AppOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.access = new AccessList(this.config.access.allow);
    this.forwarder = this.buildForwarder(this.config);
    this.resolver = this.buildResolver(this.config, AnswerTable.build(staticTableInputs(this.config), 1));
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Bound DNS ports per listen address (port 0 in config binds a free port: tests use it). */
  get dnsPorts(): { address: string; udp: number; tcp: number }[] {
    return [...this.listeners.values()].map((l) => ({ address: l.key, udp: l.udpPort, tcp: l.tcpPort }));
  }

  async start(): Promise<void> {
    this.loopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.loopDelay.enable();
    for (const address of this.config.listen.dns) await this.openListener(address);
    this.state = 'running';
    this.logger.info({ dns: this.dnsPorts, upstreams: this.config.upstream.servers.map(formatHostPort), names: this.resolver.currentTable.size }, 'privatelink-dns started');
  }

  private buildForwarder(config: Config): Forwarder {
    return new Forwarder(config.upstream, forwarderObserver(this.metrics), this.logger.child({ component: 'upstream' }));
  }

  private buildResolver(config: Config, table: AnswerTable): Resolver {
    return new Resolver(table, {
      records: config.records,
      forwarder: this.forwarder,
      observer: resolverObserver(this.metrics),
      logger: this.logger.child({ component: 'resolver' }),
      logQueries: config.log.queries,
    });
  }

  private admission(): AdmissionCheck {
    const access = this.access;
    return (client): Admission => (access.allows(client.address) ? 'pass' : 'refuse');
  }

  private async openListener(address: HostPort): Promise<void> {
    const key = formatHostPort(address);
    const handler: DnsHandler = this.resolver.handle;
    const counters = edgeCounters(this.metrics);
    const logger = this.logger.child({ component: 'dns', listen: key });
    const udp = new UdpServer({ address, handler, admit: this.admission(), counters, logger, recvBufferBytes: 4 * 1024 * 1024 });
    const udpPort = await udp.start();
    // With port 0 the TCP listener takes the same number the kernel gave UDP.
    const tcpAddress = address.port === 0 ? { ...address, port: udpPort } : address;
    const l = this.config.limits;
    const tcp = new TcpServer({
      address: tcpAddress, handler, admit: this.admission(), counters, logger,
      limits: { maxConnections: l.tcpMaxConnections, maxConnectionsPerClient: l.tcpMaxConnectionsPerClient, idleTimeoutMs: l.tcpIdleTimeoutMs, maxInFlight: l.tcpMaxInFlight, maxWriteBufferBytes: l.tcpMaxWriteBufferBytes, framesPerTick: 32 },
    });
    let tcpPort: number;
    try {
      tcpPort = await tcp.start();
    } catch (err) {
      await udp.close();
      throw err;
    }
    this.listeners.set(key, { key, udp, tcp, udpPort, tcpPort });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    const grace = this.config.limits.shutdownGraceMs;
    await Promise.all([...this.listeners.values()].flatMap((l) => [l.udp.close(grace), l.tcp.close(grace)]));
    this.listeners.clear();
    this.forwarder.close();
    this.loopDelay?.disable();
    this.state = 'stopped';
    this.logger.info('privatelink-dns stopped');
  }
}
