import t from 'tap';
import { Registry } from 'prom-client';
import { registerProcessMetrics } from '../../src/metrics/process-metrics';

/** The standard process_* and nodejs_* metrics, ours: the names stock dashboards read, with live values. */

async function scrape(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of m.values) {
      const labels = Object.entries(v.labels).filter(([k]) => k !== 'le').map(([k, x]) => `${k}=${x}`).join(',');
      const name = (v as { metricName?: string }).metricName ?? m.name;
      if (!out.has(`${name}{${labels}}`) || name.endsWith('_count')) out.set(`${name}{${labels}}`, v.value);
    }
  }
  return out;
}

t.test('names, types and values', async (t) => {
  const registry = new Registry();
  const stop = registerProcessMetrics(registry);
  t.teardown(stop);
  const types = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, m.type]));
  for (const [name, type] of [
    ['process_cpu_user_seconds_total', 'counter'], ['process_cpu_system_seconds_total', 'counter'], ['process_cpu_seconds_total', 'counter'],
    ['process_start_time_seconds', 'gauge'], ['process_resident_memory_bytes', 'gauge'], ['process_virtual_memory_bytes', 'gauge'], ['process_heap_bytes', 'gauge'],
    ['process_open_fds', 'gauge'], ['process_max_fds', 'gauge'], ['nodejs_eventloop_lag_seconds', 'gauge'],
    ['nodejs_active_handles', 'gauge'], ['nodejs_active_handles_total', 'gauge'], ['nodejs_active_requests_total', 'gauge'], ['nodejs_active_resources_total', 'gauge'],
    ['nodejs_heap_size_total_bytes', 'gauge'], ['nodejs_heap_size_used_bytes', 'gauge'], ['nodejs_external_memory_bytes', 'gauge'],
    ['nodejs_heap_space_size_used_bytes', 'gauge'], ['nodejs_version_info', 'gauge'], ['nodejs_gc_duration_seconds', 'histogram'],
  ] as const) t.equal(types.get(name), type, `${name} is a ${type}`);

  const first = await scrape(registry);
  const rss = first.get('process_resident_memory_bytes{}') ?? 0;
  const real = process.memoryUsage.rss();
  t.ok(rss > real / 2 && rss < real * 2, `resident memory read as the process's (${rss} vs ${real})`);
  t.ok((first.get('nodejs_heap_size_used_bytes{}') ?? 0) > 1e6, 'heap used is read');
  t.ok((first.get('nodejs_heap_space_size_used_bytes{space=old}') ?? 0) > 0, 'heap spaces by name, without the _space suffix');
  t.ok((first.get('process_open_fds{}') ?? 0) > 2, 'open fds');
  t.ok(Math.abs((first.get('process_start_time_seconds{}') ?? 0) - (Date.now() / 1000 - process.uptime())) < 2, 'start time');
  t.equal(first.get(`nodejs_version_info{version=${process.version},major=${process.versions.node.split('.')[0]},minor=${process.versions.node.split('.')[1]},patch=${process.versions.node.split('.')[2]}}`), 1, 'version info');

  // 100 ms of this process's CPU time (not wall time: a busy machine gives it less), and young-generation collections.
  const cpuAtStart = process.cpuUsage();
  const giveUp = Date.now() + 20_000;
  let junk: unknown[] = [];
  const used = (): number => { const u = process.cpuUsage(cpuAtStart); return u.user + u.system; };
  while (used() < 100_000 && Date.now() < giveUp) junk = Array.from({ length: 1000 }, (_, i) => ({ i }));
  t.ok(junk.length > 0);
  await new Promise((r) => setTimeout(r, 50)); // gc entries arrive on a later turn
  const second = await scrape(registry);
  const cpu = (m: Map<string, number>): number => m.get('process_cpu_seconds_total{}') ?? 0;
  t.ok(cpu(second) - cpu(first) >= 0.05, `CPU seconds grow with the work done (${cpu(first)} → ${cpu(second)})`);
  t.ok(Math.abs(cpu(second) - (second.get('process_cpu_user_seconds_total{}') ?? 0) - (second.get('process_cpu_system_seconds_total{}') ?? 0)) < 1e-6, 'total = user + system');
  t.ok((second.get('nodejs_gc_duration_seconds_count{kind=minor}') ?? 0) > 0, 'collections are counted by kind');
});
