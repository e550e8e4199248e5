import type { Config } from '../config/schema';
import { formatHostPort } from '../config/units';
import { describeError } from '../errors';
import type { Logger } from '../runtime/log';
import {
  Metrics, admissionObserver, pipelineCounters, forwarderObserver, notifierObserver, probeObserver, publishedSerialObserver, resolverObserver, secondaryObserver,
  snapshotObserver, syncObserver, zoneServerObserver,
} from '../metrics';
import { QueryPipeline, type PipelineRoutes } from '../server/pipeline';
import { ListenerSet, type ListenerSetOptions } from '../server/listener-set';
import { Resolver } from '../resolve/resolver';
import { AnswerTable, type TableEntryInput } from '../resolve/table';
import { AdmissionPolicy } from '../resolve/admission';
import { AnswerCache } from '../resolve/cache';
import { UpstreamForwarder } from '../upstream/upstream-forwarder';
import { YoungGenerationCap } from '../runtime/heap-settings';
import { MemoryTrimmer } from '../runtime/memory-trimmer';
import { NativeUdpExchanger } from '../upstream/native-udp-exchanger';
import { dgramExchanger } from '../upstream/udp-exchange';
import { loadUdpBatch } from '../native/binding';
import { Syncer, type ApiProvider } from '../privatelink/sync';
import { SnapshotStore } from '../privatelink/snapshot';
import { ApiClientProvider } from '../privatelink/api-provider';
import type { SyncState } from '../privatelink/model';
import { HttpListeners } from '../http/http-listeners';
import type { HttpSources } from '../http/routes';
import type { Secondary } from '../fleet/secondary/secondary';
import type { ZoneHub, ZoneHubOptions } from '../fleet/primary/zone-hub';
import type { ZoneServer } from '../fleet/primary/zone-server';
import { buildTableInputs } from '../privatelink/table-builder';
import { dataFetchedAtMs, staticEntryState } from '../privatelink/model';
import { configWarnings } from '../config/warnings';
import { computeReadiness, computeStatus } from '../http/status';
import { Prober } from '../probe/prober';
import { probeConfigKey, probeSettingsFor, zonesByIp } from '../probe/probe-settings';

/** Fleet mode's modules, required only by a config with `transfer` or `primaries`. */
function fleet(): typeof import('../fleet/loader') {
  return require('../fleet/loader');
}

/**
 * With a table from the snapshot, the first sync waits this long: it loads the cloud SDK (~80 ms
 * of blocked event loop), and the queries of a fresh start are answered from the snapshot first.
 * Without a snapshot the first sync starts at once: there is nothing else to answer with.
 */
const FIRST_SYNC_AFTER_SNAPSHOT_MS = 250;

/** How long a TCP query frame may take to arrive once its first byte has (capped by the idle timeout). */
const TCP_FRAME_TIMEOUT_MS = 3000;

export interface AppOptions {
  readonly config: Config;
  readonly configPath: string | null;
  readonly logger: Logger;
  readonly version: string;
  /** Extra fields for /status (the demo reports its simulator here). */
  readonly statusExtras?: () => Record<string, unknown>;
  /** Manage the young generation's growth (heap-settings.ts; off when the operator set it). */
  readonly capYoungGeneration?: boolean;
}

/**
 * Forwards in flight from which the daemon counts as busy forwarding: the young generation may
 * grow (forwards survive scavenges), and freed memory is not trimmed (a trim holds malloc's locks).
 */
const BUSY_FORWARDS = 32;

export type AppState = 'starting' | 'running' | 'lameduck' | 'stopping' | 'stopped';

/**
 * The one place that builds and wires components: start in order, stop in reverse. Everything
 * else receives what it needs as arguments.
 */
export class App {
  readonly metrics: Metrics;
  readonly startedAt = Date.now();
  private config: Config;
  private readonly logger: Logger;
  private readonly listeners: ListenerSet;
  private readonly pipeline: QueryPipeline;
  private readonly admission: AdmissionPolicy;
  private forwarder: UpstreamForwarder;
  private youngGeneration: YoungGenerationCap | undefined;
  private memoryTrimmer: MemoryTrimmer | undefined;
  private resolver: Resolver;
  private cache: AnswerCache | undefined;
  private syncer: Syncer | undefined;
  private snapshots: SnapshotStore | undefined;
  private apiClients: ApiClientProvider | undefined;
  private readonly http: HttpListeners;
  /** listen.metrics: /metrics alone, so /status need not be exposed to scrapers. */
  private tableVersion = 0;
  /** What the source (sync or transfer) gave; the table answers these minus what the prober finds unreachable. */
  private baseInputs: readonly TableEntryInput[] = [];
  private prober: Prober | undefined;
  private syncState: SyncState | undefined;
  /** Fleet mode: the zones this instance publishes (hub), and the primaries it takes the table from (edge). */
  private hub: ZoneHub | undefined;
  private secondary: Secondary | undefined;
  private zoneServer: ZoneServer | undefined;
  /** On an edge: the TTL of the received zone, used instead of records.ttl. */
  private zoneTtlS: number | undefined;
  private state: AppState = 'starting';
  private fromSnapshot = false;
  private firstSync: NodeJS.Timeout | undefined;

  constructor(readonly options: AppOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.metrics = new Metrics({ version: options.version, deferProcessMetrics: true });
    this.admission = new AdmissionPolicy(this.config.access, admissionObserver(this.metrics));
    this.cache = this.config.cache.size > 0 ? new AnswerCache(this.config.cache) : undefined;
    this.forwarder = this.buildForwarder(this.config);
    this.resolver = this.buildResolver(this.config, AnswerTable.empty());
    this.prober = this.buildProber(this.config);
    this.pipeline = new QueryPipeline(this.routes(), pipelineCounters(this.metrics), this.logger.child({ component: 'dns' }));
    this.listeners = new ListenerSet(this.listenerOptions(this.config));
    this.http = new HttpListeners(this.httpSources(), this.logger.child({ component: 'http' }));
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
   * Start order: published zones (hub) → saved table (snapshot, or the last zone on an edge) →
   * DNS listeners → HTTP → first sync or SOA check, and their schedule.
   */
  async start(): Promise<void> {
    await this.startHub(this.config);
    if (this.config.source === 'primaries') this.buildSecondary(this.config);
    else await this.startSync();
    this.pipeline.reconfigure(this.routes());
    await this.secondary?.start();
    await this.listeners.open(this.config.listen.dns);
    // Answer what has already arrived before loading and opening the rest (HTTP, the sync's cloud SDK).
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.metrics.collectProcessMetrics();
    await this.http.open(this.config.listen);
    this.state = 'running';
    if (this.options.capYoungGeneration) this.youngGeneration = new YoungGenerationCap(() => this.forwarder.forwardsInFlight >= BUSY_FORWARDS);
    const addon = loadUdpBatch();
    if (addon.ok) this.memoryTrimmer = new MemoryTrimmer({ trim: () => addon.binding.trimMemory(), busy: () => this.forwarder.forwardsInFlight >= BUSY_FORWARDS });
    if (this.fromSnapshot && this.syncer) {
      const syncer = this.syncer;
      this.firstSync = setTimeout(() => {
        this.firstSync = undefined;
        syncer.start();
      }, FIRST_SYNC_AFTER_SNAPSHOT_MS);
    } else {
      this.syncer?.start();
    }
    this.prober?.start();
    this.logger.info({
      dns: this.dnsPorts,
      http: this.http.ports.http === undefined ? undefined : { port: this.http.ports.http },
      metrics: this.http.ports.metrics === undefined ? undefined : { port: this.http.ports.metrics },
      upstreams: this.config.upstream.servers.map(formatHostPort),
      upstreamUdp: this.forwarder.udpEngine,
      names: this.table.size,
      version: this.options.version,
    }, 'privatelink-dns started');
    this.warnAbout(this.config);
  }

  private warnAbout(config: Config): void {
    for (const w of configWarnings(config)) this.logger.warn({ setting: w.setting }, `config: ${w.setting} ${w.message}`);
  }

  /** Upstream UDP goes through the addon when it loads, unless `listen.udp_io: dgram` (chosen at start; a reload keeps it). */
  private buildForwarder(config: Config): UpstreamForwarder {
    const load = config.listen.udpIo === 'dgram' ? undefined : loadUdpBatch();
    const udp = load?.ok ? new NativeUdpExchanger(load.binding) : dgramExchanger;
    return new UpstreamForwarder(config.upstream, forwarderObserver(this.metrics), this.logger.child({ component: 'upstream' }), config.limits.maxForwardsInFlight, udp);
  }

  private buildResolver(config: Config, table: AnswerTable): Resolver {
    return new Resolver(table, {
      records: this.zoneTtlS === undefined ? config.records : { ...config.records, ttl: this.zoneTtlS },
      forwarder: this.forwarder,
      cache: this.cache,
      observer: resolverObserver(this.metrics),
      logger: this.logger.child({ component: 'resolver' }),
      logQueries: config.log.queries,
      maxTtlS: config.cache.maxTtlS,
    });
  }

  /** Probes run on every instance for its own answers; a hub still publishes every IP (it publishes the sync state). */
  private buildProber(config: Config): Prober | undefined {
    const probe = config.records.probe;
    if (!probe) return undefined;
    let zones: { state: SyncState | undefined; byIp: Map<string, string> } = { state: undefined, byIp: new Map() };
    return new Prober({
      config: probe,
      settingsFor: probeSettingsFor(config.records),
      table: () => this.table,
      onChange: () => this.setTable(),
      observer: probeObserver(this.metrics),
      logger: this.logger.child({ component: 'probe' }),
      zoneOf: (ip) => {
        if (zones.state !== this.syncState) zones = { state: this.syncState, byIp: zonesByIp(this.syncState) };
        return zones.byIp.get(ip);
      },
    });
  }

  private routes(): PipelineRoutes {
    const zone = this.zoneServer ? { zone: this.zoneServer } : {};
    return { handler: this.resolver.handle, admit: this.admission.check, mayRefuse: this.admission.mayRefuse, ...zone };
  }

  // ---- fleet mode: hub (publish the table as an RPZ) and edge (take it from primaries) -------

  private hubOptions(config: Config): ZoneHubOptions | undefined {
    if (!config.transfer) return undefined;
    return {
      transfer: config.transfer,
      records: config.records,
      stateDir: config.stateDir,
      sendNotify: fleet().notifySender(config.transfer.keys),
      notifyObserver: notifierObserver(this.metrics),
      onSerial: publishedSerialObserver(this.metrics),
      logger: this.logger.child({ component: 'transfer' }),
    };
  }

  private async startHub(config: Config): Promise<void> {
    const options = this.hubOptions(config);
    if (!options) return;
    this.hub = new (fleet().ZoneHub)(options);
    await this.hub.init();
    this.zoneServer = this.buildZoneServer(config);
  }

  private buildZoneServer(config: Config): ZoneServer | undefined {
    if (!this.hub && !this.secondary) return undefined;
    const keys = [...(config.transfer?.keys ?? []), ...(config.primaries?.key ? [config.primaries.key] : [])];
    return new (fleet().ZoneServer)({
      ...(this.hub ? { publisher: this.hub.publisher, acl: this.hub.acl, secondaries: this.hub.secondaries } : {}),
      ...(this.secondary ? { notifyReceiver: this.secondary } : {}),
      authenticate: fleet().tsigAuthenticator(keys),
      observer: zoneServerObserver(this.metrics),
      logger: this.logger.child({ component: 'transfer' }),
    });
  }

  private buildSecondary(config: Config): void {
    const primaries = config.primaries;
    if (!primaries) return;
    const dir = config.stateDir;
    this.secondary = new (fleet().Secondary)({
      config: primaries,
      calls: fleet().xfrCalls,
      store: dir ? fleet().zoneStore(dir) : undefined,
      observer: secondaryObserver(this.metrics, primaries.zone),
      logger: this.logger.child({ component: 'secondary' }),
      onZone: (zone, table) => {
        // An edge answers with the TTL the hub published, so both give the same answers.
        if (table.ttlS !== this.zoneTtlS) {
          this.zoneTtlS = table.ttlS;
          this.resolver = this.buildResolver(this.config, this.table);
          this.pipeline.reconfigure(this.routes());
        }
        this.swapTable([...table.inputs, ...this.staticInputs()]);
        this.hub?.publishReceived(zone);
      },
    });
    this.zoneServer = this.buildZoneServer(config);
    this.swapTable(this.staticInputs());
  }

  /** An edge's own static entries, answered beside (and before) the names of the zone. */
  private staticInputs(): TableEntryInput[] {
    const states = this.config.records.entries.flatMap((e) => (e.kind === 'static' ? [staticEntryState(e)] : []));
    return buildTableInputs(states, []).inputs;
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
      this.snapshots = new SnapshotStore({
        dir: this.config.stateDir,
        observer: snapshotObserver(this.metrics),
        logger: this.logger.child({ component: 'snapshot' }),
      });
      try {
        initial = await this.snapshots.load(this.config.records.entries);
        this.fromSnapshot = initial !== undefined;
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
    this.hub?.publishStates(state.entries, { fetchedAtMs: dataFetchedAtMs(state.entries, Date.now()) });
    if (this.snapshots) {
      // The store logs the first failure and the recovery; later failures only count.
      this.snapshots.save(state).catch(() => undefined);
    }
  }

  private swapTable(inputs: readonly TableEntryInput[]): void {
    this.baseInputs = inputs;
    this.setTable();
  }

  private setTable(): void {
    this.tableVersion++;
    const next = AnswerTable.build(this.prober ? this.prober.apply(this.baseInputs) : this.baseInputs, this.tableVersion);
    // Forwarded answers cached before a name became managed may hold its public address at the
    // end of a CNAME chain: start the cache afresh (names are added rarely; syncs mostly change IPs).
    if (this.cache && next.addsNamesTo(this.resolver.currentTable)) this.cache.clear();
    this.resolver.setTable(next);
  }

  // ---- listeners ---------------------------------------------------------------------------

  private listenerOptions(config: Config): ListenerSetOptions {
    const l = config.limits;
    return {
      pipeline: this.pipeline,
      logger: this.logger.child({ component: 'dns' }),
      udpIo: config.listen.udpIo,
      recvBufferBytes: 4 * 1024 * 1024,
      tcpLimits: {
        maxConnections: l.tcpMaxConnections,
        maxConnectionsPerClient: l.tcpMaxConnectionsPerClient,
        idleTimeoutMs: l.tcpIdleTimeoutMs,
        // RFC 7766 §10: a query arrives in one segment; a frame still open after this is stalling.
        frameTimeoutMs: Math.min(l.tcpIdleTimeoutMs, TCP_FRAME_TIMEOUT_MS),
        maxInFlight: l.tcpMaxInFlight,
        maxWriteBufferBytes: l.tcpMaxWriteBufferBytes,
        framesPerTick: 32,
      },
    };
  }

  private httpSources(): HttpSources {
    return {
      registry: this.metrics.registry,
      readiness: () => computeReadiness(this.readinessInputs()),
      status: () => computeStatus(this.statusInputs()),
      beforeMetrics: () => this.refreshGauges(),
    };
  }

  private readinessInputs(): Parameters<typeof computeReadiness>[0] {
    return { lifecycle: this.state, listenersBound: this.listeners.size === this.config.listen.dns.length && this.listeners.size > 0, syncState: this.syncState, table: this.table, config: this.config, nowMs: Date.now(), sourceReasons: [...(this.secondary?.notReadyReasons(Date.now()) ?? []), ...(this.hub?.notReadyReasons(Date.now()) ?? [])] };
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
      apiCalls: this.syncer?.apiCalls(),
      listeners: this.dnsPorts,
      extras: this.options.statusExtras?.(),
      fleet: { ...(this.hub ? { published: this.hub.status() } : {}), ...(this.secondary ? { transfer: this.secondary.status() } : {}) },
      probes: this.prober?.status(),
    };
  }

  private refreshGauges(): void {
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
    this.admission.reconfigure(next.access);
    if (next.cache.size === 0) this.cache = undefined;
    else if (this.cache) this.cache.reconfigure(next.cache);
    else this.cache = new AnswerCache(next.cache);
    this.forwarder.reconfigure(next.upstream, next.limits.maxForwardsInFlight);
    this.apiClients?.reconfigure(next);
    this.resolver = this.buildResolver(next, this.table);
    if (probeConfigKey(prev.records) !== probeConfigKey(next.records)) {
      // Probe results start over: an IP counts as reachable until the new settings say otherwise.
      this.prober?.stop();
      this.prober = this.buildProber(next);
      this.prober?.start();
      this.setTable();
    }
    await this.reconfigureSources(prev, next);
    this.pipeline.reconfigure(this.routes());
    await this.listeners.reconfigure(next.listen.dns, this.listenerOptions(next));
    await this.http.reconfigure(next.listen);
    this.metrics.reloads.inc({ result: 'ok' });
    this.logger.info({ names: this.table.size, dns: this.dnsPorts }, 'configuration reloaded');
    this.warnAbout(next);
  }

  /**
   * The table source and the zone side follow the new config. Switching between a PrivateLink
   * sync and primaries (or adding or removing transfer) is not done in place: it needs a restart,
   * which reload says instead of half-applying it.
   */
  private async reconfigureSources(prev: Config, next: Config): Promise<void> {
    if (prev.source !== next.source || (prev.transfer === null) !== (next.transfer === null)) {
      this.logger.warn({ from: prev.source, to: next.source }, 'switching between privatelink and primaries, or adding or removing transfer, takes effect at the next restart');
    }
    const hubOptions = this.hubOptions(next);
    if (this.hub && hubOptions) this.hub.reconfigure(hubOptions);
    if (this.secondary && next.primaries) {
      this.secondary.reconfigure(next.primaries);
      this.swapTable(this.baseInputs.filter((i) => !i.id.startsWith('static:')).concat(this.staticInputs()));
    } else if (next.source === 'privatelink' && prev.source === 'privatelink') {
      if (this.syncer) this.syncer.reconfigure(next, { api: this.apiProvider() });
      else {
        // Only static entries before: build the sync side now (it stays off without cloud entries).
        await this.startSync();
        (this.syncer as Syncer | undefined)?.start();
      }
    }
    if (this.hub || this.secondary) this.zoneServer = this.buildZoneServer(next);
    if (this.hub && this.syncState) this.hub.publishStates(this.syncState.entries, { fetchedAtMs: dataFetchedAtMs(this.syncState.entries, Date.now()) });
  }

  /** Lameduck: /readyz turns 503 first so load balancers and probes move away, then we stop. */
  async stop(lameduckMs = 0): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'lameduck';
    if (lameduckMs > 0) await new Promise((r) => setTimeout(r, lameduckMs));
    this.state = 'stopping';
    this.prober?.stop();
    clearTimeout(this.firstSync);
    await this.syncer?.stop();
    await this.secondary?.stop();
    await this.hub?.stop();
    const grace = this.config.limits.shutdownGraceMs;
    await this.listeners.close(grace);
    await this.http.close();
    this.forwarder.close();
    this.youngGeneration?.stop();
    this.memoryTrimmer?.stop();
    this.apiClients?.close();
    this.metrics.close();
    this.state = 'stopped';
    this.logger.info('privatelink-dns stopped');
  }
}
