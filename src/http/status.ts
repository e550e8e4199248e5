import type { Config } from '../config/schema';
import type { AnswerTable } from '../resolve/table';
import type { UpstreamServer } from '../upstream/upstream-pool';
import type { Readiness } from './routes';
import type { ProbeStatus } from '../probe/prober';

/** The table source as readiness and /status see it (daemon/table-source.ts implements it). */
export interface SourceView {
  readonly name: string;
  notReadyReasons(nowMs: number, table: AnswerTable): string[];
  status(nowMs: number, table: AnswerTable): Record<string, unknown>;
}

export interface ReadinessInputs {
  readonly lifecycle: string;
  readonly listenersBound: boolean;
  readonly table: AnswerTable;
  readonly nowMs: number;
  readonly source: SourceView;
  /** Other components' reasons (a hub without data to publish). */
  readonly otherReasons?: readonly string[] | undefined;
}

/**
 * Ready when the DNS listeners are bound and the table source has what it needs (for PrivateLink:
 * every configured entry has usable IPs from data younger than privatelink.max_stale); never while
 * shutting down (lameduck turns this 503 first).
 */
export function computeReadiness(r: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (r.lifecycle !== 'running') reasons.push(r.lifecycle === 'starting' ? 'starting' : 'shutting down');
  if (!r.listenersBound) reasons.push('DNS listeners are not bound');
  reasons.push(...r.source.notReadyReasons(r.nowMs, r.table), ...(r.otherReasons ?? []));
  return { ready: reasons.length === 0, reasons };
}

export interface StatusInputs extends ReadinessInputs {
  readonly config: Config;
  readonly version: string;
  readonly configPath: string | null;
  readonly startedAtMs: number;
  readonly upstreams: readonly UpstreamServer[];
  readonly cacheEntries: number;
  readonly listeners: readonly { address: string; udp: number; tcp: number; udpIo: string }[];
  readonly extras: Record<string, unknown> | undefined;
  /** Fleet mode, hub side: the zones this instance publishes. */
  readonly published?: Record<string, unknown> | undefined;
  /** Reachability probes (absent when records.probe is false): per IP, and the names answered fail-open. */
  readonly probes?: ProbeStatus;
}

/** The /status document: what an operator needs to see why a name answers what it answers. */
export function computeStatus(s: StatusInputs): Record<string, unknown> {
  const readiness = computeReadiness(s);
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    version: s.version,
    uptimeSeconds: Math.round((s.nowMs - s.startedAtMs) / 1000),
    configPath: s.configPath,
    region: s.config.region,
    ready: readiness.ready,
    reasons: readiness.reasons,
    listeners: s.listeners,
    table: { version: s.table.version, names: s.table.size, builtAt: iso(s.table.builtAt) },
    source: s.source.name,
    ...s.source.status(s.nowMs, s.table),
    ...(s.published ? { published: s.published } : {}),
    // Names whose every IP fails its probe and that are answered with all of them; /readyz ignores probes.
    degraded: (s.probes?.degraded ?? []).flatMap((d) => d.names),
    probes: s.probes ?? null,
    upstreams: s.upstreams.map((u) => ({ server: u.label, healthy: u.healthy, consecutiveFailures: u.consecutiveFailures, lastRttMs: u.lastRttMs === undefined ? null : Math.round(u.lastRttMs * 1000) / 1000, lastError: u.lastError ?? null })),
    cache: { entries: s.cacheEntries, size: s.config.cache.size },
    ...(s.extras ?? {}),
  };
}
