import type { Config, PrimariesConfig } from '../config/schema';
import type { Logger } from '../runtime/log';
import { type Metrics, secondaryObserver } from '../metrics';
import type { Secondary } from '../fleet/secondary/secondary';
import type { NotifyReceiver } from '../fleet/primary/zone-server';
import type { TableEntryInput } from '../resolve/table';
import type { PolicyZone } from '../fleet/zone/policy-zone';
import { fleet } from './fleet-modules';
import type { SourceListener, TableSource } from './table-source';

/**
 * The placeholders that keep primaries.managed names from being forwarded while no zone covers
 * them: each name and everything below it, no address, SERVFAIL.
 */
function managedPlaceholders(managed: readonly string[]): TableEntryInput[] {
  return managed.map((m) => ({ id: `managed:${m}`, names: [m, `*.${m}`], ipv4: [], ipv6: [], unavailable: 'servfail' as const }));
}

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
 * Its own primaries.managed names are in the table from the start, answering SERVFAIL until a
 * zone covers them: an edge without a zone never forwards them (the upstream would give 100.x).
 */
export class PrimariesSource implements TableSource {
  readonly name = 'transfer';
  private readonly secondary: Secondary;
  private managed: readonly string[];
  private received: { inputs: readonly TableEntryInput[]; ttlS: number; zone: PolicyZone } | undefined;

  constructor(private readonly options: PrimariesSourceOptions) {
    this.managed = options.primaries.managed;
    const dir = options.config.stateDir;
    const f = fleet();
    this.secondary = new f.Secondary({
      config: options.primaries,
      calls: f.xfrCalls,
      store: dir ? f.zoneStore(dir) : undefined,
      observer: secondaryObserver(options.metrics, options.primaries.zone),
      logger: options.logger.child({ component: 'secondary' }),
      onZone: (zone, table) => {
        this.received = { inputs: table.inputs, ttlS: table.ttlS, zone };
        return this.emit();
      },
    });
    void this.emit();
  }

  /** The placeholders first: a zone's own name or wildcard for the same key replaces one (the table keeps the last). */
  private emit(): void | Promise<void> {
    const placeholders = managedPlaceholders(this.managed);
    const r = this.received;
    return this.options.onUpdate(r ? { inputs: [...placeholders, ...r.inputs], ttlS: r.ttlS, zone: r.zone } : { inputs: placeholders });
  }

  get notifyReceiver(): NotifyReceiver {
    return this.secondary;
  }

  /** The saved zone is loaded and answered before the listeners open; the SOA checks start with it. */
  init(): Promise<void> {
    return this.secondary.start();
  }

  start(): void {}

  refetch(): void {
    this.secondary.retransfer();
  }

  reconfigure(config: Config): void {
    if (!config.primaries) return;
    this.managed = config.primaries.managed;
    this.secondary.reconfigure(config.primaries);
    void this.emit();
  }

  notReadyReasons(nowMs: number): string[] {
    return this.secondary.notReadyReasons(nowMs);
  }

  dataAgeS(nowMs: number): number {
    const since = this.secondary.confirmedAtMs;
    return since === undefined ? 0 : Math.max(0, (nowMs - since) / 1000);
  }

  /** An edge has no sync: the sync fields are empty, its transfer state is under `transfer`. */
  status(): Record<string, unknown> {
    return { lastSync: null, lastSuccessfulSync: null, backoff: null, endpoints: [], transfer: this.secondary.status() };
  }

  stop(): Promise<void> {
    return this.secondary.stop();
  }
}
