import type { EntryConfig } from '../config/schema';
import type { ErrorCode } from '../errors';

/**
 * The sync state: what we last learned about each configured entry. Plain JSON-serialisable data
 * (no classes, no Dates, no Maps) because it is written to the snapshot and shown by /status.
 * Absent API fields are stored as '' so the shape is always complete.
 */
export type EntryKind = EntryConfig['kind'];
export type EntrySource = 'sync' | 'snapshot' | 'static';
export type SyncResult = 'success' | 'partial' | 'failure';

export interface EndpointInfo {
  endpointId: string;
  endpointName: string;
  serviceName: string;
  endpointDomain: string;
  endpointStatus: string;
  connectionStatus: string;
  /** The endpoint's VPC ('' when unknown): later syncs list that VPC once for every entry in it. Absent in older snapshots. */
  vpcId?: string;
}

export interface ZoneState {
  zoneId: string;
  zoneDomain: string;
  eniId: string;
  eniIp: string;
  /** ZoneIpv6Address, '' when the zone has none. */
  ipv6: string;
  vSwitchId: string;
  status: string;
}

export interface ErrorInfo {
  code: ErrorCode | string;
  message: string;
  atMs: number;
}

export interface EntryState {
  /** Endpoint id, "service:<serviceName>[@vpc]" or "static:<first name>". */
  id: string;
  kind: EntryKind;
  /** Configured names (normalised by config validation); may be the config's own (frozen) list. */
  names: readonly string[];
  /** Absent for static entries and for entries never fetched successfully. */
  endpoint?: EndpointInfo;
  zones: readonly ZoneState[];
  /** Static entries only: the configured addresses (the config's own frozen lists). */
  addresses?: { readonly ipv4: readonly string[]; readonly ipv6: readonly string[] };
  source: EntrySource;
  /** When this entry's data was last fetched successfully; absent if never. */
  fetchedAtMs?: number;
  /**
   * The same fetch by the API's own clock (the HTTP Date of its answers, the earliest of the sync):
   * what a hub's zone serial is derived from, comparable between hubs whatever their own clocks
   * say. Absent when the API sent no Date, and in snapshots written before it existed.
   */
  apiFetchedAtMs?: number;
  /** True while the latest attempt for this entry failed and we answer from older data (or none). */
  stale: boolean;
  lastError?: ErrorInfo;
}

export interface SyncAttempt {
  startedAtMs: number;
  durationMs: number;
  result: SyncResult;
  /** The first error of the attempt, for /status; per-entry errors sit on the entries. */
  error?: { code: string; message: string };
}

export interface SyncState {
  entries: EntryState[];
  lastAttempt?: SyncAttempt;
  /** Start time of the last attempt in which every entry was fetched. */
  lastSuccessMs?: number;
}

export function entryId(entry: EntryConfig): string {
  switch (entry.kind) {
    case 'endpoint':
      return entry.endpointId;
    case 'service':
      return `service:${entry.serviceName}${entry.vpcId ? `@${entry.vpcId}` : ''}`;
    case 'static':
      return `static:${entry.names[0] ?? ''}`;
  }
}

/** A configured entry we hold no data for yet: its names are managed but have no IPs. */
export function emptyEntryState(entry: EntryConfig): EntryState {
  if (entry.kind === 'static') return staticEntryState(entry);
  return { id: entryId(entry), kind: entry.kind, names: entry.names, zones: [], source: 'sync', stale: true };
}

/** A static entry's zones: one list for them all. */
const NO_ZONES: readonly ZoneState[] = Object.freeze([]);

/**
 * A static entry's state shares the config's lists instead of copying them: a hub of 10,000
 * entries holds one copy of its names and addresses, not two.
 */
export function staticEntryState(entry: Extract<EntryConfig, { kind: 'static' }>): EntryState {
  return {
    id: entryId(entry),
    kind: 'static',
    names: entry.names,
    zones: NO_ZONES,
    addresses: { ipv4: entry.ipv4, ipv6: entry.ipv6 },
    source: 'static',
    stale: false,
  };
}

/**
 * Lines a state up with the configured entries, in config order: static entries come from config,
 * cloud entries keep the data of the same id and kind (with the names now configured), new ones
 * start empty, removed ones are dropped. Used after loading a snapshot and on reload.
 */
export function alignToConfig(state: SyncState | undefined, entries: readonly EntryConfig[]): SyncState {
  const previous = new Map((state?.entries ?? []).map((e) => [e.id, e]));
  const aligned = entries.map((entry): EntryState => {
    if (entry.kind === 'static') return staticEntryState(entry);
    const old = previous.get(entryId(entry));
    if (old && old.kind === entry.kind) return { ...old, names: entry.names };
    return emptyEntryState(entry);
  });
  const out: SyncState = { entries: aligned };
  if (state?.lastAttempt) out.lastAttempt = state.lastAttempt;
  if (state?.lastSuccessMs !== undefined) out.lastSuccessMs = state.lastSuccessMs;
  return out;
}

/**
 * When the data a hub would publish was fetched: the oldest fetch over the cloud entries (by the
 * API's clock when known, else ours), so the zone is at least that fresh. Undefined while any
 * cloud entry has never been fetched (no successful sync and no snapshot yet): such a state must
 * not be published. Static entries come from the config: a state with no cloud entry is data at
 * `nowMs`.
 */
export function dataFetchedAtMs(entries: readonly EntryState[], nowMs: number): number | undefined {
  let oldest: number | undefined;
  for (const e of entries) {
    if (e.kind === 'static') continue;
    const at = e.apiFetchedAtMs ?? e.fetchedAtMs;
    if (at === undefined) return undefined;
    oldest = oldest === undefined ? at : Math.min(oldest, at);
  }
  return oldest ?? nowMs;
}
