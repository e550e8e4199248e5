import type { Registry } from 'prom-client';

/**
 * Counters and a histogram for the per-query path. prom-client hashes label sets on every
 * update (a few hundred ns, ~9% of a managed answer's CPU in bench/RESULTS.md); here a caller
 * binds a series once and each update is one addition. prom-client reads them at scrape time
 * through the same `get()` contract its own metrics implement.
 */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface CounterSeries {
  value: number;
}

export class FastCounter<L extends string> {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Record<L, string>; s: CounterSeries }>();

  constructor(readonly name: string, readonly help: string, private readonly labelNames: readonly L[], registry: Registry) {
    registry.registerMetric(this as never);
  }

  /** The series for these labels, created on first use; keep it and add to `.value`. */
  bind(labels: Record<L, string>): CounterSeries {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, s: { value: 0 } };
      this.series.set(key, entry);
    }
    return entry.s;
  }

  /** Convenience for cold paths and tests. */
  inc(labels: Record<L, string>, by = 1): void {
    this.bind(labels).value += by;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: ExportedValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.series.values()].map((e) => ({ labels: e.labels, value: e.s.value })) };
  }

  reset(): void {
    this.series.clear();
  }
}

export interface HistogramSeries {
  observe(value: number): void;
  /**
   * observe(micros / 1e6) for a whole number of microseconds: a small integer crosses calls
   * without being boxed, so the per-query path observes durations without allocating.
   */
  observeMicros(micros: number): void;
}

class HistogramData implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly upperBounds: Float64Array) {
    this.counts = new Float64Array(upperBounds.length);
  }

  observeMicros(micros: number): void {
    const b = this.upperBounds;
    let i = 0;
    while (i < b.length && micros > b[i] * 1e6) i++;
    if (i < b.length) this.counts[i]++;
    this.sum += micros / 1e6;
    this.count++;
  }

  observe(value: number): void {
    const b = this.upperBounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    if (i < b.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly series = new Map<string, { labels: Record<L, string>; d: HistogramData }>();

  constructor(readonly name: string, readonly help: string, private readonly labelNames: readonly L[], buckets: readonly number[], registry: Registry) {
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
    registry.registerMetric(this as never);
  }

  bind(labels: Record<L, string>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, d: new HistogramData(this.bounds) };
      this.series.set(key, entry);
    }
    return entry.d;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: ExportedValue[] } {
    const values: ExportedValue[] = [];
    for (const { labels, d } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += d.counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: d.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: d.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: d.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
