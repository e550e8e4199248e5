import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import { type Metrics, notifierObserver, publishedSerialObserver, zoneServerObserver } from '../metrics';
import type { ZoneHub, ZoneHubOptions } from '../fleet/primary/zone-hub';
import type { NotifyReceiver, ZoneServer } from '../fleet/primary/zone-server';
import type { NotifyChannel } from '../fleet/primary/notify-channel';
import { dataFetchedAtMs } from '../privatelink/model';
import { fleet } from './fleet-modules';
import type { SourceUpdate } from './table-source';

export interface ZoneServiceOptions {
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * Fleet mode's serving side: the zones this instance publishes (a hub, with `transfer`) and the
 * zone server that answers SOA/AXFR/IXFR for them and takes NOTIFY for an edge's zone. The hub
 * follows the table source's updates: a sync state is built into the policy zone, a received zone
 * is passed on as it came.
 */
export class ZoneService {
  private hub: ZoneHub | undefined;
  private serverValue: ZoneServer | undefined;
  private last: SourceUpdate | undefined;
  /** The hub's NOTIFY sockets, kept over reloads (a reload builds a new sender on the same channel). */
  private notifyChannel: NotifyChannel | undefined;

  private constructor(private readonly options: ZoneServiceOptions, private readonly notifyReceiver: NotifyReceiver | undefined) {}

  /** Undefined when the config has no fleet mode (no `transfer`, and no primaries to take NOTIFY for). */
  static async create(config: Config, options: ZoneServiceOptions, notifyReceiver: NotifyReceiver | undefined): Promise<ZoneService | undefined> {
    if (!config.transfer && !notifyReceiver) return undefined;
    const service = new ZoneService(options, notifyReceiver);
    const hubOptions = service.hubOptions(config);
    if (hubOptions) {
      service.hub = new (fleet().ZoneHub)(hubOptions);
      await service.hub.init();
    }
    service.serverValue = service.buildServer(config);
    return service;
  }

  get server(): ZoneServer | undefined {
    return this.serverValue;
  }

  /** The table source produced something: publish it (hub only). */
  readonly sourceUpdated = (update: SourceUpdate): void => {
    this.last = update;
    if (!this.hub) return;
    if (update.zone) this.hub.publishReceived(update.zone);
    else if (update.syncState) {
      // Published only once there is data (a sync or the snapshot); the serial is when it was fetched.
      const entries = update.syncState.entries;
      this.hub.publishStates(entries, { fetchedAtMs: dataFetchedAtMs(entries, Date.now()) });
    }
  };

  /** Adding or removing `transfer` needs a restart (reload keeps the old value); keys, ACL, NOTIFY targets and SOA timers apply now. */
  reconfigure(config: Config): void {
    const hubOptions = this.hubOptions(config);
    if (this.hub && hubOptions) this.hub.reconfigure(hubOptions);
    this.serverValue = this.buildServer(config);
    if (this.last) this.sourceUpdated(this.last);
  }

  /** A hub with nothing to publish yet is not ready (its transfers get SERVFAIL). */
  notReadyReasons(nowMs: number): string[] {
    return this.hub?.notReadyReasons(nowMs) ?? [];
  }

  status(): Record<string, unknown> | undefined {
    return this.hub?.status();
  }

  async stop(): Promise<void> {
    await this.hub?.stop();
    this.notifyChannel?.close();
  }

  private hubOptions(config: Config): ZoneHubOptions | undefined {
    if (!config.transfer) return undefined;
    this.notifyChannel ??= new (fleet().NotifyChannel)();
    return {
      transfer: config.transfer,
      records: config.records,
      stateDir: config.stateDir,
      sendNotify: fleet().notifySender(config.transfer.keys, this.notifyChannel),
      notifyObserver: notifierObserver(this.options.metrics),
      onSerial: publishedSerialObserver(this.options.metrics),
      logger: this.options.logger.child({ component: 'transfer' }),
    };
  }

  private buildServer(config: Config): ZoneServer {
    const keys = [...(config.transfer?.keys ?? []), ...(config.primaries?.key ? [config.primaries.key] : [])];
    return new (fleet().ZoneServer)({
      ...(this.hub ? { publisher: this.hub.publisher, acl: this.hub.acl, secondaries: this.hub.secondaries } : {}),
      ...(this.notifyReceiver ? { notifyReceiver: this.notifyReceiver } : {}),
      authenticate: fleet().tsigAuthenticator(keys),
      nsid: config.nsid,
      observer: zoneServerObserver(this.options.metrics),
      logger: this.options.logger.child({ component: 'transfer' }),
    });
  }
}
