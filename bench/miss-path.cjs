// What one forwarded cache miss costs our process, without dnsperf or the client sockets: the
// edge pipeline (parse, admission, resolver, cache store) and the forwarder with its real
// upstream exchanges (the addon's sockets, or dgram with --dgram), against an upstream in a child
// process (so its CPU and heap are not counted). Closed loop, `--concurrency` misses out at once,
// every name asked once.
//
//   npm run build && node bench/miss-path.cjs [--misses 5000] [--concurrency 200] [--rounds 3] [--dgram] [--sites]
//
// (It restarts itself under --expose-gc and a fixed 128 MB young generation.) --sites: the
// allocation sites of the last round (V8's sampling heap profiler, collected objects included).
//
// Per round: JS heap bytes allocated per miss (heapUsed delta with no GC inside the window, which
// the large semi-space allows; the round says so when a GC did run), ArrayBuffer bytes per miss
// (Buffer pool and backing stores), CPU µs per miss (user + system of this process), scavenges
// in the window, and the number of timers alive in the middle of the window (active handles
// of type Timeout). Figures about memory and counts do not depend on machine load; CPU does.
const { fork, spawnSync } = require('node:child_process');
if (!process.execArgv.includes('--expose-gc')) {
  const flags = ['--expose-gc', '--min-semi-space-size=128', '--max-semi-space-size=128'];
  const r = spawnSync(process.execPath, [...flags, ...process.execArgv, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const inspector = require('node:inspector');
const { PerformanceObserver } = require('node:perf_hooks');
const pino = require('pino');
const { AnswerTable } = require('../dist/resolve/table');
const { Resolver } = require('../dist/resolve/resolver');
const { AnswerCache } = require('../dist/resolve/cache');
const { Metrics, forwarderObserver, resolverObserver, pipelineCounters } = require('../dist/metrics');
const { QueryPipeline } = require('../dist/server/pipeline');
const { UpstreamForwarder } = require('../dist/upstream/upstream-forwarder');
const { NativeUdpExchanger } = require('../dist/upstream/native-udp-exchanger');
const { dgramExchanger } = require('../dist/upstream/udp-exchange');
const { loadNativeAddon } = require('../dist/native/addon');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}
const MISSES = arg('misses', 5000);
const CONCURRENCY = arg('concurrency', 200);
const ROUNDS = arg('rounds', 3);
const useDgram = process.argv.includes('--dgram');

// The upstream: answers every A query with one A record (TTL 60), from a child process.
const UPSTREAM = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.on('message', (q, r) => {
  let off = 12; while (q[off] !== 0 && off < q.length) off += q[off] + 1; off += 5;
  const a = Buffer.alloc(off + 16); q.copy(a, 0, 0, off);
  a.writeUInt16BE(0x8180, 2); a.writeUInt16BE(1, 6); a.writeUInt16BE(0, 10);
  a.set([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1], off);
  s.send(a, r.port, r.address);
});
s.bind(0, '127.0.0.1', () => process.send(s.address().port));
process.on('disconnect', () => process.exit(0));
`;

function query(name, id) {
  const labels = name.split('.');
  const q = Buffer.alloc(12 + labels.reduce((n, l) => n + l.length + 1, 0) + 1 + 4 + 11);
  q.writeUInt16BE(id, 0);
  q.writeUInt16BE(0x0100, 2);
  q.writeUInt16BE(1, 4);
  q.writeUInt16BE(1, 10);
  let off = 12;
  for (const l of labels) {
    q[off++] = l.length;
    off += q.write(l, off, 'latin1');
  }
  q[off++] = 0;
  q.writeUInt16BE(1, off);
  q.writeUInt16BE(1, off + 2);
  off += 4;
  // OPT: root, type 41, 1232 bytes, no flags.
  q.set([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0], off);
  return q;
}

async function main() {
  const child = fork('-e', [UPSTREAM], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const upstreamPort = await new Promise((r) => child.once('message', r));
  const logger = pino({ level: 'silent' });
  const metrics = new Metrics({ processMetrics: false });
  const addon = useDgram ? undefined : loadNativeAddon();
  if (addon && !addon.ok) throw new Error(`addon: ${addon.reason}`);
  const udp = addon ? new NativeUdpExchanger(addon.binding) : dgramExchanger;
  const upstreamConfig = { servers: [{ host: '127.0.0.1', port: upstreamPort, family: 4 }], policy: 'sequential', maxFails: 3, timeoutMs: 2000, healthCheckIntervalMs: 5000 };
  const forwarder = new UpstreamForwarder(upstreamConfig, forwarderObserver(metrics), logger, 2000, udp);
  const cache = new AnswerCache({ size: 10000, maxTtlS: 86400, serveStaleMs: 0 });
  const table = AnswerTable.build([{ id: 'x', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], ipv4: ['192.168.1.1'], ipv6: [] }], 1);
  const resolver = new Resolver(table, { records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [] }, forwarder, cache, observer: resolverObserver(metrics), logger, logQueries: false });
  const pipeline = new QueryPipeline({ handler: resolver.handle, admit: () => 'pass' }, pipelineCounters(metrics), logger);
  const client = { address: '127.0.0.1', port: 5555 };

  let gcs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e.detail?.kind ?? e.kind) === 1) gcs++;
  }).observe({ entryTypes: ['gc'] });

  let serial = 0;
  /** `n` misses, `CONCURRENCY` out at once; resolves when all are answered. */
  function run(queries, onHalf) {
    return new Promise((resolve) => {
      let next = 0;
      let answered = 0;
      let failed = 0;
      const out = {
        send() {},
        hold() {
          return (bytes) => {
            if (!bytes || (bytes[3] & 15) !== 0) failed++;
            answered++;
            if (answered === queries.length >> 1 && onHalf) onHalf();
            if (answered === queries.length) resolve(failed);
            else if (next < queries.length) pipeline.serve(queries[next++], client, 'udp', out);
          };
        },
      };
      while (next < Math.min(CONCURRENCY, queries.length)) pipeline.serve(queries[next++], client, 'udp', out);
    });
  }
  const batch = (n) => Array.from({ length: n }, () => query(`r${serial++}q.miss.bench.example`, serial & 0xffff));

  await run(batch(Math.min(MISSES, 20000)));
  console.log(`engine ${udp.engine}, ${MISSES} misses per round, ${CONCURRENCY} out at once`);
  const sites = process.argv.includes('--sites');
  const session = sites ? new inspector.Session() : undefined;
  const post = (method, params) => new Promise((res, rej) => session.post(method, params, (err, v) => (err ? rej(err) : res(v))));
  if (session) session.connect();
  for (let r = 0; r < ROUNDS; r++) {
    const queries = batch(MISSES);
    const last = r === ROUNDS - 1;
    if (session && last) await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    cache.clear();
    global.gc?.();
    await new Promise((res) => setImmediate(res));
    gcs = 0;
    let timersMid = 0;
    const m0 = process.memoryUsage();
    const c0 = process.cpuUsage();
    const failed = await run(queries, () => {
      timersMid = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    });
    const c1 = process.cpuUsage(c0);
    const m1 = process.memoryUsage();
    if (session && last) printSites((await post('HeapProfiler.stopSampling')).profile);
    const gcsIn = gcs;
    const heap = (m1.heapUsed - m0.heapUsed) / MISSES;
    const ab = (m1.arrayBuffers - m0.arrayBuffers) / MISSES;
    const cpu = (c1.user + c1.system) / MISSES;
    console.log(
      `round ${r + 1}: heap ${heap.toFixed(0)} B/miss${gcsIn ? ` (UNDERSTATED: ${gcsIn} scavenges in the window)` : ''}, arrayBuffers ${ab.toFixed(0)} B/miss, ` +
        `CPU ${cpu.toFixed(1)} µs/miss (user ${(c1.user / MISSES).toFixed(1)}, sys ${(c1.system / MISSES).toFixed(1)}), timers alive mid-window ${timersMid}, failed ${failed}`,
    );
  }
  if (!global.gc) console.log('(run with --expose-gc --max-semi-space-size=128 for the heap figure)');
  forwarder.close();
  child.disconnect();
}

/** Self bytes per miss by function (and file:line), largest first. */
function printSites(profile) {
  const bySite = new Map();
  const walk = (node) => {
    const f = node.callFrame;
    const site = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  const rows = [...bySite].filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log('allocation sites (sampled, bytes per miss, self):');
  for (const [site, bytes] of rows) console.log(`  ${(bytes / MISSES).toFixed(0).padStart(6)}  ${site}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
