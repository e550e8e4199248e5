import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from './prom';

/** How often the loop is sampled while it is watched. Sparse on purpose: each sample wakes the daemon. */
const EVENT_LOOP_SAMPLE_MS = 100;
/**
 * The sampler runs while someone reads it: it starts at a scrape and stops when no scrape came
 * for this long (five times Prometheus's default interval of a minute), so an unwatched daemon
 * is not woken ten times a second for a histogram nobody reads.
 */
export const WATCHED_FOR_MS = 5 * 60_000;

/**
 * Event-loop delay: how late a timer due now runs, which is what a query arriving now waits
 * before its callback runs. Node's histogram records the whole interval between samples (delay
 * plus the `resolution` itself: an idle loop shows the resolution, 10 ms by default), so the
 * resolution is subtracted here. One histogram feeds our quantile gauge and, with `standardNames`,
 * the `nodejs_eventloop_lag_*_seconds` gauges stock Node.js dashboards read; it is reset at each
 * scrape (Node then drops the first interval after a reset: one sample per scrape).
 *
 * The sampler is off until the first scrape and goes off again WATCHED_FOR_MS after the last one
 * (a scrape after such a pause reads zeros: no samples). One timer, re-armed at each scrape,
 * turns it off; an idle daemon nobody scrapes has no timer of this class at all.
 *
 * Without `sample` (unit tests that build many registries) the gauge exists and is left alone.
 */
export class EventLoopDelay {
  /** privatelink_dns_event_loop_delay_seconds{quantile="0.5"|"0.99"|"1"}. */
  readonly gauge: Gauge<'quantile'>;
  private readonly histogram: IntervalHistogram | undefined;
  private readonly resolutionNs: number;
  private readonly registry: Registry;
  private readonly standard = new Map<string, Gauge>();
  private readonly stats: readonly string[];
  private readonly watchedForMs: number;
  private unwatch: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(registry: Registry, options: { sample: boolean; standardNames: boolean; resolutionMs?: number; watchedForMs?: number }) {
    const resolutionMs = options.resolutionMs ?? EVENT_LOOP_SAMPLE_MS;
    this.resolutionNs = resolutionMs * 1e6;
    this.registry = registry;
    this.watchedForMs = options.watchedForMs ?? WATCHED_FOR_MS;
    if (options.sample) this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    const h = this.histogram;
    const delaySeconds = (ns: number): number => Math.max(0, ns - this.resolutionNs) / 1e9;
    const read: Record<string, (h: IntervalHistogram) => number> = {
      min: (h) => delaySeconds(h.min),
      max: (h) => delaySeconds(h.max),
      mean: (h) => delaySeconds(h.mean),
      stddev: (h) => (Number.isFinite(h.stddev) ? h.stddev / 1e9 : 0),
      p50: (h) => delaySeconds(h.percentile(50)),
      p90: (h) => delaySeconds(h.percentile(90)),
      p99: (h) => delaySeconds(h.percentile(99)),
    };
    this.stats = Object.keys(read);
    const standard = this.standard;
    // This gauge is registered first and collects for all: a scrape reads metrics in registration order.
    const collect = (): void => {
      // No sample since the last scrape: zeros, not minus the resolution.
      const value = (stat: string): number => (h && h.count > 0 ? (read[stat] as (h: IntervalHistogram) => number)(h) : 0);
      for (const [stat, gauge] of standard) gauge.set(value(stat));
      this.gauge.set({ quantile: '0.5' }, value('p50'));
      this.gauge.set({ quantile: '0.99' }, value('p99'));
      this.gauge.set({ quantile: '1' }, value('max'));
      h?.reset();
      this.watched();
    };
    this.gauge = new Gauge({
      name: 'privatelink_dns_event_loop_delay_seconds',
      help: `Event-loop delay over the last scrape interval: how late a timer ran (sampled every ${resolutionMs} ms, the interval itself not counted)`,
      labelNames: ['quantile'] as const,
      registers: [registry],
      ...(h ? { collect } : {}),
    });
    if (options.standardNames) this.replaceStandardNames();
  }

  /**
   * Puts our gauges in place of prom-client's `nodejs_eventloop_lag_*_seconds`: after its default
   * metrics are registered (they are replaced), or alone.
   */
  replaceStandardNames(): void {
    for (const stat of this.stats) {
      const name = `nodejs_eventloop_lag_${stat}_seconds`;
      this.registry.removeSingleMetric(name);
      this.standard.set(stat, new Gauge({ name, help: `Event-loop delay since the previous scrape, ${stat} (sampling interval excluded)`, registers: [this.registry] }));
    }
  }

  /** Whether the sampler's timer is running (it is only while scrapes come). */
  get isSampling(): boolean {
    return this.sampling;
  }

  /** A scrape: sample (again) from now, until WATCHED_FOR_MS pass without another. */
  private watched(): void {
    if (!this.histogram) return;
    if (!this.sampling) {
      this.histogram.enable();
      this.sampling = true;
    }
    if (this.unwatch) this.unwatch.refresh();
    else {
      this.unwatch = setTimeout(() => this.stopSampling(), this.watchedForMs);
      this.unwatch.unref();
    }
  }

  private stopSampling(): void {
    this.histogram?.disable();
    this.histogram?.reset();
    this.sampling = false;
    this.unwatch = undefined;
  }

  close(): void {
    if (this.unwatch) clearTimeout(this.unwatch);
    this.stopSampling();
  }
}
