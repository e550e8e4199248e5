import { Counter, Gauge, Histogram, Registry } from './prom';
import { FastCounter, FastHistogram } from './fast-counters';
import { EventLoopDelay } from './event-loop-delay';
import { registerProcessMetrics } from './process-metrics';

export interface MetricsOptions {
  /**
   * The standard `process_*` and `nodejs_*` metrics (unprefixed, so stock dashboards work) and
   * the event-loop sampler. Off in unit tests that build many registries.
   */
  readonly processMetrics?: boolean;
  /**
   * With processMetrics: register the `process_*` and `nodejs_*` collectors only when
   * `collectProcessMetrics()` is called (the daemon does once its DNS listeners answer), not now.
   */
  readonly deferProcessMetrics?: boolean;
  /** For privatelink_dns_build_info. */
  readonly version?: string;
}

/**
 * Every metric the daemon exports, on a registry owned by the app (never prom-client's global
 * one, so tests and reloads can build as many as they like). Names: privatelink_dns_<thing>_<unit>.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new FastCounter('privatelink_dns_requests_total', 'DNS requests answered, by protocol, query type and answer source (local, cache, stale, forward, error)', ['protocol', 'type', 'source'] as const, this.registry);
  readonly responses = new FastCounter('privatelink_dns_responses_total', 'DNS responses sent, by rcode', ['rcode'] as const, this.registry);
  readonly requestDuration = new FastHistogram('privatelink_dns_request_duration_seconds', 'Time from receiving a query to sending its response, by source', ['source'] as const, [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], this.registry);
  readonly udpBatch = new FastHistogram('privatelink_dns_udp_batch_datagrams', 'Datagrams read per recvmmsg batch (listen.udp_io batch); a count of 1 per event means the listener is not busy', [] as const, [1, 2, 4, 8, 16, 32, 64], this.registry);
  readonly dropped = new FastCounter('privatelink_dns_dropped_packets_total', 'Packets dropped or refused without a normal answer, by reason', ['reason'] as const, this.registry);
  readonly upstreamRequests = new FastCounter('privatelink_dns_upstream_requests_total', 'Queries sent upstream, by server, protocol and result', ['server', 'protocol', 'result'] as const, this.registry);
  readonly upstreamDuration = new FastHistogram('privatelink_dns_upstream_duration_seconds', 'Upstream round-trip time, by server', ['server'] as const, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], this.registry);
  readonly upstreamHealthy = new Gauge({ name: 'privatelink_dns_upstream_healthy', help: '1 while an upstream server is considered healthy, 0 while marked down', labelNames: ['server'] as const, registers: [this.registry] });
  readonly cacheHits = new FastCounter('privatelink_dns_cache_hits_total', 'Forwarded-answer cache hits (fresh and stale)', ['kind'] as const, this.registry);
  readonly cacheMisses = new FastCounter('privatelink_dns_cache_misses_total', 'Forwarded-answer cache misses', [] as const, this.registry);
  readonly cacheEntries = new Gauge({ name: 'privatelink_dns_cache_entries', help: 'Entries in the forwarded-answer cache', registers: [this.registry] });
  readonly syncs = new Counter({ name: 'privatelink_dns_sync_attempts_total', help: 'PrivateLink syncs, by result (success, partial, failure)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly syncDuration = new Histogram({ name: 'privatelink_dns_sync_duration_seconds', help: 'Duration of PrivateLink syncs', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  readonly lastSyncSuccess = new Gauge({ name: 'privatelink_dns_last_successful_sync_timestamp_seconds', help: 'Unix time of the last sync in which every endpoint was fetched', registers: [this.registry] });
  readonly apiCalls = new Counter({ name: 'privatelink_dns_api_calls_total', help: 'PrivateLink API calls, by action and result code', labelNames: ['action', 'result'] as const, registers: [this.registry] });
  readonly usableIps = new Gauge({ name: 'privatelink_dns_endpoint_usable_ips', help: 'Usable IPs per configured entry (endpoint id, service or static)', labelNames: ['entry'] as const, registers: [this.registry] });
  readonly staleEntries = new Gauge({ name: 'privatelink_dns_stale_entries', help: 'Configured entries currently answered from data older than the last sync attempt', registers: [this.registry] });
  readonly tableAgeSeconds = new Gauge({ name: 'privatelink_dns_table_age_seconds', help: 'Age of the oldest data in the answer table at scrape time (an edge: since its zone was last confirmed current by a primary)', registers: [this.registry] });
  readonly ready = new Gauge({ name: 'privatelink_dns_ready', help: '1 when /readyz would answer 200, else 0 (at scrape time)', registers: [this.registry] });
  readonly loops = new Counter({ name: 'privatelink_dns_loops_detected_total', help: 'Queries recognised as our own forwarded queries coming back', registers: [this.registry] });
  readonly staleAnswers = new Counter({ name: 'privatelink_dns_stale_answers_total', help: 'Answers served from expired cache entries because upstreams failed (RFC 8767)', registers: [this.registry] });
  readonly cnameRewrites = new Counter({ name: 'privatelink_dns_cname_rewrites_total', help: 'Forwarded answers whose CNAME chain reached a managed name and was answered from the table', registers: [this.registry] });
  readonly rateLimited = new FastCounter('privatelink_dns_rate_limited_total', 'Responses withheld by the rate limiter, by action (drop, slip)', ['action'] as const, this.registry);
  readonly tcpConnections = new Gauge({ name: 'privatelink_dns_tcp_connections', help: 'Open client TCP connections', registers: [this.registry] });
  readonly buildInfo = new Gauge({ name: 'privatelink_dns_build_info', help: 'Always 1; the labels say which build is running', labelNames: ['version', 'nodejs_version'] as const, registers: [this.registry] });
  readonly reloads = new Counter({ name: 'privatelink_dns_config_reloads_total', help: 'Config reloads, by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly snapshotWrites = new Counter({ name: 'privatelink_dns_snapshot_writes_total', help: 'State snapshot writes, by result', labelNames: ['result'] as const, registers: [this.registry] });

  readonly transferServed = new Counter({ name: 'privatelink_dns_transfer_served_total', help: 'Zone requests served by a hub (axfr, ixfr, soa, query, notify received), by result (ok, refused, notauth, formerr, aborted, servfail)', labelNames: ['type', 'result'] as const, registers: [this.registry] });
  readonly transferNotifies = new Counter({ name: 'privatelink_dns_transfer_notifies_sent_total', help: 'NOTIFY messages sent by a hub, by result (ack, refused, bad_tsig, failed)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly transferChecks = new Counter({ name: 'privatelink_dns_transfer_checks_total', help: 'SOA checks of the primaries by an edge, by result (changed, unchanged, failed)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly transferReceived = new Counter({ name: 'privatelink_dns_transfer_received_total', help: 'Zone transfers received by an edge, by type (axfr, ixfr) and result', labelNames: ['type', 'result'] as const, registers: [this.registry] });
  readonly zoneRefused = new Counter({ name: 'privatelink_dns_zone_refused_total', help: 'Zones an edge refused and did not install (the current zone kept), by reason (records, address, wildcard, empty, drop)', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly transferLastSuccess = new Gauge({ name: 'privatelink_dns_transfer_last_success_timestamp_seconds', help: 'An edge: when a primary last answered a check (the zone confirmed current or updated), Unix seconds', registers: [this.registry] });
  readonly logSuppressed = new Counter({ name: 'privatelink_dns_log_lines_suppressed_total', help: 'Log lines about rejected zone traffic left out over the log budget (10 a minute per message), by component (transfer, secondary)', labelNames: ['component'] as const, registers: [this.registry] });
  readonly transferSerial = new Gauge({ name: 'privatelink_dns_transfer_zone_serial', help: 'SOA serial of each policy zone held (published by a hub, received by an edge)', labelNames: ['zone', 'role'] as const, registers: [this.registry] });

  readonly probes = new Counter({ name: 'privatelink_dns_probe_attempts_total', help: 'Reachability probes (TCP connect) of endpoint IPs, by result (ok, timeout, refused, unreachable, error)', labelNames: ['result'] as const, registers: [this.registry] });
  readonly probeReachable = new Gauge({ name: 'privatelink_dns_probe_ip_reachable', help: '1 while a probed endpoint IP is reachable from this node, 0 while it is left out of answers; by entry, zone and ip', labelNames: ['entry', 'zone', 'ip'] as const, registers: [this.registry] });
  readonly probeDegraded = new Gauge({ name: 'privatelink_dns_probe_degraded_names', help: 'Entries whose every IP fails its probe, answered with all of them anyway (fail open)', registers: [this.registry] });

  readonly eventLoopDelay: Gauge<'quantile'>;
  private readonly loop: EventLoopDelay;
  private processMetricsPending: boolean;
  private stopProcessMetrics: (() => void) | undefined;

  constructor(options: MetricsOptions = {}) {
    this.buildInfo.set({ version: options.version ?? 'unknown', nodejs_version: process.version }, 1);
    const processMetrics = options.processMetrics !== false;
    this.processMetricsPending = processMetrics;
    this.loop = new EventLoopDelay(this.registry, { sample: processMetrics, standardNames: false });
    this.eventLoopDelay = this.loop.gauge;
    if (!options.deferProcessMetrics) this.collectProcessMetrics();
  }

  /** Registers the standard process metrics (once; nothing when they are off). */
  collectProcessMetrics(): void {
    if (!this.processMetricsPending) return;
    this.processMetricsPending = false;
    // Ours, not prom-client's collectDefaultMetrics (process-metrics.ts says why); the
    // nodejs_eventloop_lag_*_seconds gauges are EventLoopDelay's.
    this.stopProcessMetrics = registerProcessMetrics(this.registry);
    this.loop.replaceStandardNames();
  }

  /** Stops the event-loop sampler and the GC histogram's listener (the daemon's shutdown). */
  close(): void {
    this.loop.close();
    this.stopProcessMetrics?.();
  }
}
