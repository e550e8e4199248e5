import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Config } from './config/schema';
import { formatHostPort, type HostPort } from './config/units';
import { describeError } from './errors';
import type { Logger } from './log';
import { Metrics, edgeCounters, forwarderObserver, resolverObserver, snapshotObserver, syncObserver } from './metrics';
import { UdpServer } from './dns/udp-server';
import { TcpServer } from './dns/tcp-server';
import type { Admission, AdmissionCheck, DnsHandler } from './dns/edge';
import { Resolver } from './resolve/resolver';
import { AnswerTable, type TableEntryInput } from './resolve/table';
import { AccessList, isLoopbackAddress } from './resolve/access';
import { AnswerCache } from './resolve/cache';
import { RateLimiter } from './resolve/rate-limiter';
import { UpstreamForwarder } from './upstream/upstream-forwarder';
import { Syncer, type ApiProvider } from './privatelink/sync';
import { SnapshotStore } from './privatelink/snapshot';
import { ApiClientProvider } from './privatelink/api-provider';
import type { SyncState } from './privatelink/model';
import { HttpServer } from './http/http-server';
import { computeReadiness, computeStatus } from './status';

export interface AppOptions {
  readonly config: Config;
  readonly configPath: string | null;
  readonly logger: Logger;
  readonly version: string;
  /** Extra fields for /status (the demo reports its simulator here). */
  readonly statusExtras?: () => Record<string, unknown>;
}

interface Listener {
  readonly key: string;
  readonly udp: UdpServer;
  readonly tcp: TcpServer;
  readonly udpPort: number;
  readonly tcpPort: number;
}

/** Tries to find one free number for both UDP and TCP when listen.dns asks for port 0. */
const PORT_ZERO_ATTEMPTS = 10;

export type AppState = 'starting' | 'running' | 'lameduck' | 'stopping' | 'stopped';

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
  private forwarder: UpstreamForwarder;
  private resolver: Resolver;
  private cache: AnswerCache | undefined;
  private access: AccessList;
  private rateLimiter: RateLimiter | undefined;
  private syncer: Syncer | undefined;
  private snapshots: SnapshotStore | undefined;
  private apiClients: ApiClientProvider | undefined;
  private http: HttpServer | undefined;
  private httpPort: number | undefined;
  private tableVersion = 0;
  private syncState: SyncState | undefined;
  private loopDelay: IntervalHistogram | undefined;
  private state: AppState = 'starting';

  constructor(readonly options: AppOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.access = new AccessList(this.config.access.allow);
    this.rateLimiter = this.config.access.rateLimit ? new RateLimiter(this.config.access.rateLimit) : undefined;
    this.cache = this.config.cache.size > 0 ? new AnswerCache(this.config.cache) : undefined;
    this.forwarder = this.buildForwarder(this.config);
    this.resolver = this.buildResolver(this.config, AnswerTable.empty());
  }

  get currentConfig(): Config {
    return this.config;
  }

  get lifecycle(): AppState {
    return this.state;
  }

  /** Bound DNS ports per listen address (port 0 in config binds a free port: tests use it). */
  get dnsPorts(): { address: string; udp: number; tcp: number; udpIo: string }[] {
    return [...this.listeners.values()].map((l) => ({ address: l.key, udp: l.udpPort, tcp: l.tcpPort, udpIo: l.udp.engine ?? 'closed' }));
  }

  get table(): AnswerTable {
    return this.resolver.currentTable;
  }

  /** Start order: snapshot → table → DNS listeners → HTTP → first sync and schedule. */
  async start(): Promise<void> {
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    await this.startSync();
    for (const address of this.config.listen.dns) await this.openListener(address);
    if (this.config.listen.http) await this.openHttp(this.config.listen.http);
    this.state = 'running';
    this.syncer?.start();
    this.logger.info({
      dns: this.dnsPorts,
      http: this.httpPort === undefined ? undefined : { port: this.httpPort },
      upstreams: this.config.upstream.servers.map(formatHostPort),
      names: this.table.size,
      version: this.options.version,
    }, 'privatelink-dns started');
  }

  private buildForwarder(config: Config): UpstreamForwarder {
    return new UpstreamForwarder(config.upstream, forwarderObserver(this.metrics), this.logger.child({ component: 'upstream' }), config.limits.maxForwardsInFlight);
  }

  private buildResolver(config: Config, table: AnswerTable): Resolver {
    return new Resolver(table, {
      records: config.records,
      forwarder: this.forwarder,
      cache: this.cache,
      observer: resolverObserver(this.metrics),
      logger: this.logger.child({ component: 'resolver' }),
      logQueries: config.log.queries,
    });
  }

  /** Access list first (REFUSED), then the UDP rate limit (drop or TC slip). TCP needs a handshake, so it is not spoofable and not limited here. */
  private admission(): AdmissionCheck {
    const access = this.access;
    const limiter = this.rateLimiter;
    const dropped = this.metrics.rateLimited.bind({ action: 'drop' });
    const slipped = this.metrics.rateLimited.bind({ action: 'slip' });
    return (client, protocol): Admission => {
      if (!access.allows(client.address)) return 'refuse';
      // Loopback sources cannot be spoofed from the network (the kernel drops them as martians),
      // and on an edge node they are the node itself: never rate-limit them.
      if (!limiter || protocol === 'tcp' || isLoopbackAddress(client.address)) return 'pass';
      const verdict = limiter.check(client.address, Date.now());
      if (verdict === 'ok') return 'pass';
      (verdict === 'drop' ? dropped : slipped).value++;
      return verdict;
    };
  }

  // ---- PrivateLink: snapshot, client, sync ------------------------------------------------

  private hasCloudEntries(config: Config): boolean {
    return config.records.entries.some((e) => e.kind !== 'static');
  }

  private apiProvider(): ApiProvider {
    this.apiClients ??= new ApiClientProvider(this.config, this.logger);
    return this.apiClients.provide;
  }

  private async startSync(): Promise<void> {
    let initial: SyncState | undefined;
    if (this.config.stateDir) {
      this.snapshots = new SnapshotStore({ dir: this.config.stateDir, observer: snapshotObserver(this.metrics) });
      try {
        initial = await this.snapshots.load(this.config.records.entries);
        if (initial) this.logger.info({ dir: this.config.stateDir, entries: initial.entries.length }, 'loaded the last good table from the snapshot');
      } catch (err) {
        this.logger.warn({ err: describeError(err) }, 'ignoring the snapshot');
      }
    }
    this.syncer = new Syncer({
      api: this.apiProvider(),
      config: this.config,
      observer: syncObserver(this.metrics),
      logger: this.logger,
      initialState: initial,
      onState: (state, inputs) => this.onSyncState(state, inputs),
    });
    const { state, inputs } = this.syncer.current();
    this.onSyncState(state, inputs);
    if (!this.hasCloudEntries(this.config)) {
      // Static entries only: nothing to fetch, no schedule.
      this.syncer = undefined;
    }
  }

  private onSyncState(state: SyncState, inputs: TableEntryInput[]): void {
    this.syncState = state;
    this.swapTable(inputs);
    if (this.snapshots) {
      this.snapshots.save(state).catch((err) => this.logger.error({ err: describeError(err) }, 'could not save the snapshot; the previous one is kept'));
    }
  }

  private swapTable(inputs: TableEntryInput[]): void {
    this.tableVersion++;
    this.resolver.setTable(AnswerTable.build(inputs, this.tableVersion));
  }

  // ---- listeners ---------------------------------------------------------------------------

  private async openListener(address: HostPort): Promise<void> {
    const key = formatHostPort(address);
    const handler: DnsHandler = this.resolver.handle;
    const counters = edgeCounters(this.metrics);
    const logger = this.logger.child({ component: 'dns', listen: key });
    // With port 0 (tests) TCP takes the number the kernel gave UDP; that number can already be
    // some TCP socket's ephemeral port, so try a few times before giving up.
    for (let attempt = 1; ; attempt++) {
      const udp = new UdpServer({ address, handler, admit: this.admission(), counters, logger, udpIo: this.config.listen.udpIo, recvBufferBytes: 4 * 1024 * 1024 });
      const udpPort = await udp.start();
      const tcpAddress = address.port === 0 ? { ...address, port: udpPort } : address;
      const tcp = new TcpServer({ address: tcpAddress, handler, admit: this.admission(), counters, logger, limits: this.tcpLimits() });
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

  private tcpLimits(): ConstructorParameters<typeof TcpServer>[0]['limits'] {
    const l = this.config.limits;
    return { maxConnections: l.tcpMaxConnections, maxConnectionsPerClient: l.tcpMaxConnectionsPerClient, idleTimeoutMs: l.tcpIdleTimeoutMs, maxInFlight: l.tcpMaxInFlight, maxWriteBufferBytes: l.tcpMaxWriteBufferBytes, framesPerTick: 32 };
  }

  private async openHttp(address: HostPort): Promise<void> {
    this.http = new HttpServer({ address, logger: this.logger.child({ component: 'http' }), sources: this.httpSources() });
    this.httpPort = await this.http.start();
  }

  private httpSources(): ConstructorParameters<typeof HttpServer>[0]['sources'] {
    return {
      registry: this.metrics.registry,
      readiness: () => computeReadiness(this.readinessInputs()),
      status: () => computeStatus(this.statusInputs()),
      beforeMetrics: () => this.refreshGauges(),
    };
  }

  private readinessInputs(): Parameters<typeof computeReadiness>[0] {
    return { lifecycle: this.state, listenersBound: this.listeners.size === this.config.listen.dns.length && this.listeners.size > 0, syncState: this.syncState, table: this.table, config: this.config, nowMs: Date.now() };
  }

  private statusInputs(): Parameters<typeof computeStatus>[0] {
    return {
      ...this.readinessInputs(),
      version: this.options.version,
      configPath: this.options.configPath,
      startedAtMs: this.startedAt,
      upstreams: this.forwarder.pool.servers,
      cacheEntries: this.cache?.size ?? 0,
      backoff: this.syncer?.backoff(),
      listeners: this.dnsPorts,
      extras: this.options.statusExtras?.(),
    };
  }

  private refreshGauges(): void {
    const h = this.loopDelay;
    if (h) {
      this.metrics.eventLoopDelay.set({ quantile: '0.5' }, h.percentile(50) / 1e9);
      this.metrics.eventLoopDelay.set({ quantile: '0.99' }, h.percentile(99) / 1e9);
      this.metrics.eventLoopDelay.set({ quantile: '1' }, h.max / 1e9);
      h.reset();
    }
    this.metrics.cacheEntries.set(this.cache?.size ?? 0);
  }

  // ---- reload and stop ---------------------------------------------------------------------

  /**
   * Applies a new, already validated config: unchanged listeners keep their sockets, records,
   * upstreams, access and schedule switch over between two queries. The cache survives unless its
   * size settings changed.
   */
  async reload(next: Config): Promise<void> {
    const prev = this.config;
    this.config = next;
    this.logger.level = next.log.level;
    this.access = new AccessList(next.access.allow);
    this.rateLimiter = next.access.rateLimit ? new RateLimiter(next.access.rateLimit) : undefined;
    if (JSON.stringify(prev.cache) !== JSON.stringify(next.cache)) this.cache = next.cache.size > 0 ? new AnswerCache(next.cache) : undefined;
    if (JSON.stringify(prev.upstream) !== JSON.stringify(next.upstream) || prev.limits.maxForwardsInFlight !== next.limits.maxForwardsInFlight) {
      this.forwarder.close();
      this.forwarder = this.buildForwarder(next);
    }
    if (JSON.stringify(prev.privatelink) !== JSON.stringify(next.privatelink)) {
      this.apiClients?.close();
      this.apiClients = undefined;
    }
    this.resolver = this.buildResolver(next, this.table);
    if (this.syncer) this.syncer.reconfigure(next, { api: this.apiProvider() });
    else {
      // Only static entries before: build the sync side now (it stays off without cloud entries).
      await this.startSync();
      (this.syncer as Syncer | undefined)?.start();
    }
    // Listeners: keep, close, open.
    const wanted = new Map(next.listen.dns.map((a) => [formatHostPort(a), a]));
    const engineChanged = prev.listen.udpIo !== next.listen.udpIo;
    for (const [key, l] of this.listeners) {
      if (!wanted.has(key) || engineChanged) {
        await Promise.all([l.udp.close(), l.tcp.close()]);
        this.listeners.delete(key);
        this.logger.info({ listen: key }, 'listener closed by reload');
      } else {
        l.udp.setHandler(this.resolver.handle, this.admission());
        l.tcp.setHandler(this.resolver.handle, this.admission());
      }
    }
    for (const [key, address] of wanted) {
      if (!this.listeners.has(key)) {
        await this.openListener(address);
        this.logger.info({ listen: key }, 'listener opened by reload');
      }
    }
    const httpKey = (c: Config): string => (c.listen.http ? formatHostPort(c.listen.http) : '');
    if (httpKey(prev) !== httpKey(next)) {
      await this.http?.close();
      this.http = undefined;
      this.httpPort = undefined;
      if (next.listen.http) await this.openHttp(next.listen.http);
    }
    this.metrics.reloads.inc({ result: 'ok' });
    this.logger.info({ names: this.table.size, dns: this.dnsPorts }, 'configuration reloaded');
  }

  /** Lameduck: /readyz turns 503 first so load balancers and probes move away, then we stop. */
  async stop(lameduckMs = 0): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'lameduck';
    if (lameduckMs > 0) await new Promise((r) => setTimeout(r, lameduckMs));
    this.state = 'stopping';
    await this.syncer?.stop();
    const grace = this.config.limits.shutdownGraceMs;
    await Promise.all([...this.listeners.values()].flatMap((l) => [l.udp.close(grace), l.tcp.close(grace)]));
    this.listeners.clear();
    await this.http?.close();
    this.forwarder.close();
    this.apiClients?.close();
    this.loopDelay?.disable();
    this.state = 'stopped';
    this.logger.info('privatelink-dns stopped');
  }
}
