import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import { type Metrics, probeObserver } from '../metrics';
import { buildTableInputs } from '../privatelink/table-builder';
import { staticEntryState, type SyncState } from '../privatelink/model';
import { Prober, type ProbeStatus } from '../probe/prober';
import { probeConfigKey, probeSettingsFor, zonesByIp } from '../probe/probe-settings';
import type { Resolver, ResolverOptions } from '../resolve/resolver';
import { AnswerTable, type TableEntryInput } from '../resolve/table';
import { describeError } from '../errors';
import { DEFAULT_SLICER, type SliceBudget, type Sliced, type Slicer } from '../runtime/slices';
import type { SourceListener, SourceUpdate } from './table-source';

export interface TableComposerOptions {
  readonly config: Config;
  readonly resolver: Resolver;
  /** The resolver's options for a config, minus the answer TTL (the composer decides that). */
  readonly resolverOptions: (config: Config) => ResolverOptions;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Builds large tables a slice per turn (queries are answered meanwhile); DEFAULT_SLICER unless given. */
  readonly slicer?: Slicer;
}

/**
 * What is done to every table source's output before it is answered: the instance's own static
 * entries merged in, the reachability probes' filter, the answer TTL,
 * a new table version, and the cache started afresh when names are added. Updates are passed on
 * to subscribers (the hub publishes them) once their table answers.
 *
 * A table is built a slice per turn of the event loop (a zone at primaries.max_records is tens of
 * thousands of entries) and swapped in whole at the end; the old one answers until then. A table
 * that fits in one slice is in place before the call that asked for it returns. When a newer
 * build starts before an older one is done, only the newer one is swapped in.
 */
export class TableComposer {
  private config: Config;
  private readonly resolver: Resolver;
  private update: SourceUpdate = { inputs: [] };
  /** The update whose table answers (its TTL is the answers'), and the last one given to subscribers. */
  private answering: SourceUpdate = this.update;
  private published: SourceUpdate | undefined;
  private version = 0;
  /** The build that may swap its table in: the latest one started. */
  private latestBuild = 0;
  private prober: Prober | undefined;
  private zones: { state: SyncState | undefined; byIp: Map<string, string> } = { state: undefined, byIp: new Map() };
  private readonly subscribers: SourceListener[] = [];

  constructor(private readonly options: TableComposerOptions) {
    this.config = options.config;
    this.resolver = options.resolver;
    this.prober = this.buildProber(this.config);
  }

  get table(): AnswerTable {
    return this.resolver.currentTable;
  }

  subscribe(listener: SourceListener): void {
    this.subscribers.push(listener);
  }

  /**
   * The source's listener: every update becomes a new table, then goes to the subscribers. Settles
   * once that table (or a newer one) answers; never rejects (a failed build is logged, the old
   * table stays).
   */
  readonly sourceUpdated = (update: SourceUpdate): Promise<void> => {
    this.update = update;
    return this.compose();
  };

  startProbes(): void {
    this.prober?.start();
  }

  /**
   * A reloaded config: static entries, records and probe settings apply at once. Probe results
   * start over when probe settings change (an IP counts as reachable until they say otherwise).
   */
  reconfigure(config: Config): void {
    const prev = this.config;
    this.config = config;
    this.resolver.reconfigure(this.resolverOptions());
    if (probeConfigKey(prev.records) !== probeConfigKey(config.records)) {
      this.prober?.stop();
      this.prober = this.buildProber(config);
      this.prober?.start();
    }
    void this.compose();
  }

  probeStatus(): ProbeStatus | undefined {
    return this.prober?.status();
  }

  stop(): void {
    this.prober?.stop();
  }

  private resolverOptions(): ResolverOptions {
    const options = this.options.resolverOptions(this.config);
    const ttl = this.answering.ttlS;
    return ttl === undefined ? options : { ...options, records: { ...options.records, ttl } };
  }

  /**
   * The source's inputs with this instance's static entries: a static entry the source already
   * carries (a sync state holds them too) takes the config's current value in place; the others
   * come last, so they win over a received zone's name (the table keeps the last writer).
   */
  private *inputs(update: SourceUpdate, budget: SliceBudget): Sliced<TableEntryInput[]> {
    const states = this.config.records.entries.flatMap((e) => (e.kind === 'static' ? [staticEntryState(e)] : []));
    const own = new Map(buildTableInputs(states, []).inputs.map((i) => [i.id, i]));
    const out: TableEntryInput[] = [];
    for (const i of update.inputs) {
      const mine = own.get(i.id);
      if (mine) own.delete(i.id);
      // The source's own object when it already says the same (its lists are the config's): the
      // table then holds the source's inputs, not a second object per static entry.
      out.push(mine && !sameInput(mine, i) ? mine : i);
      if (budget.spend()) yield;
    }
    return [...out, ...own.values()];
  }

  /** Builds the table of the current update and config, and swaps it in unless a newer build started meanwhile. */
  private compose(): Promise<void> {
    const build = ++this.latestBuild;
    return this.slicer.run((budget) => this.composeInSlices(build, budget)).catch((err) => {
      this.options.logger.error({ err: describeError(err) }, 'could not build the answer table; the previous one answers');
    });
  }

  private *composeInSlices(build: number, budget: SliceBudget): Sliced<void> {
    const update = this.update;
    const base = yield* this.inputs(update, budget);
    this.version++;
    const next = yield* AnswerTable.buildInSlices(this.prober ? this.prober.apply(base) : base, this.version, budget);
    if (build !== this.latestBuild) return;
    const previous = this.resolver.currentTable;
    // Forwarded answers cached before a name became managed may hold its public address at the
    // end of a CNAME chain: start the cache afresh (names are added rarely; syncs mostly change IPs).
    const addsNames = yield* next.addsNamesInSlices(previous, budget);
    if (build !== this.latestBuild) return;
    // From here to the end in one turn: the answers, their TTL and the subscribers move together.
    const ttlChanged = update.ttlS !== this.answering.ttlS;
    this.answering = update;
    if (ttlChanged) this.resolver.reconfigure(this.resolverOptions());
    if (addsNames) this.resolver.clearCache();
    this.resolver.setTable(next);
    if (this.published !== update) {
      this.published = update;
      for (const s of this.subscribers) s(update);
    }
  }

  private get slicer(): Slicer {
    return this.options.slicer ?? DEFAULT_SLICER;
  }

  /** Probes run on every instance for its own answers; a hub still publishes every IP (it publishes the sync state). */
  private buildProber(config: Config): Prober | undefined {
    const probe = config.records.probe;
    if (!probe) return undefined;
    return new Prober({
      config: probe,
      settingsFor: probeSettingsFor(config.records),
      table: () => this.table,
      onChange: () => void this.compose(),
      observer: probeObserver(this.options.metrics),
      logger: this.options.logger.child({ component: 'probe' }),
      zoneOf: (ip) => {
        const state = this.update.syncState;
        if (this.zones.state !== state) this.zones = { state, byIp: zonesByIp(state) };
        return this.zones.byIp.get(ip);
      },
    });
  }
}

/** Whether two inputs answer the same, judged by the identity of their lists (no element compared). */
function sameInput(a: TableEntryInput, b: TableEntryInput): boolean {
  return a.names === b.names && a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6 && a.unavailable === b.unavailable && a.fallback === b.fallback;
}
