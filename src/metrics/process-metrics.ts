import { readdirSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { onGc } from '../runtime/gc-observer';
import { Counter, Gauge, Histogram, type Registry } from './prom';

/**
 * The standard `process_*` and `nodejs_*` metrics, unprefixed so stock Node.js and process
 * dashboards work as they are: the names, types and labels prom-client's default metrics use,
 * computed here at scrape time. prom-client's own collectors load two dozen modules (and
 * OpenTelemetry's API, ~50 more: ~1 MB of heap an edge node keeps for nothing) and observe every
 * garbage collection with an observer of their own; these read /proc, process and node:v8 when
 * scraped, and the GC histogram shares the process's one observer (runtime/gc-observer.ts).
 * The event-loop gauges `nodejs_eventloop_lag_*_seconds` are EventLoopDelay's.
 */

const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];

/** Fields of /proc/self/status in bytes (kB there), undefined off Linux. */
function procStatus(): Map<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(Vm\w+):\s+(\d+) kB$/gm)) out.set(m[1], Number(m[2]) * 1024);
  return out;
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1; // less the one readdir itself opened
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Counts of what getActiveResourcesInfo() and friends list, by type. */
function countByType(names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of names) out.set(n, (out.get(n) ?? 0) + 1);
  return out;
}

interface NodeInternals {
  _getActiveHandles?: () => { constructor?: { name?: string } }[];
  _getActiveRequests?: () => { constructor?: { name?: string } }[];
}

/** Registers the standard metrics on `registry`; returns the stop (the GC listener). */
export function registerProcessMetrics(registry: Registry): () => void {
  const registers = [registry];
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  let cpuSeen = { user: 0, system: 0 };
  let cpuSystem: Counter | undefined;
  let cpuTotal: Counter | undefined;
  new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect() {
      const now = process.cpuUsage();
      const user = (now.user - cpuSeen.user) / 1e6;
      const system = (now.system - cpuSeen.system) / 1e6;
      cpuSeen = now;
      this.inc(user);
      cpuSystem?.inc(system);
      cpuTotal?.inc(user + system);
    },
  });
  cpuSystem = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  cpuTotal = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
  new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', registers, collect() { this.set(startSeconds); } });
  // The registry collects each metric as it renders it, in registration order: the first of a
  // group reads for the whole group, the others are set by then.
  let vsize: Gauge | undefined;
  let heap: Gauge | undefined;
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers,
    collect() {
      const s = procStatus();
      this.set(s?.get('VmRSS') ?? process.memoryUsage.rss());
      vsize?.set(s?.get('VmSize') ?? 0);
      heap?.set(s?.get('VmData') ?? 0);
    },
  });
  if (procStatus() !== undefined) {
    vsize = new Gauge({ name: 'process_virtual_memory_bytes', help: 'Virtual memory size in bytes.', registers });
    heap = new Gauge({ name: 'process_heap_bytes', help: 'Process heap size in bytes.', registers });
  }
  if (openFds() !== undefined) {
    new Gauge({ name: 'process_open_fds', help: 'Number of open file descriptors.', registers, collect() { this.set(openFds() ?? 0); } });
    const max = maxFds();
    if (max !== undefined) new Gauge({ name: 'process_max_fds', help: 'Maximum number of open file descriptors.', registers, collect() { this.set(max); } });
  }

  const internals = process as unknown as NodeInternals;
  const byConstructor = (list: { constructor?: { name?: string } }[] | undefined): string[] => (list ?? []).map((o) => o?.constructor?.name ?? 'unknown');
  const typed = (name: string, help: string, list: () => string[]): void => {
    const total = new Gauge({ name: `${name}_total`, help: `Total number of ${help}.`, registers });
    new Gauge({
      name,
      help: `Number of ${help}, grouped by type.`,
      labelNames: ['type'] as const,
      registers,
      collect() {
        const names = list();
        this.reset();
        for (const [type, n] of countByType(names)) this.set({ type }, n);
        total.set(names.length);
      },
    });
  };
  typed('nodejs_active_handles', 'active libuv handles', () => byConstructor(internals._getActiveHandles?.()));
  typed('nodejs_active_requests', 'active libuv requests', () => byConstructor(internals._getActiveRequests?.()));
  typed('nodejs_active_resources', 'active resources that are currently keeping the event loop alive', () => process.getActiveResourcesInfo());

  const spaceGauge = (what: string, help: string): Gauge<'space'> =>
    new Gauge({ name: `nodejs_heap_space_size_${what}_bytes`, help: `Process heap space size ${help} from Node.js in bytes.`, labelNames: ['space'] as const, registers });
  let heapUsed: Gauge | undefined;
  let external: Gauge | undefined;
  let spaces: { total: Gauge<'space'>; used: Gauge<'space'>; available: Gauge<'space'> } | undefined;
  new Gauge({
    name: 'nodejs_heap_size_total_bytes',
    help: 'Process heap size from Node.js in bytes.',
    registers,
    collect() {
      const h = getHeapStatistics();
      this.set(h.total_heap_size);
      heapUsed?.set(h.used_heap_size);
      external?.set(h.external_memory);
      for (const s of getHeapSpaceStatistics()) {
        const space = s.space_name.replace(/_space$/, '');
        spaces?.total.set({ space }, s.space_size);
        spaces?.used.set({ space }, s.space_used_size);
        spaces?.available.set({ space }, s.space_available_size);
      }
    },
  });
  heapUsed = new Gauge({ name: 'nodejs_heap_size_used_bytes', help: 'Process heap size used from Node.js in bytes.', registers });
  external = new Gauge({ name: 'nodejs_external_memory_bytes', help: 'Node.js external memory size in bytes.', registers });
  spaces = { total: spaceGauge('total', 'total'), used: spaceGauge('used', 'used'), available: spaceGauge('available', 'available') };

  new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds (one setImmediate at scrape time).',
    registers,
    async collect() {
      const start = process.hrtime.bigint();
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.set(Number(process.hrtime.bigint() - start) / 1e9);
    },
  });

  const [major, minor, patch] = process.version.slice(1).split('.');
  new Gauge({
    name: 'nodejs_version_info',
    help: 'Node.js version info.',
    labelNames: ['version', 'major', 'minor', 'patch'] as const,
    registers,
    collect() { this.set({ version: process.version, major, minor, patch }, 1); },
  });

  const gcDuration = new Histogram({ name: 'nodejs_gc_duration_seconds', help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.', labelNames: ['kind'] as const, buckets: GC_BUCKETS, registers });
  const byKind = new Map<string, ReturnType<typeof gcDuration.labels>>();
  return onGc((kind, seconds) => {
    let series = byKind.get(kind);
    if (series === undefined) {
      series = gcDuration.labels({ kind });
      byKind.set(kind, series);
    }
    series.observe(seconds);
  });
}
