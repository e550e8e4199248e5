import type { Config } from '../config/schema';
import type { AnswerTable, TableEntryInput } from '../resolve/table';
import type { EntryState, SyncState } from './model';
import { usableZones } from './table-builder';
import { stsHostFor } from './sts-host';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * Why the PrivateLink data is not good enough to take traffic: every configured entry needs usable
 * IPs in the table, from data younger than privatelink.max_stale.
 */
export function syncNotReadyReasons(state: SyncState, table: AnswerTable, config: Config, nowMs: number): string[] {
  const reasons: string[] = [];
  const usable = new Map(table.inputs.map((i) => [i.id, i.ipv4.length + i.ipv6.length]));
  for (const entry of state.entries) {
    const label = `${entry.id} (${entry.names[0] ?? ''})`;
    if (!usable.get(entry.id)) {
      reasons.push(`${label}: no usable IP${entry.lastError ? ` (last error ${entry.lastError.code}: ${entry.lastError.message})` : entry.fetchedAtMs === undefined ? ' (not fetched yet)' : ''}`);
      continue;
    }
    if (entry.kind !== 'static') {
      const age = entry.fetchedAtMs === undefined ? Infinity : nowMs - entry.fetchedAtMs;
      if (age > config.privatelink.maxStaleMs) reasons.push(`${label}: data is ${Math.round(age / 1000)}s old, over max_stale`);
    }
  }
  return reasons;
}

export interface SyncStatusInputs {
  readonly state: SyncState | undefined;
  readonly table: AnswerTable;
  readonly config: Config;
  readonly nowMs: number;
  /** `nextAttemptMs`: the retry after throttling; `reason.accessDenied`: the policy that denied a call. */
  readonly backoff: { attempts: number; untilMs: number; reason?: { code: string; message: string; accessDenied?: Record<string, unknown> }; nextAttemptMs?: number } | undefined;
  /** PrivateLink API calls `{ total, <Action>: n }` in the last 60 s and in the last sync; undefined without a sync loop. */
  readonly apiCalls: { lastMinute: Record<string, number>; lastSync: Record<string, number> } | undefined;
  /** The environment the credential chain reads (STS variables); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The sync's part of /status: the last attempt, the back-off, API calls and every entry's data. */
export function syncStatus(s: SyncStatusInputs): Record<string, unknown> {
  const attempt = s.state?.lastAttempt;
  return {
    lastSync: attempt
      ? { time: iso(attempt.startedAtMs), durationMs: attempt.durationMs, result: attempt.result, error: attempt.error ?? null }
      : null,
    lastSuccessfulSync: iso(s.state?.lastSuccessMs),
    backoff: s.backoff && s.backoff.attempts > 0
      ? { attempts: s.backoff.attempts, until: iso(s.backoff.untilMs), nextAttempt: iso(s.backoff.nextAttemptMs), reason: s.backoff.reason ?? null }
      : null,
    ...(s.apiCalls ? { apiCalls: s.apiCalls } : {}),
    credentials: credentialStatus(s),
    endpoints: endpointsStatus(s),
  };
}

/** Every entry's part, each joined to its table input by id through one map (10,000 entries on a hub). */
function endpointsStatus(s: SyncStatusInputs): Record<string, unknown>[] {
  const entries = s.state?.entries ?? [];
  if (entries.length === 0) return [];
  const inputs = new Map(s.table.inputs.map((i) => [i.id, i]));
  return entries.map((e) => entryStatus(e, inputs.get(e.id), s));
}

/** The credential kind and, for kinds that call STS, the STS host in use and where that choice came from. */
function credentialStatus(s: SyncStatusInputs): Record<string, unknown> {
  const { credentials } = s.config.privatelink;
  const sts = stsHostFor(credentials, s.env ?? process.env);
  return { type: credentials.type, stsHost: sts?.host ?? null, stsHostSource: sts?.source ?? null };
}

function entryStatus(e: EntryState, input: TableEntryInput | undefined, s: SyncStatusInputs): Record<string, unknown> {
  const usable = new Set(usableZones(e, s.config.records.preferZones).map((z) => z.zoneId));
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
