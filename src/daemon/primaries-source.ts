import type { Config, PrimariesConfig } from '../config/schema';
import type { Logger } from '../runtime/log';
import { type Metrics, secondaryObserver } from '../metrics';
import type { Secondary } from '../fleet/secondary/secondary';
import type { NotifyReceiver } from '../fleet/primary/zone-server';
import { fleet } from './fleet-modules';
import type { SourceListener, TableSource } from './table-source';

export interface PrimariesSourceOptions {
  readonly config: Config;
  readonly primaries: PrimariesConfig;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly onUpdate: SourceListener;
}

/**
 * The table from fleet primaries (an edge): the saved zone at start, then SOA checks and transfers
 * from the hubs. The edge answers with the TTL its hub published, so both give the same answers.
 */
export class PrimariesSource implements TableSource {
  readonly name = 'transfer';
  private readonly secondary: Secondary;

  constructor(options: PrimariesSourceOptions) {
    const dir = options.config.stateDir;
    const f = fleet();
    this.secondary = new f.Secondary({
      config: options.primaries,
      calls: f.xfrCalls,
      store: dir ? f.zoneStore(dir) : undefined,
      observer: secondaryObserver(options.metrics, options.primaries.zone),
      logger: options.logger.child({ component: 'secondary' }),
      onZone: (zone, table) => options.onUpdate({ inputs: table.inputs, ttlS: table.ttlS, zone }),
    });
    options.onUpdate({ inputs: [] });
  }

  get notifyReceiver(): NotifyReceiver {
    return this.secondary;
  }

  /** The saved zone is loaded and answered before the listeners open; the SOA checks start with it. */
  init(): Promise<void> {
    return this.secondary.start();
  }

  start(): void {}

  reconfigure(config: Config): void {
    if (config.primaries) this.secondary.reconfigure(config.primaries);
  }

  notReadyReasons(nowMs: number): string[] {
    return this.secondary.notReadyReasons(nowMs);
  }

  /** An edge has no sync: the sync fields are empty, its transfer state is under `transfer`. */
  status(): Record<string, unknown> {
    return { lastSync: null, lastSuccessfulSync: null, backoff: null, endpoints: [], transfer: this.secondary.status() };
  }

  stop(): Promise<void> {
    return this.secondary.stop();
  }
}
