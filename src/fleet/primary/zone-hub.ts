import type { Logger } from '../../runtime/log';
import { HeapRelease } from '../../runtime/heap-release';
import type { RecordsConfig, TransferConfig } from '../../config/schema';
import type { EntryState } from '../../privatelink/model';
import { loadZoneHistories, loadZoneSerials, saveZoneHistory, saveZoneSerials } from '../zone/zone-state';
import { DEFAULT_SOA_TIMERS, type PolicyZone } from '../zone/policy-zone';
import { Notifier, type NotifierObserver, type NotifySender } from './notifier';
import { DEFAULT_REGISTRY_OPTIONS, SecondaryRegistry, type SecondaryStatus } from './secondary-registry';
import { TransferAcl } from './transfer-acl';
import { ZonePublisher, type DataSource, type ZonePublisherOptions } from './zone-publisher';

export interface ZoneHubOptions {
  readonly transfer: TransferConfig;
  readonly records: RecordsConfig;
  readonly stateDir: string | null;
  readonly sendNotify: NotifySender;
  readonly notifyObserver: NotifierObserver;
  /** Every new serial of a published zone (metrics). */
  readonly onSerial: (zone: string, serial: number) => void;
  readonly logger: Logger;
  /** Where learned NOTIFYs go on a secondary (its DNS port); default 53. */
  readonly learnedNotifyPort?: number;
  /** NOTIFYs started per second at most; default DEFAULT_NOTIFY_RATE_PER_SECOND. */
  readonly notifyRatePerSecond?: number;
}

/** A learned secondary silent for this many SOA refresh intervals (at least LEARNED_MIN_EXPIRE_MS) is forgotten. */
const LEARNED_EXPIRE_REFRESHES = 3;
const LEARNED_MIN_EXPIRE_MS = 5 * 60_000;

/**
 * The publishing side of fleet mode, wired in one place: the published zones (built from the sync
 * state, or passed on as received on an edge that re-publishes), who may transfer them, the
 * secondaries learned from their signed requests, and the NOTIFYs that follow each new serial.
 */
export class ZoneHub {
  readonly publisher: ZonePublisher;
  /** Fed by the zone server with every signed SOA check and transfer it serves. */
  readonly secondaries: SecondaryRegistry;
  private readonly notifier: Notifier;
  private aclValue: TransferAcl;
  private options: ZoneHubOptions;
  /**
   * A publish (the zone, its digest, diff and saved history, after a config parse at start or
   * reload) and the first build of a transfer answer leave a grown heap: given back soon after.
   */
  private readonly heapRelease = new HeapRelease();

  constructor(options: ZoneHubOptions) {
    this.options = options;
    this.aclValue = new TransferAcl(options.transfer.allow);
    this.secondaries = new SecondaryRegistry(this.registryOptions(options));
    this.notifier = new Notifier(this.notifierOptions(options));
    this.publisher = new ZonePublisher(this.publisherOptions(options));
  }

  private registryOptions(o: ZoneHubOptions): typeof DEFAULT_REGISTRY_OPTIONS {
    const refreshS = o.transfer.soa?.refreshS ?? DEFAULT_SOA_TIMERS.refreshS;
    return { ...DEFAULT_REGISTRY_OPTIONS, expireMs: Math.max(LEARNED_MIN_EXPIRE_MS, LEARNED_EXPIRE_REFRESHES * refreshS * 1000), notifyPort: o.learnedNotifyPort ?? DEFAULT_REGISTRY_OPTIONS.notifyPort };
  }

  private notifierOptions(o: ZoneHubOptions): ConstructorParameters<typeof Notifier>[0] {
    return {
      targets: o.transfer.notify,
      learned: (zone) => this.secondaries.targets(zone),
      keyOf: (address) => this.secondaries.keyOf(address),
      send: o.sendNotify,
      observer: o.notifyObserver,
      logger: o.logger,
      ...(o.notifyRatePerSecond !== undefined ? { ratePerSecond: o.notifyRatePerSecond } : {}),
    };
  }

  private publisherOptions(o: ZoneHubOptions): ZonePublisherOptions {
    const soa = o.transfer.soa;
    const dir = o.stateDir;
    return {
      origin: o.transfer.zone,
      records: o.records,
      ...(soa ? { timers: { refreshS: soa.refreshS, retryS: soa.retryS, expireS: soa.expireS } } : {}),
      journal: { maxChanges: o.transfer.journalMaxChanges, maxRecords: 20 * Math.max(1000, o.transfer.journalMaxChanges) },
      serials: dir ? { load: () => loadZoneSerials(dir), save: (serials) => saveZoneSerials(dir, serials) } : undefined,
      history: dir && o.transfer.journalMaxChanges > 0 ? { load: () => loadZoneHistories(dir), save: (h) => saveZoneHistory(dir, h) } : undefined,
      logger: o.logger,
      onNewSerial: (origin, serial) => {
        o.onSerial(origin, serial);
        this.notifier.announce(origin, serial);
        this.heapRelease.soon();
      },
      onTransferBuilt: () => this.heapRelease.soon(),
    };
  }

  get acl(): TransferAcl {
    return this.aclValue;
  }

  init(): Promise<void> {
    return this.publisher.init();
  }

  /**
   * A hub: the sync state changed. `source.fetchedAtMs` is when its data was fetched from the API
   * (privatelink/model.ts dataFetchedAtMs); undefined means "no data yet" and publishes nothing.
   */
  publishStates(states: readonly EntryState[], source: DataSource): void {
    this.publisher.update(states, source);
  }

  /** An edge that re-publishes: the zone it received, passed on as it came. */
  publishReceived(zone: PolicyZone): void {
    this.publisher.publishAsIs(zone);
  }

  /** Why this hub should not be taken as ready (for /readyz): [] once it publishes data. */
  notReadyReasons(_nowMs: number): string[] {
    if (this.publisher.hasData) return [];
    return [`policy zone ${this.options.transfer.zone} not published: no data yet from a successful sync or a snapshot`];
  }

  reconfigure(next: ZoneHubOptions): void {
    this.options = next;
    this.aclValue = new TransferAcl(next.transfer.allow);
    this.secondaries.reconfigure(this.registryOptions(next));
    this.notifier.reconfigure(this.notifierOptions(next));
    this.publisher.reconfigure(this.publisherOptions(next));
  }

  /** The fleet as this hub sees it: every secondary learned, its serial and last check. */
  fleetStatus(): { secondaries: SecondaryStatus[]; notify: { sent: number; pending: number } } {
    return { secondaries: this.secondaries.status(), notify: { sent: this.notifier.sent, pending: this.notifier.pending.length } };
  }

  status(): Record<string, unknown> {
    const dataAt = this.publisher.dataFetchedAtMs;
    return {
      ready: this.publisher.hasData,
      dataFetchedAt: dataAt === undefined ? null : new Date(dataAt).toISOString(),
      zones: this.publisher.all.map((z) => ({
        zone: z.origin,
        zoneId: z.zoneId ?? null,
        serial: z.zone.serial,
        records: z.zone.records.length,
        publishedAt: new Date(z.publishedAtMs).toISOString(),
        journal: { changes: z.journal.length, oldestSerial: z.journal.oldestSerial ?? null },
      })),
      // The pending list is cut short: with a thousand learned secondaries it would be the page.
      notify: { targets: this.options.transfer.notify.length, learned: this.secondaries.size, pendingCount: this.notifier.pending.length, pending: this.notifier.pending.slice(0, 20) },
      fleet: this.fleetStatus().secondaries,
    };
  }

  async stop(): Promise<void> {
    this.notifier.stop();
    this.heapRelease.stop();
    await this.publisher.flushed();
  }
}
