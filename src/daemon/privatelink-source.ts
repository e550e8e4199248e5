import type { Config } from '../config/schema';
import { describeError } from '../errors';
import type { Logger } from '../runtime/log';
import { type Metrics, snapshotObserver, syncObserver } from '../metrics';
import { Syncer } from '../privatelink/sync';
import { SnapshotStore } from '../privatelink/snapshot';
import { ApiClientProvider } from '../privatelink/api-provider';
import type { SyncState } from '../privatelink/model';
import { syncNotReadyReasons, syncStatus } from '../privatelink/sync-status';
import type { AnswerTable, TableEntryInput } from '../resolve/table';
import type { SourceListener, TableSource } from './table-source';

/**
 * With a table from the snapshot, the first sync waits this long: it loads the cloud SDK (~80 ms
 * of blocked event loop), and the queries of a fresh start are answered from the snapshot first.
 * Without a snapshot the first sync starts at once: there is nothing else to answer with.
 */
const FIRST_SYNC_AFTER_SNAPSHOT_MS = 250;

export interface PrivateLinkSourceOptions {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly onUpdate: SourceListener;
}

const hasCloudEntries = (config: Config): boolean => config.records.entries.some((e) => e.kind !== 'static');

/**
 * The table from the PrivateLink API: the last good state from the snapshot at start, then a sync
 * on the configured schedule; every new state is saved back to the snapshot. A config with static
 * entries only has nothing to fetch: no sync, no schedule, until a reload adds cloud entries.
 */
export class PrivateLinkSource implements TableSource {
  readonly name = 'privatelink';
  private config: Config;
  private readonly apiClients: ApiClientProvider;
  private readonly snapshots: SnapshotStore | undefined;
  private syncer: Syncer | undefined;
  private state: SyncState | undefined;
  private fromSnapshot = false;
  private started = false;
  private firstSync: NodeJS.Timeout | undefined;

  constructor(private readonly options: PrivateLinkSourceOptions) {
    this.config = options.config;
    this.apiClients = new ApiClientProvider(this.config, options.logger);
    const dir = this.config.stateDir;
    this.snapshots = dir ? new SnapshotStore({ dir, observer: snapshotObserver(options.metrics), logger: options.logger.child({ component: 'snapshot' }) }) : undefined;
  }

  get syncState(): SyncState | undefined {
    return this.state;
  }

  async init(): Promise<void> {
    let initial: SyncState | undefined;
    if (this.snapshots) {
      try {
        initial = await this.snapshots.load(this.config.records.entries);
        this.fromSnapshot = initial !== undefined;
        if (initial) this.options.logger.info({ dir: this.config.stateDir, entries: initial.entries.length }, 'loaded the last good table from the snapshot');
      } catch (err) {
        this.options.logger.warn({ err: describeError(err) }, 'ignoring the snapshot');
      }
    }
    const syncer = new Syncer({
      api: this.apiClients.provide,
      config: this.config,
      observer: syncObserver(this.options.metrics),
      logger: this.options.logger,
      initialState: initial,
      onState: (state, inputs) => this.onState(state, inputs),
    });
    this.syncer = syncer;
    const { state, inputs } = syncer.current();
    // The snapshot's table answers before the listeners open, however large it is.
    await this.onState(state, inputs);
  }

  start(): void {
    if (this.started || !this.syncer || !hasCloudEntries(this.config)) return;
    this.started = true;
    const syncer = this.syncer;
    if (!this.fromSnapshot) {
      syncer.start();
      return;
    }
    this.firstSync = setTimeout(() => {
      this.firstSync = undefined;
      syncer.start();
    }, FIRST_SYNC_AFTER_SNAPSHOT_MS);
  }

  refetch(): void {
    if (!this.started || !this.syncer) return;
    this.options.logger.info('SIGUSR2: syncing now');
    this.syncer.syncOnce().catch(() => undefined);
  }

  reconfigure(config: Config): void {
    this.config = config;
    this.apiClients.reconfigure(config);
    this.syncer?.reconfigure(config, { api: this.apiClients.provide });
    // Only static entries before: the schedule starts now (it stays off without cloud entries).
    this.start();
  }

  private onState(state: SyncState, inputs: readonly TableEntryInput[]): void | Promise<void> {
    this.state = state;
    const answering = this.options.onUpdate({ inputs, syncState: state });
    // The store logs the first failure and the recovery; later failures only count.
    this.snapshots?.save(state).catch(() => undefined);
    return answering;
  }

  notReadyReasons(nowMs: number, table: AnswerTable): string[] {
    return this.state ? syncNotReadyReasons(this.state, table, this.config, nowMs) : [];
  }

  dataAgeS(nowMs: number): number {
    const times = (this.state?.entries ?? []).flatMap((e) => (e.kind !== 'static' && e.fetchedAtMs !== undefined ? [e.fetchedAtMs] : []));
    return times.length === 0 ? 0 : Math.max(0, (nowMs - Math.min(...times)) / 1000);
  }

  status(nowMs: number, table: AnswerTable): Record<string, unknown> {
    const syncer = this.started ? this.syncer : undefined;
    return syncStatus({ state: this.state, table, config: this.config, nowMs, backoff: syncer?.backoff(), apiCalls: syncer?.apiCalls() });
  }

  async stop(): Promise<void> {
    clearTimeout(this.firstSync);
    await this.syncer?.stop();
    this.apiClients.close();
  }
}
