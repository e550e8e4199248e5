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

t.test('process metrics carry the prefix and are described as groups', async (t) => {
  const all = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
  const own = new Set((await new Metrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
  const processNames = all.filter((n) => !own.has(n));
  t.ok(processNames.length > 0, 'process metrics are registered');
  t.same(processNames.filter((n) => !/^privatelink_dns_(process|nodejs)_/.test(n)), [], 'all under privatelink_dns_process_ or privatelink_dns_nodejs_');
  t.match(doc, '`privatelink_dns_process_*`');
  t.match(doc, '`privatelink_dns_nodejs_*`');
});
