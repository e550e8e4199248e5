import type { Config } from '../config/schema';
import type { SyncState } from '../privatelink/model';
import type { AnswerTable, TableEntryInput } from '../resolve/table';
import type { PolicyZone } from '../fleet/zone/policy-zone';
import type { NotifyReceiver } from '../fleet/primary/zone-server';

/**
 * What a table source produced: the entries to answer, and what it knows about them. Exactly one
 * of `syncState` (PrivateLink: per-entry API data) and `zone` (primaries: the zone as received)
 * is set by the sources we have.
 */
export interface SourceUpdate {
  readonly inputs: readonly TableEntryInput[];
  /** Answer with this TTL instead of records.ttl (an edge answers with the TTL its hub published). */
  readonly ttlS?: number;
  readonly syncState?: SyncState;
  readonly zone?: PolicyZone;
}

/** Takes an update; a promise settles once the update's table answers (the composer's does). */
export type SourceListener = (update: SourceUpdate) => void | Promise<void>;

/**
 * Where the answer table comes from. A source loads what it can answer with at once in `init`
 * (a snapshot, a saved zone), fetches fresh data after `start`, and reports every new result to
 * the listener it was built with. Readiness and /status come from each source the same way.
 */
export interface TableSource {
  /** 'privatelink' or 'transfer' in /status. */
  readonly name: string;
  /** Loads saved data and reports it; called before the DNS listeners open. */
  init(): Promise<void>;
  /** Starts fetching (first sync or SOA check, then the schedule); called once the daemon answers. */
  start(): void;
  stop(): Promise<void>;
  /**
   * An operator's SIGUSR2: fetch now, past what would normally hold it back (PrivateLink: a sync
   * now; primaries: the whole zone from the freshest primary whatever its serial).
   */
  refetch(): void;
  /** A reloaded config whose source kind is unchanged (a kind change needs a restart). */
  reconfigure(config: Config): void;
  /** Why the daemon should not take traffic because of this source (empty: ready). */
  notReadyReasons(nowMs: number, table: AnswerTable): string[];
  /** Seconds since the oldest data answered was known current (0 without data), for the age metric. */
  dataAgeS(nowMs: number): number;
  /** This source's fields of the /status document. */
  status(nowMs: number, table: AnswerTable): Record<string, unknown>;
  /** The per-entry API data, for the prober's availability zones (PrivateLink only). */
  readonly syncState?: SyncState;
  /** Where a NOTIFY for this source's zone goes (primaries only). */
  readonly notifyReceiver?: NotifyReceiver;
}
