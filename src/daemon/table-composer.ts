import type { Config } from '../config/schema';
import type { Logger } from '../runtime/log';
import { type Metrics, probeObserver } from '../metrics';
import { buildTableInputs } from '../privatelink/table-builder';
import { staticEntryState, type SyncState } from '../privatelink/model';
import { Prober, type ProbeStatus } from '../probe/prober';
import { probeConfigKey, probeSettingsFor, zonesByIp } from '../probe/probe-settings';
import type { Resolver, ResolverOptions } from '../resolve/resolver';
import { AnswerTable, type TableEntryInput } from '../resolve/table';
import type { SourceListener, SourceUpdate } from './table-source';

export interface TableComposerOptions {
  readonly config: Config;
  readonly resolver: Resolver;
  /** The resolver's options for a config, minus the answer TTL (the composer decides that). */
  readonly resolverOptions: (config: Config) => ResolverOptions;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * What is done to every table source's output before it is answered: the instance's own static
 * entries merged in, the reachability probes' filter, the answer TTL,
 * a new table version, and the cache started afresh when names are added. Updates are passed on
 * to subscribers (the hub publishes them).
 */
export class TableComposer {
  private config: Config;
  private readonly resolver: Resolver;
  private update: SourceUpdate = { inputs: [] };
  private version = 0;
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

  /** The source's listener: every update becomes a new table, then goes to the subscribers. */
  readonly sourceUpdated = (update: SourceUpdate): void => {
    const ttlChanged = update.ttlS !== this.update.ttlS;
    this.update = update;
    if (ttlChanged) this.resolver.reconfigure(this.resolverOptions());
    this.compose();
    for (const s of this.subscribers) s(update);
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
    this.compose();
  }

  probeStatus(): ProbeStatus | undefined {
    return this.prober?.status();
  }

  stop(): void {
    this.prober?.stop();
  }

  private resolverOptions(): ResolverOptions {
    const options = this.options.resolverOptions(this.config);
    const ttl = this.update.ttlS;
    return ttl === undefined ? options : { ...options, records: { ...options.records, ttl } };
  }

  /**
   * The source's inputs with this instance's static entries: a static entry the source already
   * carries (a sync state holds them too) takes the config's current value in place; the others
   * come last, so they win over a received zone's name (the table keeps the last writer).
   */
  private inputs(): TableEntryInput[] {
    const states = this.config.records.entries.flatMap((e) => (e.kind === 'static' ? [staticEntryState(e)] : []));
    const own = new Map(buildTableInputs(states, []).inputs.map((i) => [i.id, i]));
    const out = this.update.inputs.map((i) => {
      const mine = own.get(i.id);
      if (!mine) return i;
      own.delete(i.id);
      return mine;
    });
    return [...out, ...own.values()];
  }

  private compose(): void {
    const base = this.inputs();
    this.version++;
    const next = AnswerTable.build(this.prober ? this.prober.apply(base) : base, this.version);
    // Forwarded answers cached before a name became managed may hold its public address at the
    // end of a CNAME chain: start the cache afresh (names are added rarely; syncs mostly change IPs).
    if (next.addsNamesTo(this.resolver.currentTable)) this.resolver.clearCache();
    this.resolver.setTable(next);
  }

  /** Probes run on every instance for its own answers; a hub still publishes every IP (it publishes the sync state). */
  private buildProber(config: Config): Prober | undefined {
    const probe = config.records.probe;
    if (!probe) return undefined;
    return new Prober({
      config: probe,
      settingsFor: probeSettingsFor(config.records),
      table: () => this.table,
      onChange: () => this.compose(),
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
