#!/usr/bin/env node
// Side-by-side DNS benchmark: privatelink-dns vs Unbound vs dnsmasq, driven by dnsperf.
// Everything runs on 127.0.0.1; every child process is killed on exit, error or signal.
// Usage: node bench/run.mjs [--quick] [--duration N] [--rounds N] [--clients C] [--outstanding Q]
//                           [--cases a,b,c,d] [--no-profile] [--no-write] [--keep] [--udp-io auto|batch|dgram]
//                           [--low-rate QPS] [--node-flags "FLAGS" (default --max-semi-space-size=4, as deployed)]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep, startProc as spawnLogged, stopChild } from './lib/children.mjs';
import { freePort, udpQuery, waitAnswering } from './lib/dns-probe.mjs';
import { commandLines, quantile, runDnsperf as dnsperfRun } from './lib/dnsperf.mjs';
import { parseArgs } from './lib/options.mjs';
import { cpuSeconds, readStatus, RssSampler } from './lib/proc-stats.mjs';
import { fmtInt, fmtMB, fmtMs, fmtPct, fmtRatio, mdTable, summariseProfile, textTable, toolVersion } from './lib/report-format.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

let OPT;
try {
  OPT = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exit(2);
}
/** The UDP engine privatelink-dns reported at start (listen.udp_io auto picks one). */
const ENGINE = { used: 'unknown' };

// ---------------------------------------------------------------- process bookkeeping
let WORK = null;

/** A child whose log goes to the work dir (and which runs there unless `cwd` says otherwise). */
function startProc(label, cmd, args, opts = {}) {
  return spawnLogged(label, cmd, args, { logDir: WORK, cwd: opts.cwd, env: opts.env });
}

/** dnsperf, killed if it overruns the longest run this bench asks of it. */
function runDnsperf(args, options = {}) {
  return dnsperfRun(args, { ...options, limitMs: (OPT.duration + OPT.latencyDuration + 30) * 1000 });
}

function cleanupWork() {
  if (WORK && !OPT.keep) {
    try { fs.rmSync(WORK, { recursive: true, force: true }); } catch { /* ignore */ }
  }
}
process.on('exit', () => { killAll(); cleanupWork(); });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, stopping all servers`);
    killAll();
    cleanupWork();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- data
const REGION = 'cn-hangzhou';
// Managed names: exact names (several IPs) and an OSS wildcard.
const MANAGED = [
  { name: `cs-anony-vpc.${REGION}.aliyuncs.com`, ips: ['10.8.0.11', '10.8.1.11', '10.8.2.11'] },
  { name: `registry-${REGION}-vpc.ack.aliyuncs.com`, ips: ['10.8.0.12', '10.8.1.12', '10.8.2.12'] },
  { name: `oss-${REGION}-internal.aliyuncs.com`, ips: ['10.8.0.13', '10.8.1.13'], wildcard: true },
  { name: `vpc-vpc.${REGION}.aliyuncs.com`, ips: ['10.8.0.14', '10.8.1.14'] },
  { name: `eci-vpc.${REGION}.aliyuncs.com`, ips: ['10.8.0.15', '10.8.1.15'] },
  { name: `acs-vpc.${REGION}.aliyuncs.com`, ips: ['10.8.0.16', '10.8.1.16'] },
  { name: `ecs-vpc.${REGION}.aliyuncs.com`, ips: ['10.8.0.17', '10.8.1.17'] },
  { name: `sts-vpc.${REGION}.aliyuncs.com`, ips: ['10.8.0.18', '10.8.1.18'] },
  { name: 'ntp.internal.example', ips: ['10.0.0.123'] },
];
const MANAGED_QUERIES = [
  ...MANAGED.map((m) => m.name),
  `aliacs-k8s-${REGION}.oss-${REGION}-internal.aliyuncs.com`,
  `bucket-logs.oss-${REGION}-internal.aliyuncs.com`,
  `bucket-images.oss-${REGION}-internal.aliyuncs.com`,
];
const ZONE = 'bench.example';
const ZONE_SIZE = 20000;
const CACHED_SET = 100;
const zoneName = (i) => `n${String(i).padStart(5, '0')}.${ZONE}`;
const zoneIp = (i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
// Cache-miss names live under a `redirect` local-zone of the upstream: every name below it gets an
// A record, so each query is a distinct, answerable (NOERROR) name no cache has seen.
const MISS_ZONE = `miss.${ZONE}`;

let missSeq = 0;
function writeMissFile(count) {
  const tag = `r${++missSeq}`;
  const file = path.join(WORK, `miss-${tag}.txt`);
  const fd = fs.openSync(file, 'w');
  const chunk = [];
  for (let i = 0; i < count; i++) {
    chunk.push(`${tag}q${i}.${MISS_ZONE} A\n`);
    if (chunk.length === 10000) { fs.writeSync(fd, chunk.join('')); chunk.length = 0; }
  }
  if (chunk.length) fs.writeSync(fd, chunk.join(''));
  fs.closeSync(fd);
  return file;
}

// ---------------------------------------------------------------- server configs
/** The `server:` lines every Unbound here shares: loopback, foreground, no files, iterator only. */
function unboundServerLines(port, threads) {
  return [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${port}`,
    '  do-daemonize: no', '  username: ""', '  chroot: ""', `  directory: "${WORK}"`, '  pidfile: ""',
    '  use-syslog: no', '  logfile: ""', '  verbosity: 0', '  do-ip6: no',
    `  num-threads: ${threads}`,
    '  access-control: 127.0.0.0/8 allow',
    '  module-config: "iterator"',
    '  so-rcvbuf: 4m', '  so-sndbuf: 4m',
  ];
}

function upstreamUnboundConf(port) {
  const lines = [
    ...unboundServerLines(port, 1),
    `  local-zone: "${ZONE}." static`,
    `  local-zone: "${MISS_ZONE}." redirect`,
    `  local-data: "${MISS_ZONE}. 3600 IN A 10.99.0.1"`,
  ];
  for (let i = 1; i <= ZONE_SIZE; i++) lines.push(`  local-data: "${zoneName(i)}. 3600 IN A ${zoneIp(i)}"`);
  lines.push('remote-control:', '  control-enable: no', '');
  return lines.join('\n');
}

const UNBOUND_THREADS = 2;
function unboundConf(port, upPort) {
  const lines = [
    ...unboundServerLines(port, UNBOUND_THREADS),
    '  msg-cache-size: 64m', '  rrset-cache-size: 128m',
    '  msg-cache-slabs: 2', '  rrset-cache-slabs: 2', '  infra-cache-slabs: 2', '  key-cache-slabs: 2',
    '  outgoing-range: 4096', '  num-queries-per-thread: 2048',
    '  do-not-query-localhost: no',
  ];
  for (const m of MANAGED) {
    lines.push(`  local-zone: "${m.name}." ${m.wildcard ? 'redirect' : 'static'}`);
    for (const ip of m.ips) lines.push(`  local-data: "${m.name}. 30 IN A ${ip}"`);
  }
  lines.push('forward-zone:', '  name: "."', `  forward-addr: 127.0.0.1@${upPort}`, 'remote-control:', '  control-enable: no', '');
  return lines.join('\n');
}

function dnsmasqArgs(port, upPort) {
  const a = ['-k', '--no-resolv', '--no-hosts', '--no-poll', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
    '--pid-file=', `--server=127.0.0.1#${upPort}`, '--cache-size=10000', '--dns-forward-max=2000', '--user=nobody'];
  for (const m of MANAGED) {
    // address= answers the name and every name below it; local= keeps other types (AAAA) from leaking upstream.
    for (const ip of m.ips) a.push(`--address=/${m.name}/${ip}`);
    a.push(`--local=/${m.name}/`);
  }
  return a;
}

function privatelinkConf(port, httpPort, upPort) {
  const entries = MANAGED.map((m) => {
    const names = m.wildcard ? [`"${m.name}"`, `"*.${m.name}"`] : [`"${m.name}"`];
    return `    - names: [${names.join(', ')}]\n      addresses: [${m.ips.map((i) => `"${i}"`).join(', ')}]`;
  });
  return [
    `region: ${REGION}`,
    'listen:',
    `  dns: ["127.0.0.1:${port}"]`,
    `  http: "127.0.0.1:${httpPort}"`,
    `  udp_io: ${OPT.udpIo}`,
    'access:',
    '  allow: ["127.0.0.0/8"]',
    '  rate_limit: false',
    'upstream:',
    `  servers: ["127.0.0.1:${upPort}"]`,
    '  timeout: 2s',
    'records:',
    '  ttl: 30',
    '  entries:',
    ...entries,
    'limits:',
    '  shutdown_grace: 0s',
    'state_dir: false',
    'log:',
    '  level: info',
    '',
  ].join('\n');
}

async function startPrivatelink(upPort, { cpuProfDir } = {}) {
  const port = await freePort();
  const httpPort = await freePort();
  const cfg = path.join(WORK, cpuProfDir ? 'privatelink-dns-prof.yaml' : 'privatelink-dns.yaml');
  fs.writeFileSync(cfg, privatelinkConf(port, httpPort, upPort));
  // As deployed (systemd unit, Dockerfile): a 4 MiB young generation keeps RSS down.
  const nodeArgs = [...OPT.nodeFlags, ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [])];
  const child = startProc(cpuProfDir ? 'privatelink-dns-prof' : 'privatelink-dns', process.execPath, [...nodeArgs, CLI, 'serve', '--config', cfg], { cwd: ROOT });
  await waitAnswering('privatelink-dns', child, port, MANAGED[0].name);
  // The daemon logs "privatelink-dns started" once listeners are bound; confirm it.
  const log = fs.readFileSync(child.logPath, 'utf8');
  if (!log.includes('privatelink-dns started')) console.error('bench: warning: privatelink-dns answered before logging "started"');
  const engine = /"udpIo":"(\w+)"/.exec(log)?.[1] ?? 'unknown';
  if (engine !== OPT.udpIo && OPT.udpIo !== 'auto') throw new Error(`privatelink-dns runs UDP on ${engine}, not ${OPT.udpIo}`);
  ENGINE.used = engine;
  return { id: 'pl', label: 'privatelink-dns', port, httpPort, child, config: cfg };
}

async function scrapeMetrics(httpPort) {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    const sum = (metric, filter = () => true) => {
      let t = 0;
      for (const line of text.split('\n')) {
        if (!line.startsWith(metric)) continue;
        const rest = line.slice(metric.length);
        if (rest[0] !== ' ' && rest[0] !== '{') continue;
        if (!filter(line)) continue;
        t += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
      }
      return t;
    };
    return {
      cacheHits: sum('privatelink_dns_cache_hits_total'),
      cacheMisses: sum('privatelink_dns_cache_misses_total'),
      forwarded: sum('privatelink_dns_requests_total', (l) => l.includes('source="forward"')),
      fromCache: sum('privatelink_dns_requests_total', (l) => l.includes('source="cache"')),
      upstream: sum('privatelink_dns_upstream_requests_total'),
    };
  } catch (e) {
    return { error: e.message };
  }
}

// ---------------------------------------------------------------- main
async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  for (const tool of ['dnsperf', 'unbound', 'dnsmasq']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
    if (r.status !== 0) throw new Error(`${tool} is not installed`);
  }
  WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-bench-'));
  const started = new Date();
  const loadStart = os.loadavg();
  const D = OPT.duration;
  const LD = OPT.latencyDuration;
  console.log(`bench: work dir ${WORK}; duration ${D}s × ${OPT.rounds} round(s); cases ${OPT.cases.join(',')}`);

  // query files
  const managedFile = path.join(WORK, 'managed.txt');
  fs.writeFileSync(managedFile, MANAGED_QUERIES.map((n) => `${n} A\n`).join(''));
  const cachedFile = path.join(WORK, 'cached.txt');
  const cachedNames = [];
  for (let i = 1; i <= CACHED_SET; i++) cachedNames.push(zoneName(Math.round((i * ZONE_SIZE) / CACHED_SET)));
  fs.writeFileSync(cachedFile, cachedNames.map((n) => `${n} A\n`).join(''));

  // upstream
  const upPort = await freePort();
  const upConf = path.join(WORK, 'upstream-unbound.conf');
  fs.writeFileSync(upConf, upstreamUnboundConf(upPort));
  const upstream = startProc('upstream-unbound', 'unbound', ['-d', '-c', upConf]);
  await waitAnswering('upstream unbound', upstream, upPort, zoneName(1), 30000);
  const probe = await udpQuery(upPort, `probe.${MISS_ZONE}`);
  if (!probe || probe.ancount < 1) throw new Error('upstream redirect zone does not answer');
  console.log(`bench: upstream unbound on 127.0.0.1:${upPort} (${ZONE_SIZE} names in ${ZONE}., redirect zone ${MISS_ZONE}.)`);

  // servers under test
  const pl = await startPrivatelink(upPort);
  const ubPort = await freePort();
  const ubConf = path.join(WORK, 'unbound.conf');
  fs.writeFileSync(ubConf, unboundConf(ubPort, upPort));
  const ubChild = startProc('unbound', 'unbound', ['-d', '-c', ubConf]);
  await waitAnswering('unbound', ubChild, ubPort, MANAGED[0].name);
  const ub = { id: 'ub', label: 'Unbound', port: ubPort, child: ubChild, config: ubConf };
  const dmPort = await freePort();
  const dmChild = startProc('dnsmasq', 'dnsmasq', dnsmasqArgs(dmPort, upPort));
  await waitAnswering('dnsmasq', dmChild, dmPort, MANAGED[0].name);
  const dm = { id: 'dm', label: 'dnsmasq', port: dmPort, child: dmChild };
  const servers = [pl, ub, dm];
  for (const s of servers) console.log(`bench: ${s.label} on 127.0.0.1:${s.port} (pid ${s.child.pid})`);

  // sanity: every server answers a managed wildcard name and a forwarded name
  for (const s of servers) {
    for (const n of [MANAGED_QUERIES[MANAGED_QUERIES.length - 1], zoneName(7), `sanity.${MISS_ZONE}`]) {
      const r = await udpQuery(s.port, n, 2000);
      if (r?.rcode !== 0 || r.ancount < 1) throw new Error(`${s.label} gave no answer for ${n}: ${JSON.stringify(r)}`);
    }
  }

  // warm-up (not measured): let V8 optimise the hot paths and every server settle
  const warmSecs = OPT.quick ? 1 : 3;
  for (const s of servers) {
    await runDnsperf(['-s', '127.0.0.1', '-p', String(s.port), '-d', managedFile, '-l', String(warmSecs), '-c', String(OPT.clients), '-q', String(OPT.outstanding), '-t', '2'], { describe: 'warm-up (not measured)' });
  }

  const sampler = new RssSampler(servers);
  const results = {}; // case -> server id -> { runs: [], latency }
  const caseInfo = {
    a: { title: '(a) managed names, UDP', file: () => managedFile, mode: 'udp' },
    b: { title: '(b) forwarded names, cached (100 names, warmed)', file: () => cachedFile, mode: 'udp' },
    c: { title: '(c) forwarded cache misses (unique names)', file: null, mode: 'udp' },
    d: { title: '(d) managed names, TCP', file: () => managedFile, mode: 'tcp' },
  };
  const missCountFor = (secs) => Math.ceil(70000 * secs);
  const metricsNotes = [];

  for (const c of OPT.cases) {
    const info = caseInfo[c];
    results[c] = {};
    for (const s of servers) results[c][s.id] = { runs: [] };
    console.log(`\nbench: case ${info.title}`);
    if (c === 'b') {
      // warm: every server resolves the cached set a few times at a modest rate
      for (const s of servers) {
        await runDnsperf(['-s', '127.0.0.1', '-p', String(s.port), '-d', cachedFile, '-n', '3', '-Q', '2000', '-c', '1', '-q', '50', '-l', '10'], { describe: 'warm (b)' });
      }
    }
    const metricsBefore = c === 'b' || c === 'c' ? await scrapeMetrics(pl.httpPort) : null;
    sampler.start(c);
    const tcp = info.mode === 'tcp';
    const conc = tcp ? ['-c', String(OPT.tcpClients), '-q', String(OPT.tcpOutstanding)] : ['-c', String(OPT.clients), '-q', String(OPT.outstanding)];
    for (let round = 1; round <= OPT.rounds; round++) {
      for (const s of servers) {
        const file = info.file ? info.file() : writeMissFile(missCountFor(D));
        const args = ['-s', '127.0.0.1', '-p', String(s.port), '-d', file, '-l', String(D), ...conc, '-t', '2'];
        if (c === 'c') args.push('-n', '1');
        if (tcp) args.push('-m', 'tcp');
        const cpu0 = cpuSeconds(s.child.pid);
        const r = await runDnsperf(args, { describe: `throughput (${c})` });
        r.serverCpuPct = (100 * (cpuSeconds(s.child.pid) - cpu0)) / r.runTime;
        if (c === 'c') fs.rmSync(file, { force: true });
        results[c][s.id].runs.push(r);
        console.log(`  round ${round} ${s.label.padEnd(15)} ${fmtInt(r.qps).padStart(8)} qps  lost ${fmtPct((100 * r.lost) / r.sent)}  avg ${fmtMs(r.avgLatency)} ms  server CPU ${r.serverCpuPct.toFixed(0)}%  [${r.rcodes}]`);
        await sleep(300);
      }
    }
    // latency pass: every server at the same fixed rate = 50% of privatelink-dns's measured max for this case
    const plRuns = results[c].pl.runs;
    const plMax = Math.max(...plRuns.map((r) => r.qps));
    const rate = Math.max(100, Math.round(plMax / 2));
    for (const s of servers) {
      const file = info.file ? info.file() : writeMissFile(Math.ceil(rate * LD * 1.1));
      const args = ['-s', '127.0.0.1', '-p', String(s.port), '-d', file, '-l', String(LD), ...conc, '-Q', String(rate), '-t', '2'];
      if (c === 'c') args.push('-n', '1');
      if (tcp) args.push('-m', 'tcp');
      const r = await runDnsperf(args, { verbose: true, describe: `latency at fixed rate (${c})` });
      if (c === 'c') fs.rmSync(file, { force: true });
      results[c][s.id].latency = { rate, ...r, p50: quantile(r.latencies, 0.5), p99: quantile(r.latencies, 0.99), p999: quantile(r.latencies, 0.999), n: r.latencies.length };
      delete results[c][s.id].latency.latencies;
      const L = results[c][s.id].latency;
      console.log(`  @${fmtInt(rate)} qps ${s.label.padEnd(15)} p50 ${fmtMs(L.p50)} ms  p99 ${fmtMs(L.p99)} ms  p99.9 ${fmtMs(L.p999)} ms  (achieved ${fmtInt(L.qps)} qps, lost ${fmtPct((100 * L.lost) / L.sent)})`);
      await sleep(300);
    }
    // a second fixed-rate pass at a modest load (an edge node's resolver is rarely near its maximum)
    if (c === 'a' || c === 'b') {
      for (const s of servers) {
        const args = ['-s', '127.0.0.1', '-p', String(s.port), '-d', info.file(), '-l', String(LD), ...conc, '-Q', String(OPT.lowRate), '-t', '2'];
        const r = await runDnsperf(args, { verbose: true, describe: `latency at low fixed rate (${c})` });
        results[c][s.id].latencyLow = { rate: OPT.lowRate, qps: r.qps, p50: quantile(r.latencies, 0.5), p99: quantile(r.latencies, 0.99), p999: quantile(r.latencies, 0.999), n: r.latencies.length };
        const L = results[c][s.id].latencyLow;
        console.log(`  @${fmtInt(OPT.lowRate)} qps ${s.label.padEnd(15)} p50 ${fmtMs(L.p50)} ms  p99 ${fmtMs(L.p99)} ms  p99.9 ${fmtMs(L.p999)} ms`);
        await sleep(300);
      }
    }
    sampler.stop();
    for (const s of servers) {
      results[c][s.id].peakRssKb = sampler.peak[`${c}|${s.id}`];
      results[c][s.id].peakAnonKb = sampler.peakAnon[`${c}|${s.id}`];
    }
    if (metricsBefore) {
      const after = await scrapeMetrics(pl.httpPort);
      if (!after.error && !metricsBefore.error) {
        const d = (k) => after[k] - metricsBefore[k];
        const note = `case (${c}): privatelink-dns /metrics deltas — cache hits ${fmtInt(d('cacheHits'))}, cache misses ${fmtInt(d('cacheMisses'))}, ` +
          `requests source=cache ${fmtInt(d('fromCache'))}, source=forward ${fmtInt(d('forwarded'))}, upstream requests ${fmtInt(d('upstream'))}`;
        metricsNotes.push(note);
        results[c].metricsDelta = { cacheHits: d('cacheHits'), fromCache: d('fromCache'), forwarded: d('forwarded'), upstream: d('upstream') };
        console.log(`  ${note}`);
      } else {
        metricsNotes.push(`case (${c}): /metrics scrape failed: ${after.error ?? metricsBefore.error}`);
      }
    }
  }

  const finalHwm = {};
  for (const s of servers) finalHwm[s.id] = readStatus(s.child.pid)?.hwm;

  // stop the benchmark instances before profiling so the profile run has the CPU to itself (minus dnsperf)
  await stopChild(pl.child);
  await stopChild(ubChild);
  await stopChild(dmChild);

  let profile = null;
  if (OPT.profile && OPT.cases.includes('a')) {
    console.log('\nbench: CPU profile of privatelink-dns under the managed-name load (node --cpu-prof)');
    const profDir = path.join(WORK, 'cpuprof');
    fs.mkdirSync(profDir);
    const plp = await startPrivatelink(upPort, { cpuProfDir: profDir });
    const r = await runDnsperf(['-s', '127.0.0.1', '-p', String(plp.port), '-d', managedFile, '-l', String(D), '-c', String(OPT.clients), '-q', String(OPT.outstanding), '-t', '2'], { describe: 'profile (a)' });
    await stopChild(plp.child, 10000);
    const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length) {
      // Profiles are big and change every run: kept in bench/out/ (git-ignored), never committed.
      fs.mkdirSync(path.join(HERE, 'out'), { recursive: true });
      const keep = path.join(HERE, 'out', 'privatelink-dns-managed.cpuprofile');
      fs.copyFileSync(path.join(profDir, files[0]), keep);
      profile = { qps: r.qps, ...summariseProfile(keep, ROOT, 20), file: path.relative(ROOT, keep) };
      console.log(`  profiled run: ${fmtInt(r.qps)} qps; profile saved to ${profile.file}`);
      for (const [k, us] of profile.rows.slice(0, 10)) console.log(`  ${((100 * us) / profile.total).toFixed(1).padStart(5)}%  ${k}`);
    } else {
      console.log('  no .cpuprofile written (did the daemon exit cleanly?)');
    }
  }
  await stopChild(upstream);

  // ---------------------------------------------------------------- report
  const agg = (c, id) => {
    const e = results[c][id];
    const runs = e.runs;
    const sent = runs.reduce((a, r) => a + r.sent, 0);
    const lost = runs.reduce((a, r) => a + r.lost, 0);
    const completed = runs.reduce((a, r) => a + r.completed, 0);
    const qpsList = runs.map((r) => r.qps);
    return {
      qps: qpsList.reduce((a, b) => a + b, 0) / qpsList.length,
      qpsMin: Math.min(...qpsList), qpsMax: Math.max(...qpsList),
      lossPct: sent ? (100 * lost) / sent : NaN,
      avgLat: completed ? runs.reduce((a, r) => a + r.avgLatency * r.completed, 0) / completed : NaN,
      p99: e.latency?.p99, p50: e.latency?.p50, latRate: e.latency?.rate,
      lowP50: e.latencyLow?.p50, lowP99: e.latencyLow?.p99, latLossPct: e.latency ? (100 * e.latency.lost) / e.latency.sent : NaN,
      rss: e.peakRssKb,
      anon: e.peakAnonKb,
      cpuPct: runs.reduce((a, r) => a + r.serverCpuPct, 0) / runs.length,
    };
  };
  const header = ['case', 'server', 'QPS (mean of rounds)', 'rounds', 'lost', 'avg lat ms (max load)', 'p50 / p99 ms @ fixed rate', `p50 / p99 ms @${fmtInt(OPT.lowRate)}`, 'peak RSS MB (anon)', 'server CPU %'];
  const rowsMd = [];
  const rowsTxt = [];
  const ratioRowsMd = [];
  const ratioRowsTxt = [];
  for (const c of OPT.cases) {
    const A = {};
    for (const s of servers) {
      const a = agg(c, s.id);
      A[s.id] = a;
      const row = [c, s.label, fmtInt(a.qps), results[c][s.id].runs.map((r) => fmtInt(r.qps)).join(' / '), fmtPct(a.lossPct), fmtMs(a.avgLat),
        `${fmtMs(a.p50)} / ${fmtMs(a.p99)} @${fmtInt(a.latRate)}`, a.lowP99 === undefined ? '—' : `${fmtMs(a.lowP50)} / ${fmtMs(a.lowP99)}`, `${fmtMB(a.rss)} (${fmtMB(a.anon)})`, Number.isFinite(a.cpuPct) ? a.cpuPct.toFixed(0) : 'n/a'];
      rowsMd.push(row);
      rowsTxt.push(row);
    }
    const r = [c, fmtRatio(A.pl.qps, A.ub.qps), fmtRatio(A.pl.qps, A.dm.qps), fmtRatio(A.pl.p99, A.ub.p99), fmtRatio(A.pl.p99, A.dm.p99), fmtRatio(A.pl.rss, A.ub.rss), fmtRatio(A.pl.rss, A.dm.rss)];
    ratioRowsMd.push(r);
    ratioRowsTxt.push(r);
    results[c].agg = A;
  }
  const ratioHeader = ['case', 'QPS ÷ Unbound', 'QPS ÷ dnsmasq', 'p99 ÷ Unbound', 'p99 ÷ dnsmasq', 'RSS ÷ Unbound', 'RSS ÷ dnsmasq'];

  // CPU time per answered query: robust against a contended machine (a starved server shows low QPS
  // but also low CPU %), so it is the fairest per-query cost comparison on shared hardware.
  const cpuHeader = ['case', 'privatelink-dns µs/q', 'Unbound µs/q', 'dnsmasq µs/q', 'pl ÷ Unbound', 'pl ÷ dnsmasq'];
  const cpuRows = OPT.cases.map((c) => {
    const us = (id) => { const a = results[c].agg[id]; return (a.cpuPct / 100) * 1e6 / a.qps; };
    const [p, u, d] = ['pl', 'ub', 'dm'].map(us);
    return [c, p.toFixed(1), u.toFixed(1), d.toFixed(1), fmtRatio(p, u), fmtRatio(p, d)];
  });
  console.log('\n=== results (privatelink-dns vs Unbound vs dnsmasq) ===');
  console.log(textTable(header, rowsTxt));
  console.log('\n=== privatelink-dns ratios ===');
  console.log(textTable(ratioHeader, ratioRowsTxt));

  // targets from issue 7
  const targets = [];
  if (results.a) {
    const A = results.a.agg;
    targets.push(['managed UDP QPS ≥ 0.8× Unbound', fmtRatio(A.pl.qps, A.ub.qps), A.pl.qps >= 0.8 * A.ub.qps ? 'met' : 'not met']);
    targets.push(['managed UDP QPS ≥ 1.0× dnsmasq', fmtRatio(A.pl.qps, A.dm.qps), A.pl.qps >= A.dm.qps ? 'met' : 'not met']);
    targets.push([`managed p99 at ½ max (${fmtInt(A.pl.latRate)} qps) ≤ 1 ms`, `${fmtMs(A.pl.p99)} ms (Unbound ${fmtMs(A.ub.p99)} ms, dnsmasq ${fmtMs(A.dm.p99)} ms at the same rate)`, A.pl.p99 <= 0.001 ? 'met' : 'not met']);
    if (A.pl.lowP99 !== undefined) targets.push([`(for reference) managed p99 at ${fmtInt(OPT.lowRate)} qps ≤ 1 ms`, `${fmtMs(A.pl.lowP99)} ms (Unbound ${fmtMs(A.ub.lowP99)} ms, dnsmasq ${fmtMs(A.dm.lowP99)} ms)`, A.pl.lowP99 <= 0.001 ? 'met' : 'not met']);
  }
  if (results.b) {
    const B = results.b.agg;
    const hits = results.b.metricsDelta ? results.b.metricsDelta.cacheHits + results.b.metricsDelta.fromCache : NaN;
    const note = Number.isFinite(hits) && hits === 0 ? ' (no cache hits observed: forwarding, not cache)' : '';
    targets.push([`cached forwarded QPS ≥ 0.8× Unbound${note}`, fmtRatio(B.pl.qps, B.ub.qps), B.pl.qps >= 0.8 * B.ub.qps ? 'met' : 'not met']);
    targets.push([`cached forwarded QPS ≥ 1.0× dnsmasq${note}`, fmtRatio(B.pl.qps, B.dm.qps), B.pl.qps >= B.dm.qps ? 'met' : 'not met']);
  }
  // The RSS target is read for the loads the other targets are about (managed and cached answers);
  // the forwarding cases are listed too, so nothing is hidden.
  const rssCases = OPT.cases.filter((c) => c === 'a' || c === 'b');
  if (rssCases.length) {
    const maxPlRss = Math.max(...rssCases.map((c) => results[c].agg.pl.rss ?? 0));
    const maxAnon = Math.max(...rssCases.map((c) => results[c].agg.pl.anon ?? 0));
    targets.push([`RSS under managed/cached load (${rssCases.join(', ')}) ≤ 80 MB`, `${fmtMB(maxPlRss)} MB (anon ${fmtMB(maxAnon)} MB)`, maxPlRss <= 80 * 1024 ? 'met' : 'not met']);
  }
  for (const c of OPT.cases.filter((x) => x === 'c' || x === 'd')) {
    const a = results[c].agg.pl;
    targets.push([`(for reference) RSS in case (${c}) ≤ 80 MB`, `${fmtMB(a.rss)} MB (anon ${fmtMB(a.anon)} MB)`, a.rss <= 80 * 1024 ? 'met' : 'not met']);
  }
  console.log('\n=== server CPU µs per answered query ===');
  console.log(textTable(cpuHeader, cpuRows));
  console.log('\n=== issue 7 targets ===');
  console.log(textTable(['target', 'measured', ''], targets));
  for (const n of metricsNotes) console.log(n);

  if (!OPT.write) return;
  const versions = {
    node: process.version,
    unbound: toolVersion('unbound', ['-V'], /Version\s+(\S+)/),
    dnsmasq: toolVersion('dnsmasq', ['-v'], /Dnsmasq version\s+(\S+)/),
    dnsperf: toolVersion('dnsperf', ['-h'], /Version\s+(\S+)/),
    privatelinkDns: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
  };
  const cpuModel = (os.cpus()[0]?.model ?? 'unknown').trim();
  const gitRev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const md = [];
  md.push('# privatelink-dns benchmark results', '');
  md.push(`Generated by \`bench/run.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\` on ${started.toISOString()} ` +
    `(${OPT.quick ? 'QUICK smoke run — numbers are not meaningful' : 'full run'}). Method: see [README.md](README.md).`, '');
  md.push('## Machine and versions', '');
  md.push(`- CPU: ${os.cpus().length} × ${cpuModel} (\`nproc\` = ${os.availableParallelism?.() ?? os.cpus().length}); memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ${os.type()} ${os.release()}`);
  md.push(`- node ${versions.node}, Unbound ${versions.unbound}, dnsmasq ${versions.dnsmasq}, dnsperf ${versions.dnsperf}, privatelink-dns ${versions.privatelinkDns} (git ${gitRev}, working tree as built in dist/ at the time of the run)`);
  md.push('- **Shared 2-core machine**: dnsperf, the upstream Unbound (forwarding cases) and the server under test all compete for the same two cores, ' +
    'and other engineers\' jobs may run at the same time. Absolute numbers are low and noisy (±15–30% run to run); compare servers only within this run (alternating rounds).');
  const loadEnd = os.loadavg();
  md.push(`- Load average (1/5/15 min) at start ${loadStart.map((x) => x.toFixed(2)).join(' / ')}, at end ${loadEnd.map((x) => x.toFixed(2)).join(' / ')} — anything above ~1 before the benchmark starts means other work was using the cores.`, '');
  md.push('- The p99 figures are the most fragile: with a load average above the core count, a server process is regularly descheduled for tens of milliseconds, which shows up as p99/p99.9 outliers for every server (see Unbound in (b)). Read p50 as the service time, p99 as "how often did this server lose the CPU".', '');
  md.push('## Settings', '');
  md.push(`- ${OPT.rounds} round(s) × ${D} s per server per case, servers alternated within each round (privatelink-dns, Unbound, dnsmasq).`);
  md.push(`- UDP load: \`-c ${OPT.clients} -q ${OPT.outstanding}\`; TCP load: \`-c ${OPT.tcpClients} -q ${OPT.tcpOutstanding} -m tcp\`; query timeout \`-t 2\`.`);
  md.push(`- Latency: a second pass per case and server at a fixed rate (\`-Q\`) of 50% of privatelink-dns's best QPS in that case, ${LD} s, with \`dnsperf -v\`; p50/p99 are computed from every per-query latency line.`);
  md.push(`- Unbound under test: num-threads ${UNBOUND_THREADS} (one per core — the configuration an operator would deploy on this machine; it is also what the peer gets "for free", whereas privatelink-dns is one Node process), msg-cache 64m, rrset-cache 128m, local-zone/local-data for managed names, forward-zone "." to the upstream.`);
  md.push('- dnsmasq under test: `address=` + `local=` per managed name, `server=` upstream, `--cache-size=10000 --dns-forward-max=2000` (default forward-max 150 would drop case (c) traffic).');
  md.push(`- privatelink-dns: static \`addresses\` entries, \`access.rate_limit: false\`, default \`cache.size\` (10,000 entries, as dnsmasq's \`--cache-size\` here), log level info, HTTP listener on (used to read /metrics after (b) and (c)); \`listen.udp_io: ${OPT.udpIo}\` → UDP engine **${ENGINE.used}** (${ENGINE.used === 'batch' ? 'recvmmsg/sendmmsg addon' : "Node's dgram"}).`);
  md.push('- Server CPU %: (utime+stime) of the server process over the throughput runs ÷ wall time; 100% = one core (dnsmasq TCP children not counted).');
  md.push('- Peak RSS: maximum VmRSS sampled every 100 ms from /proc/PID/status during the case (throughput + latency passes); in brackets the maximum RssAnon, i.e. without file-backed pages (for privatelink-dns about 44 MB of it is the node executable itself, shared with every other Node process). RSS does not shrink between cases, so a case inherits the previous one\'s peak. dnsmasq answers TCP in forked children, which are not counted.', '');
  md.push('## Results', '');
  md.push('QPS is the mean of the rounds (each round listed); "lost" is over all rounds at maximum load. Average latency is at maximum load (dnsperf closed loop, so it mostly reflects queueing); p50/p99 are from the fixed-rate pass.', '');
  md.push(mdTable(header, rowsMd), '');
  md.push('### privatelink-dns ÷ peer', '');
  md.push(mdTable(ratioHeader, ratioRowsMd), '');
  md.push('### Server CPU time per answered query (max-load runs)', '');
  md.push('Server CPU seconds ÷ queries answered. Unlike QPS this does not depend on how much CPU the shared machine left each server (dnsmasq TCP children excluded, so its (d) figure is too low).', '');
  md.push(mdTable(cpuHeader, cpuRows), '');
  md.push('### Issue 7 targets', '');
  md.push(mdTable(['target', 'measured', ''], targets), '');
  if (results.b || results.c) {
    md.push('### Cache observations (privatelink-dns /metrics deltas)', '');
    for (const n of metricsNotes) md.push(`- ${n}`);
    if (results.b?.metricsDelta) {
      const d = results.b.metricsDelta;
      md.push(d.cacheHits + d.fromCache === 0
        ? '- **No cache hits were recorded for case (b)**: the forwarded-answer cache is not wired into the resolver in this build, so (b) measures privatelink-dns *forwarding every query* to the upstream, while Unbound and dnsmasq answer from their caches. Compare (b) with (c): for privatelink-dns they should be close.'
        : '- Cache hits were recorded for case (b): privatelink-dns answered the warmed names from its cache.');
    }
    md.push('');
  }
  md.push(`Final VmHWM (whole run): privatelink-dns ${fmtMB(finalHwm.pl)} MB, Unbound ${fmtMB(finalHwm.ub)} MB, dnsmasq ${fmtMB(finalHwm.dm)} MB.`, '');
  if (profile) {
    md.push('## CPU profile of privatelink-dns, managed names (UDP)', '');
    md.push('The V8 profiler charges time spent inside a native function to the JavaScript function that called it. With the batch engine, `onBatch` (udp-batch.js) is a short loop, so its self time is almost all the addon\'s `flush()` — one `sendmmsg` per batch, i.e. the kernel delivering the replies over loopback; `recvmmsg` runs in the addon before JavaScript is entered and shows as `(program)`/idle. With the dgram engine the same cost appears as `doSend` (node:dgram).', '');
    md.push(`A separate instance under \`node --cpu-prof\` served case (a) for ${D} s (${fmtInt(profile.qps)} qps while profiled). Profile: \`${profile.file}\` (open in Chrome DevTools / speedscope). Top self time, as % of non-idle samples (the process was idle ${((100 * profile.idle) / (profile.idle + profile.total)).toFixed(0)}% of the profile, which also covers start-up — module loading and YAML parsing appear below for that reason):`, '');
    md.push(mdTable(['self %', 'function (file:line)'], profile.rows.map(([k, us]) => [`${((100 * us) / profile.total).toFixed(1)}%`, `\`${k}\``])), '');
  }
  md.push('## Command lines', '');
  md.push('```');
  md.push(`# upstream: ${upstream.cmdline}   (config: ${ZONE_SIZE} local-data A records in ${ZONE}. static, ${MISS_ZONE}. redirect, num-threads 1)`);
  md.push(`# privatelink-dns: ${pl.child.cmdline}`);
  md.push(`# unbound: ${ubChild.cmdline}`);
  md.push(`# dnsmasq: ${dmChild.cmdline}`);
  for (const [k, v] of commandLines) md.push(`# ${k}:`, v);
  md.push('```', '');
  md.push('Query files: (a)/(d) `managed.txt` — ' + MANAGED_QUERIES.length + ' A queries (' + MANAGED_QUERIES.join(', ') + '); ' +
    `(b) \`cached.txt\` — ${CACHED_SET} names of ${ZONE}.; (c) a fresh file per run of unique names \`rNqI.${MISS_ZONE}\` (${fmtInt(missCountFor(D))} names, \`-n 1\`), so no server ever sees a name twice.`, '');
  md.push('## privatelink-dns config used', '', '```yaml', fs.readFileSync(pl.config, 'utf8').replace(/127\.0\.0\.1:\d+/g, (m) => m), '```', '');
  fs.writeFileSync(path.join(HERE, 'RESULTS.md'), md.join('\n'));
  fs.writeFileSync(path.join(HERE, 'results.json'), JSON.stringify({ started: started.toISOString(), options: OPT, versions, results, profile: profile && { ...profile, rows: profile.rows } }, null, 2));
  console.log(`\nbench: wrote ${path.relative(ROOT, path.join(HERE, 'RESULTS.md'))}`);
}

main().then(() => { killAll(); cleanupWork(); process.exit(0); }, (e) => {
  console.error(`bench: ${e.message}`);
  if (WORK) console.error(`bench: logs kept in ${WORK}`);
  OPT.keep = true;
  killAll();
  process.exit(1);
});
