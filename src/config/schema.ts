import type { HostPort } from './units';
import type { LogLevel } from '../runtime/log';

/** The validated, frozen configuration. Durations carry `Ms`, sizes their unit. */
export interface Config {
  readonly region: string;
  readonly listen: ListenConfig;
  readonly access: AccessConfig;
  readonly upstream: UpstreamConfig;
  readonly cache: CacheConfig;
  /**
   * Where managed names come from: `privatelink` (this instance syncs the cloud API: a single node or a hub),
   * or `primaries` (a fleet edge: the table arrives by zone transfer). `privatelink` keeps its defaults either way.
   */
  readonly source: 'privatelink' | 'primaries';
  readonly privatelink: PrivateLinkConfig;
  /** Hub side of fleet mode: publish the table as an RPZ over AXFR/IXFR. null when the section is absent. */
  readonly transfer: TransferConfig | null;
  /** Edge side of fleet mode: take the table from these primaries. null when the section is absent. */
  readonly primaries: PrimariesConfig | null;
  readonly records: RecordsConfig;
  readonly limits: LimitsConfig;
  readonly stateDir: string | null;
  readonly log: LogConfig;
  /** EDNS NSID (RFC 5001) answered to queries that ask: this instance's identity; null: none. */
  readonly nsid: string | null;
}

export interface ListenConfig {
  readonly dns: readonly HostPort[];
  readonly http: HostPort | null;
  /** A second HTTP address serving only /metrics (for scrapers on the node IP); null: none. */
  readonly metrics: HostPort | null;
  /**
   * The HTTP listeners' limits (the `limits.http_*` keys), carried with the addresses they are
   * opened with: every HTTP listener takes its settings from here.
   */
  readonly httpLimits: HttpLimitsConfig;
  /** UDP socket engine: recvmmsg/sendmmsg batches (addon), Node's dgram, or batch when available. */
  readonly udpIo: 'auto' | 'batch' | 'dgram';
}

export interface AccessConfig {
  /** CIDR strings, validated; "0.0.0.0/0" and "::/0" allow everyone. */
  readonly allow: readonly string[];
  readonly rateLimit: RateLimitConfig | null;
  /** UDP REFUSED answers (and zone answers) to a client prefix outside `allow`; always on. */
  readonly refusedRateLimit: RefusedRateLimitConfig;
}

export interface RefusedRateLimitConfig {
  readonly responsesPerSecond: number;
  readonly burst: number;
}

/** Limits of the admin HTTP listeners (probes and scrapers only). */
export interface HttpLimitsConfig {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  /** A whole request, first byte to last. */
  readonly requestTimeoutMs: number;
  /** The request's headers, complete (slowloris). */
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
}

export interface RateLimitConfig {
  readonly responsesPerSecond: number;
  readonly burst: number;
  /** Every Nth limited UDP response is answered with TC=1 instead of dropped (0 = always drop). */
  readonly slip: number;
}

export type UpstreamPolicy = 'sequential' | 'random' | 'round_robin';

export interface UpstreamConfig {
  readonly servers: readonly HostPort[];
  readonly timeoutMs: number;
  readonly policy: UpstreamPolicy;
  /** Consecutive failures that mark a server down until a probe succeeds. */
  readonly maxFails: number;
  readonly healthCheckIntervalMs: number;
}

export interface CacheConfig {
  readonly size: number;
  readonly maxTtlS: number;
  readonly serveStaleMs: number;
}

/**
 * Where STS (AssumeRole, AssumeRoleWithOIDC) is asked. What is set here wins over the variables the
 * ACK pod-identity webhook injects (ALIBABA_CLOUD_STS_ENDPOINT, ALIBABA_CLOUD_STS_REGION,
 * ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED), which fill only what is left out; with none of them, the
 * library's public sts.aliyuncs.com (src/privatelink/sts-host.ts).
 */
export interface StsConfig {
  /** host[:port]; wins over stsRegion/stsVpc. */
  readonly stsEndpoint?: string;
  readonly stsRegion?: string;
  /** With a region: sts-vpc.{region}.aliyuncs.com instead of sts.{region}.aliyuncs.com. */
  readonly stsVpc?: boolean;
}

/** The session an assumed role gets. */
export interface SessionConfig {
  /** DurationSeconds of AssumeRole(WithOIDC); unset: the library's 3600. */
  readonly sessionDurationS?: number;
  /** An inline RAM policy (JSON text) narrowing the session below the role's own policies. */
  readonly policy?: string;
}

/**
 * AccessKey fields given inline or as files (`*File`, which win; the inline field is then ''). A
 * file name without "/" is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) when the
 * credential is built, so a rotated file is read again; other paths are absolute (validation
 * resolves a relative one against the config file's directory).
 */
export interface AccessKeyConfig {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly accessKeyIdFile?: string;
  readonly accessKeySecretFile?: string;
}

export type CredentialsConfig =
  | { readonly type: 'default' }
  | ({ readonly type: 'access_key'; readonly securityToken?: string; readonly securityTokenFile?: string } & AccessKeyConfig)
  | ({
      readonly type: 'ram_role_arn';
      readonly roleArn: string;
      readonly roleSessionName: string;
      /** ExternalId the role's trust policy asks of this caller (a role shared across accounts). */
      readonly externalId?: string;
    } & AccessKeyConfig & StsConfig & SessionConfig)
  | ({
      readonly type: 'oidc_role_arn';
      /** Each unset: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE (RRSA). */
      readonly roleArn?: string;
      readonly oidcProviderArn?: string;
      readonly oidcTokenFile?: string;
      readonly roleSessionName: string;
    } & StsConfig & SessionConfig)
  | { readonly type: 'ecs_ram_role'; readonly roleName?: string }
  /** A local HTTP service that hands out temporary keys; unset: ALIBABA_CLOUD_CREDENTIALS_URI. */
  | { readonly type: 'credentials_uri'; readonly credentialsUri?: string };

export interface PrivateLinkConfig {
  /** API host[:port], no scheme. */
  readonly endpoint: string;
  readonly protocol: 'http' | 'https';
  /**
   * Connect to this IP instead of resolving the endpoint's host; TLS SNI and Host still carry the
   * host name, so the certificate check passes (a leased line to the VPC endpoint of the API).
   */
  readonly connectTo: string | null;
  /** PEM of extra CAs trusted for the API and STS hosts (from ca_file), besides the system ones. */
  readonly caPem: string | null;
  readonly credentials: CredentialsConfig;
  readonly bootstrap: readonly HostPort[];
  readonly refresh: string;
  readonly jitterMs: number;
  readonly timeoutMs: number;
  readonly maxStaleMs: number;
  /** Upper bound of the exponential backoff after throttling or server errors. */
  readonly maxBackoffMs: number;
  /**
   * The account's API rate limit per action, per minute, for `check`'s estimate; the real figure is
   * in the console's Quota Center (API rate limits), 1,000 is an assumption.
   */
  readonly quotaPerMinute: number;
}

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

/** A TSIG key (RFC 8945), secret decoded; structurally the transfer codec's `TsigKey`. */
export interface TsigKeyConfig {
  /** A DNS name, lower case, no trailing dot. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

export interface TransferAllowConfig {
  /** CIDRs whose unsigned requests are served; a bare address in the file becomes /32 or /128. */
  readonly networks: readonly string[];
  /** Names of `keys` whose TSIG-signed requests are served, from any address. */
  readonly keys: readonly string[];
}

/** SOA timers of the published zone, in seconds as the SOA record carries them. */
export interface SoaTimersConfig {
  readonly refreshS: number;
  readonly retryS: number;
  readonly expireS: number;
  readonly minimumS: number;
}

/** A `transfer.notify` target; `key` signs its NOTIFYs instead of the first of `transfer.keys` ("ADDRESS key:NAME"). */
export interface NotifyTarget extends HostPort {
  readonly key?: TsigKeyConfig;
}

export interface TransferConfig {
  /** The published policy zone: lower case, no trailing dot. */
  readonly zone: string;
  readonly allow: TransferAllowConfig;
  readonly keys: readonly TsigKeyConfig[];
  /** Told of every new serial (RFC 1996). IP literals, never an unspecified address. */
  readonly notify: readonly NotifyTarget[];
  /** Changes kept for IXFR; older serials get an AXFR-style answer. 0 keeps none. */
  readonly journalMaxChanges: number;
  /** null on an edge that re-publishes: the primaries' SOA is passed on unchanged. */
  readonly soa: SoaTimersConfig | null;
}

export interface PrimariesConfig {
  readonly zone: string;
  /** Tried in order; any one is enough. IP literals. */
  readonly servers: readonly HostPort[];
  /** Signs SOA/AXFR/IXFR requests and is required on NOTIFY; null: unsigned. */
  readonly key: TsigKeyConfig | null;
  /** SOA check interval when no NOTIFY comes; null: the zone's own SOA refresh. */
  readonly refreshMs: number | null;
  /** First delay after a failed check; doubles up to refreshMs (or the SOA refresh). */
  readonly retryMs: number;
  /** One SOA query or one whole transfer. */
  readonly timeoutMs: number;
  /** With no successful check for this long, /readyz fails; the data is kept and still answered. */
  readonly maxStaleMs: number;
  /**
   * The names this edge takes from the zone, each covering itself and every name below it: answered
   * from the zone, SERVFAIL while the zone lacks them, never forwarded. Zone names outside them are
   * not taken. Normalized, "{region}" expanded.
   */
  readonly managed: readonly string[];
  /** A zone (or one transfer) with more records than this is refused; the old zone is kept. */
  readonly maxRecords: number;
  /** A new zone that removes more than this share (0–1) of the names of the current one is refused (SIGUSR2 forces it). */
  readonly maxDropShare: number;
  /** CIDRs no address of a taken zone may be in (a zone with one is refused); validated. */
  readonly refusedRanges: readonly string[];
}

export type EntryConfig = (
  | { readonly kind: 'endpoint'; readonly names: readonly string[]; readonly endpointId: string; readonly vpcId?: string }
  | { readonly kind: 'service'; readonly names: readonly string[]; readonly serviceName: string; readonly vpcId?: string }
  | { readonly kind: 'static'; readonly names: readonly string[]; readonly ipv4: readonly string[]; readonly ipv6: readonly string[] }
) & {
  /** This entry's own probe settings; absent: records.probe (cloud entries) or no probing (static entries). */
  readonly probe?: ProbeSettings | null;
};

/** How one IP is probed: a TCP connect to `port`, every `intervalMs`. */
export interface ProbeSettings {
  readonly port: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failures that take an IP out of the answers. */
  readonly failAfter: number;
  /** Consecutive successes that bring it back. */
  readonly passAfter: number;
}

/** records.probe: null turns probing off everywhere. */
export interface ProbeConfig extends ProbeSettings {
  /** IPs of names no one asked for this long are not probed (and answered as if reachable). */
  readonly idleMs: number;
  /** Probes in flight at once. */
  readonly maxConcurrent: number;
}

export interface RecordsConfig {
  readonly ttl: number;
  readonly preferZones: readonly string[];
  readonly onUnavailable: 'servfail' | 'forward';
  readonly entries: readonly EntryConfig[];
  /** Reachability probes; null or absent (hand-built configs): off. */
  readonly probe?: ProbeConfig | null;
  /** NS records at the apex of every managed name (lower case, no trailing dot); absent (hand-built configs): localhost. */
  readonly nameservers?: readonly string[];
}

export interface LimitsConfig {
  readonly tcpMaxConnections: number;
  readonly tcpMaxConnectionsPerClient: number;
  readonly tcpIdleTimeoutMs: number;
  readonly tcpMaxInFlight: number;
  readonly tcpMaxWriteBufferBytes: number;
  readonly maxForwardsInFlight: number;
  readonly shutdownGraceMs: number;
  /** After SIGTERM, /readyz answers 503 this long before the listeners close. */
  readonly lameduckMs: number;
}

export interface LogConfig {
  readonly level: LogLevel;
  readonly queries: boolean;
}

/** Defaults in one place, units in the names. */
export const DEFAULTS = {
  configPath: '/etc/privatelink-dns/config.yaml',
  listenDns: ['127.0.0.1:53'],
  listenHttp: '127.0.0.1:8053',
  listenUdpIo: 'auto' as const,
  allow: ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'],
  rateLimitResponsesPerSecond: 1000,
  rateLimitBurst: 2000,
  rateLimitSlip: 2,
  refusedPerSecond: 5,
  refusedBurst: 10,
  httpMaxConnections: 256,
  httpMaxConnectionsPerClient: 16,
  httpRequestTimeoutMs: 5000,
  httpHeadersTimeoutMs: 2000,
  httpKeepAliveTimeoutMs: 2000,
  httpMaxHeaderBytes: 8 * 1024,
  httpMaxHeaders: 50,
  upstreamTimeoutMs: 2000,
  upstreamMaxFails: 2,
  upstreamHealthCheckIntervalMs: 500,
  cacheSize: 10_000,
  cacheMaxTtlS: 3600,
  cacheServeStaleMs: 3_600_000,
  privatelinkProtocol: 'https' as const,
  // Endpoint IPs change only when zones are added or removed: every 5 min, spread over 2 min, keeps
  // a fleet of hundreds far below the account's API quota (docs/deployment.md#api-quota).
  refresh: '0 */5 * * * *',
  jitterMs: 120_000,
  privatelinkTimeoutMs: 5000,
  maxStaleMs: 86_400_000,
  maxBackoffMs: 300_000,
  quotaPerMinute: 1000,
  recordsTtlS: 30,
  probePort: 443,
  probeIntervalMs: 5000,
  probeTimeoutMs: 1000,
  probeFailAfter: 2,
  probePassAfter: 2,
  probeIdleMs: 600_000,
  probeMaxConcurrent: 64,
  tcpMaxConnections: 1000,
  tcpMaxConnectionsPerClient: 64,
  tcpIdleTimeoutMs: 10_000,
  tcpMaxInFlight: 64,
  tcpMaxWriteBufferBytes: 256 * 1024,
  maxForwardsInFlight: 2000,
  shutdownGraceMs: 2000,
  lameduckMs: 1000,
  stateDir: '/var/lib/privatelink-dns',
  fleetZone: 'privatelink.rpz',
  transferKeyAlgorithm: 'hmac-sha256' as const,
  transferJournalMaxChanges: 100,
  soaRefreshS: 60,
  soaRetryS: 10,
  soaExpireS: 14 * 86_400,
  soaMinimumS: 30,
  primariesRetryMs: 10_000,
  primariesTimeoutMs: 10_000,
  primariesMaxRecords: 50_000,
  primariesMaxDropShare: 0.5,
  /**
   * Addresses an edge never takes from a zone: the public answers these names have (100.64.0.0/10,
   * which collides with data-center addresses), and addresses that cannot be a PrivateLink endpoint
   * (unspecified, loopback, link-local, multicast, reserved, IPv4-mapped).
   */
  primariesRefusedRanges: ['100.64.0.0/10', '0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4', '::/128', '::1/128', '::ffff:0:0/96', 'fe80::/10', 'ff00::/8'] as readonly string[],
  primariesMaxStaleMs: 86_400_000,
  logLevel: 'info' as LogLevel,
} as const;
