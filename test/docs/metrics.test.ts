import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Metrics } from '../../src/metrics';

/** docs/metrics.md lists exactly the metrics `new Metrics()` registers, with their labels. */

const doc = readFileSync(resolve(__dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
const rows = new Map<string, { type: string; labels: string[] }>();
for (const line of doc.split('\n')) {
  const m = /^\| `(privatelink_dns_[a-z0-9_]+)` \| ([a-z]+) \| ([^|]*) \|/.exec(line);
  if (m) rows.set(m[1], { type: m[2], labels: m[3].trim() === '—' ? [] : m[3].split(',').map((s) => s.trim()) });
}

t.test('every own metric is documented with its type and labels, and nothing else', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const registered = await metrics.registry.getMetricsAsJSON();
  const names = registered.map((m) => m.name);
  t.same(names.filter((n) => !rows.has(n)), [], 'registered but not in docs/metrics.md');
  t.same([...rows.keys()].filter((n) => !names.includes(n)), [], 'in docs/metrics.md but not registered');
  for (const m of registered) {
    const row = rows.get(m.name);
    if (!row) continue;
    t.equal(row.type, m.type, `${m.name}: type`);
    const labels = (metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
    t.same(row.labels, labels, `${m.name}: labels`);
  }
});

t.test('process metrics are the standard unprefixed ones and are described as groups', async (t) => {
  const full = new Metrics();
  t.teardown(() => full.close());
  const all = (await full.registry.getMetricsAsJSON()).map((m) => m.name);
  const own = new Set((await new Metrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
  const processNames = all.filter((n) => !own.has(n));
  t.ok(processNames.length > 0, 'process metrics are registered');
  t.same(processNames.filter((n) => !/^(process|nodejs)_/.test(n)), [], 'all under process_ or nodejs_, as stock dashboards expect');
  for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) t.ok(all.includes(n), n);
  t.match(doc, '`process_*`');
  t.match(doc, '`nodejs_*`');
});

t.test('build info: one series with the version, value 1', async (t) => {
  const m = new Metrics({ processMetrics: false, version: '1.2.3' });
  const [series] = (await m.buildInfo.get()).values;
  t.same(series, { value: 1, labels: { version: '1.2.3', nodejs_version: process.version } });
});
