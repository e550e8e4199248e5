import type { Config } from '../config/schema';
import { planReload } from '../config/restart-keys';
import { logConfigWarnings } from '../config/warnings';
import { formatHostPort } from '../config/units';
import type { Logger } from '../runtime/log';
import { MemoryPolicy } from '../runtime/memory-policy';
import { Metrics, admissionObserver, forwarderObserver, pipelineCounters, resolverObserver } from '../metrics';
import { QueryPipeline, type PipelineRoutes } from '../server/pipeline';
import { ListenerSet } from '../server/listener-set';
import { listenerOptions } from '../server/listener-options';
import { Resolver, type ResolverOptions } from '../resolve/resolver';
import { AnswerTable } from '../resolve/table';
import { AdmissionPolicy } from '../resolve/admission';
import { AnswerCache } from '../resolve/cache';
import type { UpstreamForwarder } from '../upstream/upstream-forwarder';
import { forwarderForConfig } from '../upstream/forwarder-for-config';
import { HttpListeners } from '../http/http-listeners';
import { computeReadiness, computeStatus, type ReadinessInputs } from '../http/status';
import { TableComposer } from './table-composer';
import { createTableSource } from './table-sources';
import type { TableSource } from './table-source';
import { ZoneService } from './zone-service';

export interface AppOptions {
  readonly config: Config;
  readonly configPath: string | null;
  readonly logger: Logger;
  readonly version: string;
  /** Extra fields for /status (the demo reports its simulator here). */
  readonly statusExtras?: () => Record<string, unknown>;
  /** Manage the young generation's growth (runtime/heap-settings.ts; off when the operator set it). */
  readonly capYoungGeneration?: boolean;
}

export type AppState = 'starting' | 'running' | 'lameduck' | 'stopping' | 'stopped';

/**
 * The one place that builds and orders components: start in order, stop in reverse. What the
 * table is made of is the table source's and the composer's; the zone side is the zone service's.
 */
export class App {
  readonly metrics: Metrics;
  readonly startedAt = Date.now();
  private config: Config;
  private readonly logger: Logger;
  private readonly admission: AdmissionPolicy;
  private cache: AnswerCache | undefined;
  private readonly forwarder: UpstreamForwarder;
  private readonly resolver: Resolver;
  private readonly composer: TableComposer;
  private readonly source: TableSource;
  private zones: ZoneService | undefined;
  private readonly pipeline: QueryPipeline;
  private readonly listeners: ListenerSet;
  private readonly http: HttpListeners;
  private memory: MemoryPolicy | undefined;
  private state: AppState = 'starting';

  /** The start options without the config: after a reload the first config would otherwise stay in memory (a 10,000-entry hub: ~3 MB). */
  readonly options: Omit<AppOptions, 'config'>;

  constructor(options: AppOptions) {
    const { config, ...rest } = options;
    this.options = rest;
    this.config = config;
    this.logger = options.logger;
    this.metrics = new Metrics({ version: options.version, deferProcessMetrics: true });
    this.admission = new AdmissionPolicy(config.access, admissionObserver(this.metrics));
    this.cache = AnswerCache.follow(undefined, config.cache);
    this.forwarder = forwarderForConfig(config, forwarderObserver(this.metrics), this.logger.child({ component: 'upstream' }));
    this.resolver = new Resolver(AnswerTable.empty(), this.resolverOptions(config));
    this.composer = new TableComposer({ config, resolver: this.resolver, resolverOptions: (c) => this.resolverOptions(c), metrics: this.metrics, logger: this.logger });
    this.source = createTableSource(config, this.metrics, this.logger, this.composer.sourceUpdated);
    this.pipeline = new QueryPipeline(this.routes(), pipelineCounters(this.metrics), this.logger.child({ component: 'dns' }));
    this.listeners = new ListenerSet(listenerOptions(config, this.pipeline, this.logger.child({ component: 'dns' })));
    this.http = new HttpListeners({
      registry: this.metrics.registry,
      readiness: () => computeReadiness(this.readinessInputs()),
      status: () => computeStatus(this.statusInputs()),
      beforeMetrics: () => this.refreshGauges(),
    }, this.logger.child({ component: 'http' }));
  }

  get currentConfig(): Config {
    return this.config;
  }

  get lifecycle(): AppState {
    return this.state;
  }

  /** Bound DNS ports per listen address (port 0 in config binds a free port: tests use it). */
  get dnsPorts(): { address: string; udp: number; tcp: number; udpIo: string }[] {
    return this.listeners.bound;
  }

  get table(): AnswerTable {
    return this.resolver.currentTable;
  }

  /**
   * Start order: the zone side (a hub's published zones) → the saved table (snapshot, or an edge's
   * last zone) → DNS listeners → HTTP → the source's first fetch and schedule, and the probes.
   */
  async start(): Promise<void> {
    this.zones = await ZoneService.create(this.config, { metrics: this.metrics, logger: this.logger }, this.source.notifyReceiver);
    if (this.zones) this.composer.subscribe(this.zones.sourceUpdated);
    await this.source.init();
    this.pipeline.reconfigure(this.routes());
    await this.listeners.open(this.config.listen.dns);
    // Answer what has already arrived before loading and opening the rest (HTTP, the sync's cloud SDK).
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.metrics.collectProcessMetrics();
    await this.http.open(this.config.listen);
    this.state = 'running';
    this.memory = new MemoryPolicy(() => this.forwarder.forwardsInFlight, this.options.capYoungGeneration === true);
    this.source.start();
    this.composer.startProbes();
    this.logger.info({
      dns: this.dnsPorts,
      ...this.http.logFields(),
      upstreams: this.config.upstream.servers.map(formatHostPort),
      upstreamUdp: this.forwarder.udpEngine,
      names: this.table.size,
      version: this.options.version,
    }, 'privatelink-dns started');
    logConfigWarnings(this.logger, this.config);
  }

  private resolverOptions(config: Config): ResolverOptions {
    return {
      records: config.records,
      forwarder: this.forwarder,
      cache: this.cache,
      observer: resolverObserver(this.metrics),
      logger: this.logger.child({ component: 'resolver' }),
      logQueries: config.log.queries,
      maxTtlS: config.cache.maxTtlS,
      nsid: config.nsid,
    };
  }

  private routes(): PipelineRoutes {
    const server = this.zones?.server;
    return { handler: this.resolver.handle, admit: this.admission.check, mayRefuse: this.admission.mayRefuse, ...(server ? { zone: server } : {}) };
  }

  /** Gauges computed at scrape time, so they are as true as /status. */
  private refreshGauges(): void {
    this.metrics.cacheEntries.set(this.cache?.size ?? 0);
    this.metrics.tableAgeSeconds.set(this.source.dataAgeS(Date.now()));
    this.metrics.ready.set(computeReadiness(this.readinessInputs()).ready ? 1 : 0);
  }

  private readinessInputs(): ReadinessInputs {
    const nowMs = Date.now();
    const listenersBound = this.listeners.size === this.config.listen.dns.length && this.listeners.size > 0;
    return { lifecycle: this.state, listenersBound, table: this.table, nowMs, source: this.source, otherReasons: this.zones?.notReadyReasons(nowMs) };
  }

  private statusInputs(): Parameters<typeof computeStatus>[0] {
    return {
      ...this.readinessInputs(),
      config: this.config,
      version: this.options.version,
      configPath: this.options.configPath,
      startedAtMs: this.startedAt,
      upstreams: this.forwarder.pool.servers,
      cacheEntries: this.cache?.size ?? 0,
      listeners: this.dnsPorts,
      extras: this.options.statusExtras?.(),
      published: this.zones?.status(),
      probes: this.composer.probeStatus(),
    };
  }

  /**
   * Applies a new, validated config. What can fail (binding new listen addresses) goes first, so
   * a failed reload changes nothing; then every component switches between two queries. Keys that
   * need a restart keep their running values, and the log names them.
   */
  async reload(next: Config): Promise<void> {
    const plan = planReload(this.config, next);
    const config = plan.config;
    await this.listeners.reconfigure(config.listen.dns, listenerOptions(config, this.pipeline, this.logger.child({ component: 'dns' })));
    await this.http.reconfigure(config.listen);
    this.logger.level = config.log.level;
    this.admission.reconfigure(config.access);
    this.cache = AnswerCache.follow(this.cache, config.cache);
    this.forwarder.reconfigure(config.upstream, config.limits.maxForwardsInFlight);
    this.zones?.reconfigure(config);
    this.composer.reconfigure(config);
    this.source.reconfigure(config);
    this.pipeline.reconfigure(this.routes());
    this.config = config;
    this.metrics.reloads.inc({ result: 'ok' });
    if (plan.needRestart.length > 0) this.logger.warn({ keys: plan.needRestart }, `configuration reloaded; ${plan.needRestart.join(', ')} keep their running values until a restart`);
    this.logger.info({ changed: plan.changed, names: this.table.size, dns: this.dnsPorts }, 'configuration reloaded');
    logConfigWarnings(this.logger, config);
  }

  /** SIGUSR2: the table source fetches now (a sync, or an edge's full transfer whatever the serial). */
  refetch(): void {
    this.source.refetch();
  }

  /** Lameduck: /readyz turns 503 first so load balancers and probes move away, then we stop. */
  async stop(lameduckMs = 0): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'lameduck';
    if (lameduckMs > 0) await new Promise((r) => setTimeout(r, lameduckMs));
    this.state = 'stopping';
    this.composer.stop();
    await this.source.stop();
    await this.zones?.stop();
    await this.listeners.close(this.config.limits.shutdownGraceMs);
    await this.http.close();
    this.forwarder.close();
    this.memory?.stop();
    this.metrics.close();
    this.state = 'stopped';
    this.logger.info('privatelink-dns stopped');
  }
}
