import type { Logger } from '../../runtime/log';
import type { RecordsConfig, TransferConfig } from '../../config/schema';
import type { EntryState } from '../../privatelink/model';
import { loadZoneSerials, saveZoneSerials } from '../zone/zone-state';
import type { PolicyZone } from '../zone/policy-zone';
import { Notifier, type NotifierObserver, type NotifySender } from './notifier';
import { TransferAcl } from './transfer-acl';
import { ZonePublisher, type ZonePublisherOptions } from './zone-publisher';

export interface ZoneHubOptions {
  readonly transfer: TransferConfig;
  readonly records: RecordsConfig;
  readonly stateDir: string | null;
  readonly sendNotify: NotifySender;
  readonly notifyObserver: NotifierObserver;
  /** Every new serial of a published zone (metrics). */
  readonly onSerial: (zone: string, serial: number) => void;
  readonly logger: Logger;
}

/**
 * The publishing side of fleet mode, wired in one place: the published zones (built from the sync
 * state, or passed on as received on an edge that re-publishes), who may transfer them, and the
 * NOTIFYs that follow each new serial.
 */
export class ZoneHub {
  readonly publisher: ZonePublisher;
  private readonly notifier: Notifier;
  private aclValue: TransferAcl;
  private options: ZoneHubOptions;

  constructor(options: ZoneHubOptions) {
    this.options = options;
    this.aclValue = new TransferAcl(options.transfer.allow);
    this.notifier = new Notifier({ targets: options.transfer.notify, send: options.sendNotify, observer: options.notifyObserver, logger: options.logger });
    this.publisher = new ZonePublisher(this.publisherOptions(options));
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
      logger: o.logger,
      onNewSerial: (origin, serial) => {
        o.onSerial(origin, serial);
        this.notifier.announce(origin, serial);
      },
    };
  }

  get acl(): TransferAcl {
    return this.aclValue;
  }

  init(): Promise<void> {
    return this.publisher.init();
  }

  /** A hub: the sync state changed. */
  publishStates(states: readonly EntryState[]): void {
    this.publisher.update(states);
  }

  /** An edge that re-publishes: the zone it received, passed on as it came. */
  publishReceived(zone: PolicyZone): void {
    this.publisher.publishAsIs(zone);
  }

  reconfigure(next: ZoneHubOptions): void {
    this.options = next;
    this.aclValue = new TransferAcl(next.transfer.allow);
    this.notifier.reconfigure({ targets: next.transfer.notify, send: next.sendNotify, observer: next.notifyObserver, logger: next.logger });
    this.publisher.reconfigure(this.publisherOptions(next));
  }

  status(): Record<string, unknown> {
    return {
      zones: this.publisher.all.map((z) => ({
        zone: z.origin,
        zoneId: z.zoneId ?? null,
        serial: z.zone.serial,
        records: z.zone.records.length,
        publishedAt: new Date(z.publishedAtMs).toISOString(),
        journal: { changes: z.journal.length, oldestSerial: z.journal.oldestSerial ?? null },
      })),
      notify: { targets: this.options.transfer.notify.length, pending: this.notifier.pending },
    };
  }

  async stop(): Promise<void> {
    this.notifier.stop();
    await this.publisher.flushed();
  }
}
