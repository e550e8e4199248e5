// The data every server answers, the three servers' configs, and starting them (plus the upstream).
// `ctx` is { work, opt, root, engine }: the temp dir, the options, the repo root, the UDP engine seen.
import fs from 'node:fs';
import path from 'node:path';
import { startProc as spawnLogged } from './children.mjs';
import { freePort, udpQuery, waitAnswering } from './dns-probe.mjs';

export const REGION = 'cn-hangzhou';
// Managed names: exact names (several IPs) and an OSS wildcard.
export const MANAGED = [
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
export const MANAGED_QUERIES = [
  ...MANAGED.map((m) => m.name),
  `aliacs-k8s-${REGION}.oss-${REGION}-internal.aliyuncs.com`,
  `bucket-logs.oss-${REGION}-internal.aliyuncs.com`,
  `bucket-images.oss-${REGION}-internal.aliyuncs.com`,
];
export const ZONE = 'bench.example';
export const ZONE_SIZE = 20000;
export const CACHED_SET = 100;
export const UNBOUND_THREADS = 2;
export const zoneName = (i) => `n${String(i).padStart(5, '0')}.${ZONE}`;
const zoneIp = (i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
// Cache-miss names live under a `redirect` local-zone of the upstream: every name below it gets an
// A record, so each query is a distinct, answerable (NOERROR) name no cache has seen.
export const MISS_ZONE = `miss.${ZONE}`;
/** Names per (c) throughput run: more than any server answers in that time, each read once. */
export const missCountFor = (secs) => Math.ceil(70000 * secs);

/** A child whose log goes to the work dir (and which runs there unless `cwd` says otherwise). */
export function startProc(ctx, label, cmd, args, opts = {}) {
  return spawnLogged(label, cmd, args, { logDir: ctx.work, cwd: opts.cwd, env: opts.env });
}

/** managed.txt (cases a, d) and cached.txt (case b) in the work dir. */
export function writeQueryFiles(work) {
  const managed = path.join(work, 'managed.txt');
  fs.writeFileSync(managed, MANAGED_QUERIES.map((n) => `${n} A\n`).join(''));
  const cached = path.join(work, 'cached.txt');
  const names = [];
  for (let i = 1; i <= CACHED_SET; i++) names.push(zoneName(Math.round((i * ZONE_SIZE) / CACHED_SET)));
  fs.writeFileSync(cached, names.map((n) => `${n} A\n`).join(''));
  return { managed, cached };
}

let missSeq = 0;
/** A fresh file of `count` unique names under MISS_ZONE (each file has its own tag). */
export function writeMissFile(work, count) {
  const tag = `r${++missSeq}`;
  const file = path.join(work, `miss-${tag}.txt`);
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

// ---------------------------------------------------------------- configs
/** The `server:` lines every Unbound here shares: loopback, foreground, no files, iterator only. */
function unboundServerLines(work, port, threads) {
  return [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${port}`,
    '  do-daemonize: no', '  username: ""', '  chroot: ""', `  directory: "${work}"`, '  pidfile: ""',
    '  use-syslog: no', '  logfile: ""', '  verbosity: 0', '  do-ip6: no',
    `  num-threads: ${threads}`,
    '  access-control: 127.0.0.0/8 allow',
    '  module-config: "iterator"',
    '  so-rcvbuf: 4m', '  so-sndbuf: 4m',
  ];
}

function upstreamUnboundConf(work, port) {
  const lines = [
    ...unboundServerLines(work, port, 1),
    `  local-zone: "${ZONE}." static`,
    `  local-zone: "${MISS_ZONE}." redirect`,
    `  local-data: "${MISS_ZONE}. 3600 IN A 10.99.0.1"`,
  ];
  for (let i = 1; i <= ZONE_SIZE; i++) lines.push(`  local-data: "${zoneName(i)}. 3600 IN A ${zoneIp(i)}"`);
  lines.push('remote-control:', '  control-enable: no', '');
  return lines.join('\n');
}

function unboundConf(work, port, upPort) {
  const lines = [
    ...unboundServerLines(work, port, UNBOUND_THREADS),
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

/** privatelink-dns with static `addresses` entries for MANAGED (also the startup bench's static config). */
export function privatelinkConf({ port, httpPort, upPort, udpIo = 'auto' }) {
  const entries = MANAGED.map((m) => {
    const names = m.wildcard ? [`"${m.name}"`, `"*.${m.name}"`] : [`"${m.name}"`];
    return `    - names: [${names.join(', ')}]\n      addresses: [${m.ips.map((i) => `"${i}"`).join(', ')}]`;
  });
  return [
    `region: ${REGION}`,
    'listen:',
    `  dns: ["127.0.0.1:${port}"]`,
    `  http: "127.0.0.1:${httpPort}"`,
    `  udp_io: ${udpIo}`,
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

// ---------------------------------------------------------------- starting servers
export async function startUpstream(ctx) {
  const port = await freePort();
  const conf = path.join(ctx.work, 'upstream-unbound.conf');
  fs.writeFileSync(conf, upstreamUnboundConf(ctx.work, port));
  const child = startProc(ctx, 'upstream-unbound', 'unbound', ['-d', '-c', conf]);
  await waitAnswering('upstream unbound', child, port, zoneName(1), 30000);
  const probe = await udpQuery(port, `probe.${MISS_ZONE}`);
  if (!probe || probe.ancount < 1) throw new Error('upstream redirect zone does not answer');
  return { port, child };
}

/** privatelink-dns started as a user would (`node dist/cli.js serve --config …`), plus --node-flags if given. */
export async function startPrivatelink(ctx, upPort, { cpuProfDir, label = 'privatelink-dns' } = {}) {
  const port = await freePort();
  const httpPort = await freePort();
  const cfg = path.join(ctx.work, `${label}.yaml`);
  fs.writeFileSync(cfg, privatelinkConf({ port, httpPort, upPort, udpIo: ctx.opt.udpIo }));
  const nodeArgs = [...ctx.opt.nodeFlags, ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [])];
  const cli = path.join(ctx.root, 'dist', 'cli.js');
  const child = startProc(ctx, label, process.execPath, [...nodeArgs, cli, 'serve', '--config', cfg], { cwd: ctx.root });
  await waitAnswering(label, child, port, MANAGED[0].name);
  // The daemon logs "privatelink-dns started" once listeners are bound; confirm it.
  const log = fs.readFileSync(child.logPath, 'utf8');
  if (!log.includes('privatelink-dns started')) console.error('bench: warning: privatelink-dns answered before logging "started"');
  const engine = /"udpIo":"(\w+)"/.exec(log)?.[1] ?? 'unknown';
  if (engine !== ctx.opt.udpIo && ctx.opt.udpIo !== 'auto') throw new Error(`privatelink-dns runs UDP on ${engine}, not ${ctx.opt.udpIo}`);
  ctx.engine = engine;
  return { id: 'pl', label: 'privatelink-dns', port, httpPort, child, config: cfg };
}

async function startUnbound(ctx, upPort) {
  const port = await freePort();
  const conf = path.join(ctx.work, 'unbound.conf');
  fs.writeFileSync(conf, unboundConf(ctx.work, port, upPort));
  const child = startProc(ctx, 'unbound', 'unbound', ['-d', '-c', conf]);
  await waitAnswering('unbound', child, port, MANAGED[0].name);
  return { id: 'ub', label: 'Unbound', port, child, config: conf };
}

async function startDnsmasq(ctx, upPort) {
  const port = await freePort();
  const child = startProc(ctx, 'dnsmasq', 'dnsmasq', dnsmasqArgs(port, upPort));
  await waitAnswering('dnsmasq', child, port, MANAGED[0].name);
  return { id: 'dm', label: 'dnsmasq', port, child };
}

/** Fresh privatelink-dns, Unbound and dnsmasq, each checked on a managed wildcard and two forwarded names. */
export async function startServers(ctx, upPort) {
  const servers = [await startPrivatelink(ctx, upPort), await startUnbound(ctx, upPort), await startDnsmasq(ctx, upPort)];
  for (const s of servers) {
    for (const n of [MANAGED_QUERIES[MANAGED_QUERIES.length - 1], zoneName(7), `sanity.${MISS_ZONE}`]) {
      const r = await udpQuery(s.port, n, 2000);
      if (r?.rcode !== 0 || r.ancount < 1) throw new Error(`${s.label} gave no answer for ${n}: ${JSON.stringify(r)}`);
    }
  }
  return servers;
}

/** Sums of the privatelink-dns counters that tell whether a case was answered from cache. */
export async function scrapeMetrics(httpPort) {
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
