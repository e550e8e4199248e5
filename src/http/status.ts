import type { Config } from '../config/schema';
import type { AnswerTable } from '../resolve/table';
import type { SyncState, EntryState } from '../privatelink/model';
import type { UpstreamServer } from '../upstream/upstream-pool';
import { usableZones } from '../privatelink/table-builder';
import { stsHostFor } from '../privatelink/sts-host';
import type { Readiness } from './routes';
import type { ProbeStatus } from '../probe/prober';

export interface ReadinessInputs {
  readonly lifecycle: string;
  readonly listenersBound: boolean;
  readonly syncState: SyncState | undefined;
  readonly table: AnswerTable;
  readonly config: Config;
  readonly nowMs: number;
  /** Why the table source is not ready beyond the sync entries (an edge's primaries). */
  readonly sourceReasons: readonly string[];
}

/**
 * Ready when the DNS listeners are bound and every configured entry has usable IPs from data
 * younger than privatelink.max_stale; never while shutting down (lameduck turns this 503 first).
 */
export function computeReadiness(r: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (r.lifecycle !== 'running') reasons.push(r.lifecycle === 'starting' ? 'starting' : 'shutting down');
  if (!r.listenersBound) reasons.push('DNS listeners are not bound');
  reasons.push(...r.sourceReasons);
  const usable = new Map(r.table.inputs.map((i) => [i.id, i.ipv4.length + i.ipv6.length]));
  for (const entry of r.syncState?.entries ?? []) {
    const label = `${entry.id} (${entry.names[0] ?? ''})`;
    if (!usable.get(entry.id)) {
      reasons.push(`${label}: no usable IP${entry.lastError ? ` (last error ${entry.lastError.code}: ${entry.lastError.message})` : entry.fetchedAtMs === undefined ? ' (not fetched yet)' : ''}`);
      continue;
    }
    if (entry.kind !== 'static') {
      const age = entry.fetchedAtMs === undefined ? Infinity : r.nowMs - entry.fetchedAtMs;
      if (age > r.config.privatelink.maxStaleMs) reasons.push(`${label}: data is ${Math.round(age / 1000)}s old, over max_stale`);
    }
  }
  return { ready: reasons.length === 0, reasons };
}

export interface StatusInputs extends ReadinessInputs {
  readonly version: string;
  readonly configPath: string | null;
  readonly startedAtMs: number;
  readonly upstreams: readonly UpstreamServer[];
  readonly cacheEntries: number;
  /** `nextAttemptMs`: the retry after throttling; `reason.accessDenied`: the policy that denied a call. */
  readonly backoff: { attempts: number; untilMs: number; reason?: { code: string; message: string; accessDenied?: Record<string, unknown> }; nextAttemptMs?: number } | undefined;
  /** PrivateLink API calls `{ total, <Action>: n }` in the last 60 s and in the last sync; undefined without a sync loop. */
  readonly apiCalls?: { lastMinute: Record<string, number>; lastSync: Record<string, number> } | undefined;
  readonly listeners: readonly { address: string; udp: number; tcp: number; udpIo: string }[];
  readonly extras: Record<string, unknown> | undefined;
  /** Fleet mode: `published` (hub) and `transfer` (edge: primaries, serial, last check and transfer). */
  readonly fleet: { published?: Record<string, unknown>; transfer?: Record<string, unknown> };
  /** Reachability probes (absent when records.probe is false): per IP, and the names answered fail-open. */
  readonly probes?: ProbeStatus;
  /** The environment the credential chain reads (STS variables); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The /status document: what an operator needs to see why a name answers what it answers. */
export function computeStatus(s: StatusInputs): Record<string, unknown> {
  const readiness = computeReadiness(s);
  const attempt = s.syncState?.lastAttempt;
  return {
    version: s.version,
    uptimeSeconds: Math.round((s.nowMs - s.startedAtMs) / 1000),
    configPath: s.configPath,
    region: s.config.region,
    ready: readiness.ready,
    reasons: readiness.reasons,
    listeners: s.listeners,
    lastSync: attempt
      ? { time: iso(attempt.startedAtMs), durationMs: attempt.durationMs, result: attempt.result, error: attempt.error ?? null }
      : null,
    lastSuccessfulSync: iso(s.syncState?.lastSuccessMs),
    backoff: s.backoff && s.backoff.attempts > 0
      ? { attempts: s.backoff.attempts, until: iso(s.backoff.untilMs), nextAttempt: iso(s.backoff.nextAttemptMs), reason: s.backoff.reason ?? null }
      : null,
    ...(s.apiCalls ? { apiCalls: s.apiCalls } : {}),
    ...(s.config.source === 'privatelink' ? { credentials: credentialStatus(s) } : {}),
    table: { version: s.table.version, names: s.table.size, builtAt: iso(s.table.builtAt) },
    source: s.config.source === 'primaries' ? 'transfer' : 'privatelink',
    endpoints: (s.syncState?.entries ?? []).map((e) => entryStatus(e, s)),
    ...(s.fleet.transfer ? { transfer: s.fleet.transfer } : {}),
    ...(s.fleet.published ? { published: s.fleet.published } : {}),
    // Names whose every IP fails its probe and that are answered with all of them; /readyz ignores probes.
    degraded: (s.probes?.degraded ?? []).flatMap((d) => d.names),
    probes: s.probes ?? null,
    upstreams: s.upstreams.map((u) => ({ server: u.label, healthy: u.healthy, consecutiveFailures: u.consecutiveFailures, lastRttMs: u.lastRttMs === undefined ? null : Math.round(u.lastRttMs * 1000) / 1000, lastError: u.lastError ?? null })),
    cache: { entries: s.cacheEntries, size: s.config.cache.size },
    ...(s.extras ?? {}),
  };
}

/** The credential kind and, for kinds that call STS, the STS host in use and where that choice came from. */
function credentialStatus(s: StatusInputs): Record<string, unknown> {
  const { credentials } = s.config.privatelink;
  const sts = stsHostFor(credentials, s.env ?? process.env);
  return { type: credentials.type, stsHost: sts?.host ?? null, stsHostSource: sts?.source ?? null };
}

function entryStatus(e: EntryState, s: StatusInputs): Record<string, unknown> {
  const usable = new Set(usableZones(e, s.config.records.preferZones).map((z) => z.zoneId));
  const input = s.table.inputs.find((i) => i.id === e.id);
  return {
    id: e.id,
    kind: e.kind,
    names: e.names,
    source: e.source,
    stale: e.stale,
    ageSeconds: e.fetchedAtMs === undefined ? null : Math.round((s.nowMs - e.fetchedAtMs) / 1000),
    fetchedAt: iso(e.fetchedAtMs),
    endpoint: e.endpoint ?? null,
    answers: { ipv4: input?.ipv4 ?? [], ipv6: input?.ipv6 ?? [] },
    zones: e.zones.map((z) => ({ zoneId: z.zoneId, ip: z.eniIp, ipv6: z.ipv6 || null, status: z.status, domain: z.zoneDomain || null, answered: usable.has(z.zoneId) })),
    lastError: e.lastError ? { code: e.lastError.code, message: e.lastError.message, at: iso(e.lastError.atMs) } : null,
  };
}
