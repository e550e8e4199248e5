import type { Logger } from '../../runtime/log';
import { describeError } from '../../errors';
import type { RecordsConfig } from '../../config/schema';
import type { EntryState } from '../../privatelink/model';
import { ZoneJournal, type JournalLimits } from '../zone/journal';
import { withSerial, zoneDigest, type PolicyZone, type SoaTimers } from '../zone/policy-zone';
import { buildPolicyZones } from '../zone/policy-zones';
import { serialForData, type SerialRecord } from '../zone/serial';
import type { SavedHistory } from '../zone/zone-state';

/** One published zone (the main zone or an availability-zone view) and its IXFR history. */
export interface PublishedZone {
  readonly origin: string;
  readonly zoneId?: string;
  readonly zone: PolicyZone;
  readonly digest: string;
  readonly journal: ZoneJournal;
  readonly publishedAtMs: number;
}

/** Where serials survive restarts: per origin, the serial and the digest of the content it names. */
export interface SerialStore {
  load(): Promise<Map<string, SerialRecord>>;
  save(records: ReadonlyMap<string, SerialRecord>): Promise<void>;
}

/** Where each published zone and its journal survive restarts (IXFR after a restart). */
export interface HistoryStore {
  load(): Promise<{ histories: Map<string, SavedHistory>; problems: string[] }>;
  save(history: SavedHistory): Promise<void>;
}

/** Where the published data came from: `fetchedAtMs` undefined means "no data yet". */
export interface DataSource {
  /** When the data was fetched from the API (privatelink/model.ts dataFetchedAtMs). */
  readonly fetchedAtMs: number | undefined;
}

export interface ZonePublisherOptions {
  readonly origin: string;
  readonly records: Pick<RecordsConfig, 'ttl' | 'preferZones' | 'onUnavailable'>;
  readonly timers?: Partial<SoaTimers>;
  readonly journal: JournalLimits;
  readonly serials: SerialStore | undefined;
  readonly history?: HistoryStore | undefined;
  readonly logger: Logger;
  /** Called for every zone whose serial moved (the notifier tells the secondaries). */
  readonly onNewSerial: (origin: string, serial: number) => void;
  /** Called when the zone server has built the AXFR answer of a serial, which it keeps for every reader. */
  readonly onTransferBuilt?: () => void;
  readonly nowMs?: () => number;
}

/** A zone as last published before a restart: the base the first change is journalled against. */
interface Base {
  readonly zone: PolicyZone;
  readonly digest: string;
  readonly journal: ZoneJournal;
}

/**
 * The hub's published zones. Nothing is published until the caller has data (a successful sync
 * or a snapshot): until then every request for the zone gets SERVFAIL, so secondaries keep what
 * they hold. Each table change rebuilds every view; a view whose content changed gets a new serial
 * derived from when its data was fetched (zone/serial.ts), its change goes into the journal, and
 * the secondaries are told. Unchanged views keep their serial.
 */
export class ZonePublisher {
  private readonly zones = new Map<string, PublishedZone>();
  private remembered = new Map<string, SerialRecord>();
  /** Zones and journals saved by the last run, not served: only the base of the first change. */
  private restored = new Map<string, Base>();
  private options: ZonePublisherOptions;
  private saving: Promise<void> = Promise.resolve();
  private dataAtMs: number | undefined;
  private waitingLogged = false;

  constructor(options: ZonePublisherOptions) {
    this.options = options;
  }

  /** Loads the serials and journals of the last run; an unreadable store only costs that memory. */
  async init(): Promise<void> {
    const { serials, history, logger } = this.options;
    if (serials) {
      try {
        this.remembered = await serials.load();
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'zone serials could not be read; serials come from the data times (and the zone histories, if readable)');
      }
    }
    if (history) {
      try {
        const loaded = await history.load();
        for (const p of loaded.problems) logger.warn({ problem: p }, 'zone history not used: the first transfer after this start is a full one');
        for (const [origin, h] of loaded.histories) {
          const journal = new ZoneJournal(this.options.journal);
          for (const c of h.changes) journal.add(c);
          this.restored.set(origin, { zone: h.zone, digest: h.digest, journal });
        }
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'zone histories could not be read; the first transfers after this start are full ones');
      }
    }
  }

  reconfigure(next: ZonePublisherOptions): void {
    this.options = next;
  }

  get origin(): string {
    return this.options.origin;
  }

  get(origin: string): PublishedZone | undefined {
    return this.zones.get(origin);
  }

  get all(): PublishedZone[] {
    return [...this.zones.values()];
  }

  /** Whether any zone is published (the hub has data). */
  get hasData(): boolean {
    return this.zones.size > 0;
  }

  /** When the published data was fetched (undefined for a re-published zone or none). */
  get dataFetchedAtMs(): number | undefined {
    return this.dataAtMs;
  }

  /** Whether `name` is the zone's name or under it, published or not. */
  covers(name: string): boolean {
    const o = this.options.origin;
    return name === o || (name.length > o.length && name.endsWith(o) && name[name.length - o.length - 1] === '.');
  }

  /**
   * The published zone `name` (lower case, no trailing dot) lies in: the closest enclosing one, since
   * the views (`<zoneid>.<origin>`) sit below the main zone's name.
   */
  zoneOf(name: string): PublishedZone | undefined {
    // Every published zone is the main zone or below it: one test rejects the usual query.
    if (!name.endsWith(this.options.origin)) return undefined;
    let best: PublishedZone | undefined;
    for (const z of this.zones.values()) {
      const inside = name === z.origin || (name.length > z.origin.length && name.endsWith(z.origin) && name[name.length - z.origin.length - 1] === '.');
      if (inside && (!best || z.origin.length > best.origin.length)) best = z;
    }
    return best;
  }

  /**
   * The sync state changed. Without data (`fetchedAtMs` undefined) nothing is published: before
   * the first data the zone stays unpublished; later (a reload added an entry not fetched yet)
   * the published zones stay as they are until the data is complete again.
   */
  update(states: readonly EntryState[], source: DataSource): void {
    const { origin, records, timers, logger } = this.options;
    if (source.fetchedAtMs === undefined) {
      if (this.zones.size === 0 && !this.waitingLogged) {
        this.waitingLogged = true;
        logger.info({ zone: origin }, 'policy zone not published yet: no data from a successful sync or a snapshot (zone requests get SERVFAIL)');
      } else if (this.zones.size > 0) {
        logger.debug({ zone: origin }, 'sync state without data for every entry: the published zones stay as they are');
      }
      return;
    }
    const now = (this.options.nowMs ?? Date.now)();
    const dataSec = Math.floor(source.fetchedAtMs / 1000);
    const built = buildPolicyZones(states, { origin, records, ...(timers ? { timers } : {}) });
    for (const p of built.problems) logger.warn({ problem: p }, 'policy zone: item not published');
    const changed: PublishedZone[] = [];
    const wanted = new Set<string>();
    for (const view of built.views) {
      wanted.add(view.origin);
      const digest = zoneDigest(view.zone);
      const prev = this.zones.get(view.origin);
      const base = this.baseFor(view.origin);
      const memory = prev ? { serial: prev.zone.serial, digest: prev.digest } : this.memoryFor(view.origin, base);
      const serial = serialForData(memory, digest, dataSec);
      if (prev && prev.zone.serial === serial) continue;
      const zone = withSerial(view.zone, serial);
      const published = this.install(view.origin, zone, digest, now, view.zoneId);
      changed.push(published);
    }
    for (const key of [...this.zones.keys()]) {
      if (!wanted.has(key)) {
        this.zones.delete(key);
        logger.info({ zone: key }, 'policy zone view withdrawn: its availability zone is gone from the data');
      }
    }
    this.dataAtMs = source.fetchedAtMs;
    if (changed.length === 0) return;
    for (const z of changed) {
      logger.info({ zone: z.origin, serial: z.zone.serial, records: z.zone.records.length, dataFetchedAt: new Date(source.fetchedAtMs).toISOString() }, 'policy zone published');
      this.options.onNewSerial(z.origin, z.zone.serial);
    }
    this.persist(changed);
  }

  /**
   * An edge that re-publishes passes the zone it received on under the primary's serial, so its
   * own secondaries see the same serials as the hub's.
   */
  publishAsIs(zone: PolicyZone): void {
    const prev = this.zones.get(zone.origin);
    if (prev && prev.zone.serial === zone.serial) return;
    const now = (this.options.nowMs ?? Date.now)();
    const published = this.install(zone.origin, zone, zoneDigest(zone), now, undefined);
    this.options.logger.info({ zone: zone.origin, serial: zone.serial, records: zone.records.length }, 'policy zone re-published');
    this.options.onNewSerial(zone.origin, zone.serial);
    this.persist([published]);
  }

  /** The zone this origin had before: the one published now, else the one saved by the last run. */
  private baseFor(origin: string): Base | undefined {
    return this.zones.get(origin) ?? this.restored.get(origin);
  }

  /** The serial memory for a zone not published yet: the serial store, else the saved history. */
  private memoryFor(origin: string, base: Base | undefined): SerialRecord | undefined {
    return this.remembered.get(origin) ?? (base ? { serial: base.zone.serial, digest: base.digest } : undefined);
  }

  /** Publishes `zone`, journalling the change from the zone it replaces (kept over a restart). */
  private install(origin: string, zone: PolicyZone, digest: string, now: number, zoneId: string | undefined): PublishedZone {
    const base = this.baseFor(origin);
    const journal = base?.journal ?? new ZoneJournal(this.options.journal);
    if (base && base.zone.serial !== zone.serial) journal.record(base.zone, zone);
    this.restored.delete(origin);
    const published: PublishedZone = { origin, ...(zoneId ? { zoneId } : {}), zone, digest, journal, publishedAtMs: now };
    this.zones.set(origin, published);
    return published;
  }

  private persist(changed: readonly PublishedZone[]): void {
    const { serials, history } = this.options;
    if (!serials && !history) return;
    for (const z of this.zones.values()) this.remembered.set(z.origin, { serial: z.zone.serial, digest: z.digest });
    const snapshot = new Map(this.remembered);
    const histories: SavedHistory[] = changed.map((z) => ({ zone: z.zone, digest: z.digest, changes: [...z.journal.all] }));
    // Saves run one after another so an older write never lands last.
    this.saving = this.saving
      .then(async () => {
        if (serials) await serials.save(snapshot);
        if (history) for (const h of histories) await history.save(h);
      })
      .catch((err) => {
        this.options.logger.error({ err: describeError(err) }, 'zone serials or history could not be saved; after a restart serials come from the data times and the first transfers are full ones');
      });
  }

  /** The zone server built the AXFR answer of a serial (a burst of short-lived allocation). */
  transferBuilt(): void {
    this.options.onTransferBuilt?.();
  }

  /** Resolves when the last serial save has finished (tests, shutdown). */
  flushed(): Promise<void> {
    return this.saving;
  }
}
