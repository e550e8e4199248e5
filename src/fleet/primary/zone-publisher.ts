import type { Logger } from '../../runtime/log';
import { describeError } from '../../errors';
import type { RecordsConfig } from '../../config/schema';
import type { EntryState } from '../../privatelink/model';
import { ZoneJournal, type JournalLimits } from '../zone/journal';
import { withSerial, zoneDigest, type PolicyZone, type SoaTimers } from '../zone/policy-zone';
import { buildPolicyZones } from '../zone/policy-zones';
import { nextSerial, type SerialRecord } from '../zone/serial';

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

export interface ZonePublisherOptions {
  readonly origin: string;
  readonly records: Pick<RecordsConfig, 'ttl' | 'preferZones' | 'onUnavailable'>;
  readonly timers?: Partial<SoaTimers>;
  readonly journal: JournalLimits;
  readonly serials: SerialStore | undefined;
  readonly logger: Logger;
  /** Called for every zone whose serial moved (the notifier tells the secondaries). */
  readonly onNewSerial: (origin: string, serial: number) => void;
  readonly nowMs?: () => number;
}

/**
 * The hub's published zones. Each table change rebuilds every view; a view whose content changed
 * gets a new serial (never lower than any before, across restarts: see zone/serial.ts), its
 * change goes into the journal, and the secondaries are told. Unchanged views keep their serial.
 */
export class ZonePublisher {
  private readonly zones = new Map<string, PublishedZone>();
  private remembered = new Map<string, SerialRecord>();
  private options: ZonePublisherOptions;
  private saving: Promise<void> = Promise.resolve();

  constructor(options: ZonePublisherOptions) {
    this.options = options;
  }

  /** Loads the serials of the last run; a missing or unreadable store starts from the clock. */
  async init(): Promise<void> {
    if (!this.options.serials) return;
    try {
      this.remembered = await this.options.serials.load();
    } catch (err) {
      this.options.logger.warn({ err: describeError(err) }, 'zone serials could not be read; new serials start from the clock');
    }
  }

  reconfigure(next: ZonePublisherOptions): void {
    this.options = next;
  }

  get(origin: string): PublishedZone | undefined {
    return this.zones.get(origin);
  }

  get all(): PublishedZone[] {
    return [...this.zones.values()];
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

  update(states: readonly EntryState[]): void {
    const { origin, records, timers, logger } = this.options;
    const now = (this.options.nowMs ?? Date.now)();
    const built = buildPolicyZones(states, { origin, records, ...(timers ? { timers } : {}) });
    for (const p of built.problems) logger.warn({ problem: p }, 'policy zone: item not published');
    const changed: PublishedZone[] = [];
    const wanted = new Set<string>();
    for (const view of built.views) {
      wanted.add(view.origin);
      const digest = zoneDigest(view.zone);
      const prev = this.zones.get(view.origin);
      const memory = prev ? { serial: prev.zone.serial, digest: prev.digest } : this.remembered.get(view.origin);
      const serial = nextSerial(memory, digest, Math.floor(now / 1000));
      if (prev && prev.zone.serial === serial) continue;
      const zone = withSerial(view.zone, serial);
      const journal = prev?.journal ?? new ZoneJournal(this.options.journal);
      if (prev) journal.record(prev.zone, zone);
      const published: PublishedZone = { origin: view.origin, ...(view.zoneId ? { zoneId: view.zoneId } : {}), zone, digest, journal, publishedAtMs: now };
      this.zones.set(view.origin, published);
      changed.push(published);
    }
    for (const key of [...this.zones.keys()]) {
      if (!wanted.has(key)) {
        this.zones.delete(key);
        logger.info({ zone: key }, 'policy zone view withdrawn: its availability zone is gone from the data');
      }
    }
    if (changed.length === 0) return;
    for (const z of changed) {
      logger.info({ zone: z.origin, serial: z.zone.serial, records: z.zone.records.length }, 'policy zone published');
      this.options.onNewSerial(z.origin, z.zone.serial);
    }
    this.persist();
  }

  /**
   * An edge that re-publishes passes the zone it received on under the primary's serial, so its
   * own secondaries see the same serials as the hub's.
   */
  publishAsIs(zone: PolicyZone): void {
    const prev = this.zones.get(zone.origin);
    if (prev && prev.zone.serial === zone.serial) return;
    const journal = prev?.journal ?? new ZoneJournal(this.options.journal);
    if (prev) journal.record(prev.zone, zone);
    const now = (this.options.nowMs ?? Date.now)();
    this.zones.set(zone.origin, { origin: zone.origin, zone, digest: zoneDigest(zone), journal, publishedAtMs: now });
    this.options.logger.info({ zone: zone.origin, serial: zone.serial, records: zone.records.length }, 'policy zone re-published');
    this.options.onNewSerial(zone.origin, zone.serial);
  }

  private persist(): void {
    const store = this.options.serials;
    if (!store) return;
    for (const z of this.zones.values()) this.remembered.set(z.origin, { serial: z.zone.serial, digest: z.digest });
    const snapshot = new Map(this.remembered);
    // Saves run one after another so an older write never lands last.
    this.saving = this.saving.then(() => store.save(snapshot)).catch((err) => {
      this.options.logger.error({ err: describeError(err) }, 'zone serials could not be saved; a restart may reuse the clock for serials');
    });
  }

  /** Resolves when the last serial save has finished (tests, shutdown). */
  flushed(): Promise<void> {
    return this.saving;
  }
}
