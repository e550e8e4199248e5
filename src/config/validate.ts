import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { cronProblem } from './cron-schedule';
import { ConfigReader, isObject, join, type ConfigProblem } from './reader';
import { readEntryProbe, readProbeConfig } from './probe';
import { parseHostPort, formatHostPort, sameSocket, type HostPort } from './units';
import { DEFAULTS, type Config, type EntryConfig, type ProbeConfig, type RateLimitConfig } from './schema';
import { checkName, normalizeName } from './names';
import { readCredentials } from './credentials';
import { readPrimaries } from './primaries';
import { readTransfer } from './transfer';
import { readNameservers, readNsid } from './identity';
import type { SecretFiles } from './tsig-key';
import type { LogLevel } from '../runtime/log';

// Older imports name validate.ts; the definitions live in names.ts.
export { checkName, normalizeName };

const TOP_KEYS = ['region', 'listen', 'access', 'upstream', 'cache', 'privatelink', 'transfer', 'primaries', 'records', 'limits', 'state_dir', 'log', 'nsid'];
const REGION_RE = /^[a-z]{2,}(-[a-z0-9]+)+$/;

export interface ValidateOptions {
  /** Where TSIG `secret_file` paths are read (once, at validation); relative paths start at baseDir. */
  readonly files?: SecretFiles;
}

const DEFAULT_FILES: SecretFiles = { baseDir: process.cwd(), readText: (path) => readFileSync(path, 'utf8') };

/** Validates parsed YAML into a frozen Config, or returns every problem found. */
export function validateConfig(
  raw: unknown,
  options: ValidateOptions = {},
): { config: Config; problems: [] } | { config: undefined; problems: ConfigProblem[] } {
  const r = new ConfigReader();
  const files = options.files ?? DEFAULT_FILES;
  if (raw === null || raw === undefined) raw = {};
  const top = r.section(raw, '', TOP_KEYS);
  // A fleet edge never calls the cloud API, so it needs no region (only for "{region}" in static names).
  const edge = top.primaries !== undefined;
  const region = r.string(top, 'region', '', '', (s) => (REGION_RE.test(s) ? undefined : 'must be a region id such as "cn-hangzhou"'));
  if (top.region === undefined && !edge) r.report('region', 'is required');

  const listenRaw = r.section(top.listen, 'listen', ['dns', 'http', 'metrics', 'udp_io']);
  const dns = r.hostPortList(listenRaw, 'dns', 'listen', DEFAULTS.listenDns, 53, false);
  dns.forEach((hp, i) => {
    if (hp.family === 0) r.report(`listen.dns[${i}]`, 'must be an IP address, not a hostname');
  });
  let http: HostPort | null = parseHostPort(DEFAULTS.listenHttp, 8053) as HostPort;
  if (listenRaw.http === false || listenRaw.http === '') http = null;
  else if (listenRaw.http !== undefined && listenRaw.http !== null) {
    if (typeof listenRaw.http !== 'string') r.report('listen.http', 'must be "host:port", or false to disable');
    else {
      const hp = parseHostPort(listenRaw.http, 8053);
      if (typeof hp === 'string') r.report('listen.http', hp);
      else http = hp;
    }
  }
  let metrics: HostPort | null = null;
  if (listenRaw.metrics !== undefined && listenRaw.metrics !== null && listenRaw.metrics !== false && listenRaw.metrics !== '') {
    if (typeof listenRaw.metrics !== 'string') r.report('listen.metrics', 'must be "host:port", or false for none');
    else {
      const hp = parseHostPort(listenRaw.metrics, 9153);
      if (typeof hp === 'string') r.report('listen.metrics', hp);
      else metrics = hp;
    }
  }
  const udpIo = r.oneOf(listenRaw, 'udp_io', 'listen', DEFAULTS.listenUdpIo, ['auto', 'batch', 'dgram'] as const);

  const accessRaw = r.section(top.access, 'access', ['allow', 'rate_limit', 'refused_rate_limit']);
  const allow = r.stringList(accessRaw, 'allow', 'access', DEFAULTS.allow);
  allow.forEach((cidr, i) => {
    try {
      ipaddr.parseCIDR(cidr);
    } catch {
      if (!ipaddr.isValid(cidr)) r.report(`access.allow[${i}]`, `"${cidr}" is not a CIDR such as "10.0.0.0/8"`);
    }
  });
  let rateLimit: RateLimitConfig | null = null;
  if (accessRaw.rate_limit !== false && accessRaw.rate_limit !== null) {
    const rl = r.section(accessRaw.rate_limit, 'access.rate_limit', ['responses_per_second', 'burst', 'slip']);
    const rps = r.integer(rl, 'responses_per_second', 'access.rate_limit', DEFAULTS.rateLimitResponsesPerSecond, 0, 10_000_000);
    const burst = r.integer(rl, 'burst', 'access.rate_limit', Math.max(rps * 2, DEFAULTS.rateLimitBurst), 1, 100_000_000);
    const slip = r.integer(rl, 'slip', 'access.rate_limit', DEFAULTS.rateLimitSlip, 0, 100);
    rateLimit = rps === 0 ? null : { responsesPerSecond: rps, burst, slip };
  }
  const refusedRaw = r.section(accessRaw.refused_rate_limit, 'access.refused_rate_limit', ['responses_per_second', 'burst']);
  const refusedRateLimit = {
    responsesPerSecond: r.integer(refusedRaw, 'responses_per_second', 'access.refused_rate_limit', DEFAULTS.refusedPerSecond, 0, 1_000_000),
    burst: r.integer(refusedRaw, 'burst', 'access.refused_rate_limit', DEFAULTS.refusedBurst, 1, 1_000_000),
  };

  const upRaw = r.section(top.upstream, 'upstream', ['servers', 'timeout', 'policy', 'max_fails', 'health_check']);
  const servers = r.hostPortList(upRaw, 'servers', 'upstream', [], 53, true);
  servers.forEach((hp, i) => {
    if (hp.family === 0) r.report(`upstream.servers[${i}]`, 'must be an IP address, not a hostname');
  });
  const upstream = {
    servers,
    timeoutMs: r.durationMs(upRaw, 'timeout', 'upstream', DEFAULTS.upstreamTimeoutMs, 10, 60_000),
    policy: r.oneOf(upRaw, 'policy', 'upstream', 'sequential', ['sequential', 'random', 'round_robin'] as const),
    maxFails: r.integer(upRaw, 'max_fails', 'upstream', DEFAULTS.upstreamMaxFails, 0, 1000),
    healthCheckIntervalMs: r.durationMs(upRaw, 'health_check', 'upstream', DEFAULTS.upstreamHealthCheckIntervalMs, 50, 3_600_000),
  };
  // A forwarder that forwards to itself loops; catch the obvious case at load time.
  for (const [i, s] of servers.entries()) {
    if (dns.some((l) => sameSocket(l, s))) r.report(`upstream.servers[${i}]`, `${formatHostPort(s)} is one of this daemon's own listen.dns addresses (forwarding loop)`);
  }

  if (edge && top.privatelink !== undefined) {
    r.report('primaries', 'cannot be combined with privatelink: a hub syncs from PrivateLink, an edge transfers from primaries (remove one)');
  }
  const primaries = readPrimaries(r, top.primaries, files, dns, region);
  const transfer = readTransfer(r, top.transfer, files, edge);
  if (primaries && transfer && transfer.zone !== primaries.zone) {
    r.report('transfer.zone', `must be primaries.zone ("${primaries.zone}"): an edge re-publishes the zone it receives`);
  }

  const cacheRaw = r.section(top.cache, 'cache', ['size', 'max_ttl', 'serve_stale']);
  const cache = {
    size: r.integer(cacheRaw, 'size', 'cache', DEFAULTS.cacheSize, 0, 10_000_000),
    maxTtlS: Math.round(r.durationMs(cacheRaw, 'max_ttl', 'cache', DEFAULTS.cacheMaxTtlS * 1000, 1000, 7 * 86_400_000) / 1000),
    serveStaleMs: r.durationMs(cacheRaw, 'serve_stale', 'cache', DEFAULTS.cacheServeStaleMs),
  };

  const plRaw = r.section(top.privatelink, 'privatelink', ['endpoint', 'protocol', 'connect_to', 'ca_file', 'credentials', 'bootstrap', 'refresh', 'jitter', 'timeout', 'max_stale', 'max_backoff', 'quota_per_minute']);
  const endpoint = r.string(plRaw, 'endpoint', 'privatelink', `privatelink.${region || 'cn-hangzhou'}.aliyuncs.com`, (s) =>
    /^[a-z]+:\/\//i.test(s) ? 'must be host[:port] without a scheme (set protocol separately)' : typeof parseHostPort(s, 443) === 'string' ? 'must be host[:port]' : undefined,
  );
  const refresh = r.string(plRaw, 'refresh', 'privatelink', DEFAULTS.refresh, cronProblem);
  const bootstrap = r.hostPortList(plRaw, 'bootstrap', 'privatelink', [], 53, true);
  bootstrap.forEach((hp, i) => {
    if (hp.family === 0) r.report(`privatelink.bootstrap[${i}]`, 'must be an IP address, not a hostname');
    if (dns.some((l) => sameSocket(l, hp))) r.report(`privatelink.bootstrap[${i}]`, 'must not be this daemon itself');
  });
  const connectTo = r.optionalString(plRaw, 'connect_to', 'privatelink') ?? null;
  if (connectTo !== null && !ipaddr.isValid(connectTo)) r.report('privatelink.connect_to', 'must be an IP address (the host name stays in privatelink.endpoint)');
  const caFile = r.optionalString(plRaw, 'ca_file', 'privatelink');
  let caPem: string | null = null;
  if (caFile !== undefined) {
    const path = resolve(files.baseDir, caFile);
    try {
      caPem = files.readText(path);
      if (!caPem.includes('-----BEGIN CERTIFICATE-----')) r.report('privatelink.ca_file', `${path} holds no PEM certificate`);
    } catch (err) {
      r.report('privatelink.ca_file', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const privatelink = {
    endpoint,
    protocol: r.oneOf(plRaw, 'protocol', 'privatelink', DEFAULTS.privatelinkProtocol, ['http', 'https'] as const),
    connectTo,
    caPem,
    credentials: readCredentials(r, plRaw.credentials, files.baseDir),
    bootstrap,
    refresh,
    jitterMs: r.durationMs(plRaw, 'jitter', 'privatelink', DEFAULTS.jitterMs, 0, 3_600_000),
    timeoutMs: r.durationMs(plRaw, 'timeout', 'privatelink', DEFAULTS.privatelinkTimeoutMs, 100, 120_000),
    maxStaleMs: r.durationMs(plRaw, 'max_stale', 'privatelink', DEFAULTS.maxStaleMs, 1000),
    maxBackoffMs: r.durationMs(plRaw, 'max_backoff', 'privatelink', DEFAULTS.maxBackoffMs, 1000, 86_400_000),
    quotaPerMinute: r.integer(plRaw, 'quota_per_minute', 'privatelink', DEFAULTS.quotaPerMinute, 1, 1_000_000),
  };

  const recRaw = r.section(top.records, 'records', ['ttl', 'prefer_zones', 'on_unavailable', 'entries', 'probe', 'nameservers']);
  const probe = readProbeConfig(r, recRaw.probe);
  const records = {
    ttl: r.seconds(recRaw, 'ttl', 'records', DEFAULTS.recordsTtlS, 0, 86_400),
    preferZones: r.stringList(recRaw, 'prefer_zones', 'records', []),
    onUnavailable: r.oneOf(recRaw, 'on_unavailable', 'records', 'servfail', ['servfail', 'forward'] as const),
    entries: readEntries(r, recRaw.entries, region, edge, probe),
    probe,
    nameservers: readNameservers(r, recRaw),
  };
  if (edge && records.preferZones.length > 0) r.report('records.prefer_zones', 'has no effect with primaries: the hub applies its own prefer_zones');

  const limRaw = r.section(top.limits, 'limits', [
    'tcp_max_connections', 'tcp_max_connections_per_client', 'tcp_idle_timeout', 'tcp_max_in_flight', 'tcp_max_write_buffer', 'max_forwards_in_flight', 'shutdown_grace', 'lameduck',
    'http_max_connections', 'http_max_connections_per_client', 'http_request_timeout', 'http_headers_timeout', 'http_keep_alive_timeout', 'http_max_header_bytes', 'http_max_headers',
  ]);
  const limits = {
    tcpMaxConnections: r.integer(limRaw, 'tcp_max_connections', 'limits', DEFAULTS.tcpMaxConnections, 1, 1_000_000),
    tcpMaxConnectionsPerClient: r.integer(limRaw, 'tcp_max_connections_per_client', 'limits', DEFAULTS.tcpMaxConnectionsPerClient, 1, 1_000_000),
    tcpIdleTimeoutMs: r.durationMs(limRaw, 'tcp_idle_timeout', 'limits', DEFAULTS.tcpIdleTimeoutMs, 100, 3_600_000),
    tcpMaxInFlight: r.integer(limRaw, 'tcp_max_in_flight', 'limits', DEFAULTS.tcpMaxInFlight, 1, 65_535),
    tcpMaxWriteBufferBytes: r.integer(limRaw, 'tcp_max_write_buffer', 'limits', DEFAULTS.tcpMaxWriteBufferBytes, 65_537, 64 * 1024 * 1024),
    maxForwardsInFlight: r.integer(limRaw, 'max_forwards_in_flight', 'limits', DEFAULTS.maxForwardsInFlight, 1, 1_000_000),
    shutdownGraceMs: r.durationMs(limRaw, 'shutdown_grace', 'limits', DEFAULTS.shutdownGraceMs, 0, 60_000),
    lameduckMs: r.durationMs(limRaw, 'lameduck', 'limits', DEFAULTS.lameduckMs, 0, 60_000),
  };
  const httpLimits = {
    maxConnections: r.integer(limRaw, 'http_max_connections', 'limits', DEFAULTS.httpMaxConnections, 1, 100_000),
    maxConnectionsPerClient: r.integer(limRaw, 'http_max_connections_per_client', 'limits', DEFAULTS.httpMaxConnectionsPerClient, 1, 100_000),
    requestTimeoutMs: r.durationMs(limRaw, 'http_request_timeout', 'limits', DEFAULTS.httpRequestTimeoutMs, 100, 300_000),
    headersTimeoutMs: r.durationMs(limRaw, 'http_headers_timeout', 'limits', DEFAULTS.httpHeadersTimeoutMs, 100, 300_000),
    keepAliveTimeoutMs: r.durationMs(limRaw, 'http_keep_alive_timeout', 'limits', DEFAULTS.httpKeepAliveTimeoutMs, 0, 300_000),
    maxHeaderBytes: r.integer(limRaw, 'http_max_header_bytes', 'limits', DEFAULTS.httpMaxHeaderBytes, 1024, 1024 * 1024),
    maxHeaders: r.integer(limRaw, 'http_max_headers', 'limits', DEFAULTS.httpMaxHeaders, 1, 10_000),
  };
  if (httpLimits.headersTimeoutMs > httpLimits.requestTimeoutMs) {
    r.report('limits.http_headers_timeout', `must not exceed limits.http_request_timeout (${httpLimits.requestTimeoutMs} ms): the headers are part of the request`);
  }

  let stateDir: string | null = DEFAULTS.stateDir;
  if (top.state_dir === false || top.state_dir === '') stateDir = null;
  else if (top.state_dir !== undefined && top.state_dir !== null) {
    if (typeof top.state_dir !== 'string' || !top.state_dir.startsWith('/')) r.report('state_dir', 'must be an absolute path, or false to keep no snapshot');
    else stateDir = top.state_dir;
  }

  const logRaw = r.section(top.log, 'log', ['level', 'queries']);
  const log = {
    level: r.oneOf<LogLevel>(logRaw, 'level', 'log', DEFAULTS.logLevel, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    queries: r.boolean(logRaw, 'queries', 'log', false),
  };

  const nsid = readNsid(r, top.nsid);

  if (r.problems.length > 0) return { config: undefined, problems: r.problems.slice() };
  const source = primaries ? 'primaries' : 'privatelink';
  const config: Config = {
    region, listen: { dns, http, metrics, udpIo, httpLimits }, access: { allow, rateLimit, refusedRateLimit }, upstream, cache, source, privatelink, transfer, primaries, records, limits, stateDir, log, nsid,
  };
  return { config: deepFreeze(config), problems: [] };
}

/** `staticOnly`: a fleet edge has no PrivateLink client, so only `addresses` entries can be answered. */
function readEntries(r: ConfigReader, raw: unknown, region: string, staticOnly: boolean, probeConfig: ProbeConfig | null): EntryConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    r.report('records.entries', 'must be a list');
    return [];
  }
  const out: EntryConfig[] = [];
  const seen = new Map<string, string>();
  raw.forEach((item, i) => {
    const path = `records.entries[${i}]`;
    if (!isObject(item)) {
      r.report(path, 'must be a mapping');
      return;
    }
    const e = r.section(item, path, ['names', 'endpoint', 'service', 'vpc', 'addresses', 'probe']);
    const probe = readEntryProbe(r, e, i, probeConfig);
    const extra = probe === undefined ? {} : { probe };
    const names = r.stringList(e, 'names', path, [], false).map((n, j) => {
      const name = normalizeName(n.replaceAll('{region}', region));
      const problem = region === '' && n.includes('{region}') ? 'uses "{region}" but region is not set' : checkName(name);
      if (problem) r.report(`${path}.names[${j}]`, problem);
      const other = seen.get(name);
      if (other) r.report(`${path}.names[${j}]`, `"${name}" is already defined in ${other}`);
      seen.set(name, path);
      return name;
    });
    // A cloud entry may have no names of its own: its EndpointDomain and ZoneDomains are answered anyway.
    if (e.names === undefined && e.addresses !== undefined) r.report(join(path, 'names'), 'is required for an "addresses" entry');
    const sources = ['endpoint', 'service', 'addresses'].filter((k) => e[k] !== undefined);
    if (sources.length !== 1) {
      r.report(path, 'needs exactly one of "endpoint", "service" or "addresses"');
      return;
    }
    if (e.vpc !== undefined && e.addresses !== undefined) r.report(join(path, 'vpc'), 'only applies to an "endpoint" or "service" entry');
    const cloud = e.endpoint !== undefined ? 'endpoint' : e.service !== undefined ? 'service' : undefined;
    if (staticOnly && cloud) {
      const problem = 'needs PrivateLink, and with primaries there is none: the hub publishes cloud names; an edge entry may only have "addresses"';
      r.report(join(path, cloud), problem);
    }
    if (e.endpoint !== undefined) {
      const endpointId = r.string(e, 'endpoint', path, '', (s) => (/^ep-[a-z0-9]+$/.test(s) ? undefined : 'must be an endpoint id such as "ep-bp1..."'));
      const vpcId = r.optionalString(e, 'vpc', path);
      out.push(vpcId ? { kind: 'endpoint', names, endpointId, vpcId, ...extra } : { kind: 'endpoint', names, endpointId, ...extra });
    } else if (e.service !== undefined) {
      const serviceName = r.string(e, 'service', path, '');
      const vpcId = r.optionalString(e, 'vpc', path);
      out.push(vpcId ? { kind: 'service', names, serviceName, vpcId, ...extra } : { kind: 'service', names, serviceName, ...extra });
    } else {
      const addrs = r.stringList(e, 'addresses', path, [], false);
      const ipv4: string[] = [];
      const ipv6: string[] = [];
      addrs.forEach((a, j) => {
        if (ipaddr.IPv4.isValidFourPartDecimal(a)) ipv4.push(a);
        else if (ipaddr.IPv6.isValid(a)) ipv6.push(ipaddr.IPv6.parse(a).toString());
        else r.report(`${path}.addresses[${j}]`, `"${a}" is not an IPv4 or IPv6 address`);
      });
      out.push({ kind: 'static', names, ipv4: orNone(ipv4), ipv6: orNone(ipv6), ...extra });
    }
  });
  return out;
}

/**
 * One empty list for every entry without addresses of a family (10,000 entries: 10,000 arrays
 * fewer), and a copy of exactly the list's length for the others: a list grown by push keeps room
 * for 17 (152 B for one address; ~1.3 MB over 10,000 entries), and freezing keeps that room.
 */
const NO_ADDRESSES: readonly string[] = Object.freeze([]);
const orNone = (list: readonly string[]): readonly string[] => (list.length > 0 ? list.slice() : NO_ADDRESSES);

function deepFreeze<T>(o: T): T {
  // A Buffer (a TSIG secret) cannot be frozen: typed arrays with elements throw.
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o) && !ArrayBuffer.isView(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
