#!/usr/bin/env node
// Idle cost: privatelink-dns (no queries, no scrapes, one PrivateLink endpoint synced every 5 minutes)
// beside an idle one-thread Unbound, both read from /proc over the same window: CPU as % of a core,
// RSS, and wakeups (voluntary context switches of all threads) per second. A pure measurement: it
// prints the figures and asserts nothing (test/e2e/idle.test.ts checks the wakeup property).
// Usage: node bench/idle.mjs [--settle S] [--window S] [--keep]    (npm run build first)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep, startProc, stopChild } from './lib/children.mjs';
import { freePort, waitAnswering } from './lib/dns-probe.mjs';
import { cpuSeconds, readStatus } from './lib/proc-stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';

function parse(argv) {
  const o = { settle: 20, window: 90, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') o.keep = true;
    else if (a === '--settle' || a === '--window') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number of seconds`);
      o[a.slice(2)] = v;
    } else if (a === '--help' || a === '-h') {
      console.log('node bench/idle.mjs [--settle S (default 20)] [--window S (default 90)] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (o.window <= 0) throw new Error('--window must be above 0');
  return o;
}

/** Voluntary context switches summed over a process's threads: how often it went to sleep and woke. */
export function wakeups(pid) {
  let n = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      n += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return n;
}

const sample = (pid) => ({ cpu: cpuSeconds(pid), wake: wakeups(pid) });

async function main() {
  const opt = parse(process.argv.slice(2));
  const cli = path.join(ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run "npm run build" first');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-idle-'));
  process.on('exit', () => {
    killAll();
    if (!opt.keep) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`bench idle: kept ${work}`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

  const ubPort = await freePort();
  const ubConf = path.join(work, 'unbound.conf');
  fs.writeFileSync(ubConf, ['server:', '  interface: 127.0.0.1', `  port: ${ubPort}`, '  do-daemonize: no', '  username: ""',
    '  chroot: ""', `  directory: "${work}"`, '  pidfile: ""', '  use-syslog: no', '  logfile: ""', '  do-ip6: no',
    '  num-threads: 1', '  module-config: "iterator"', '  local-zone: "idle.example." static',
    '  local-data: "idle.example. 300 IN A 192.0.2.1"', 'remote-control:', '  control-enable: no', ''].join('\n'));
  const unbound = startProc('unbound', 'unbound', ['-d', '-c', ubConf], { logDir: work });
  await waitAnswering('unbound', unbound, ubPort, 'idle.example');

  const data = path.join(work, 'sim.json');
  fs.writeFileSync(data, JSON.stringify({
    endpoints: [{
      EndpointId: 'ep-idle', EndpointName: 'idle', ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-idle',
      EndpointDomain: 'ep-idle.epsrv-idle.cn-hangzhou.privatelink.aliyuncs.com', EndpointStatus: 'Active', ConnectionStatus: 'Connected',
      Zones: [{ ZoneId: 'cn-hangzhou-j', ZoneDomain: 'ep-idle-j.epsrv-idle.cn-hangzhou.privatelink.aliyuncs.com', EniId: 'eni-j', EniIp: '10.40.1.10', VSwitchId: 'vsw-j', ZoneStatus: 'Connected' }],
    }],
  }));
  const sim = startProc('simulator', process.execPath, [cli, 'simulate', '--listen', '127.0.0.1:0', '--data', data], { logDir: work, cwd: ROOT });
  let endpoint;
  for (let i = 0; i < 300 && !endpoint; i++) {
    try { endpoint = JSON.parse(fs.readFileSync(sim.logPath, 'utf8').split('\n')[0]).endpoint; } catch { await sleep(50); }
  }
  if (!endpoint) throw new Error('the simulator did not print its endpoint');

  const port = await freePort();
  const cfg = path.join(work, 'idle.yaml');
  fs.writeFileSync(cfg, `region: cn-hangzhou
listen: { dns: ["127.0.0.1:${port}"], http: "127.0.0.1:${await freePort()}" }
upstream: { servers: ["127.0.0.1:${ubPort}"] }
privatelink:
  endpoint: "${endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "0 */5 * * * *"
records:
  entries:
    - names: ["${NAME}"]
      endpoint: ep-idle
state_dir: false
`);
  // As the systemd unit runs it: no node flags, no inherited NODE_OPTIONS.
  const env = { ...process.env, NODE_OPTIONS: '', NODE_V8_COVERAGE: '', ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' };
  const daemon = startProc('privatelink-dns', process.execPath, [cli, 'serve', '--config', cfg], { logDir: work, cwd: ROOT, env });
  await waitAnswering('privatelink-dns (first sync)', daemon, port, NAME, 30000);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  console.log(`bench idle: first sync answered; settling ${opt.settle} s, then measuring ${opt.window} s (load average ${load})`);
  await sleep(opt.settle * 1000);

  const pids = { 'privatelink-dns': daemon.pid, unbound: unbound.pid };
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, sample(pid)]));
  const t0 = process.hrtime.bigint();
  await sleep(opt.window * 1000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const result = { seconds, loadAverage: os.loadavg(), servers: {} };
  for (const [k, pid] of Object.entries(pids)) {
    const after = sample(pid);
    result.servers[k] = {
      cpuPercentOfCore: ((after.cpu - before[k].cpu) / seconds) * 100,
      wakeupsPerSecond: (after.wake - before[k].wake) / seconds,
      rssMb: (readStatus(pid)?.rss ?? NaN) / 1024,
    };
  }
  for (const [k, s] of Object.entries(result.servers)) {
    console.log(`  ${k.padEnd(16)} ${s.cpuPercentOfCore.toFixed(3)}% of a core, ${s.wakeupsPerSecond.toFixed(1)} wakeups/s, RSS ${s.rssMb.toFixed(1)} MB`);
  }
  console.log(`  (over ${seconds.toFixed(1)} s; CPU from /proc ticks of 10 ms, so a short window reads 0 or 1 tick)`);
  console.log(JSON.stringify(result));
  await stopChild(daemon);
  await stopChild(sim);
  await stopChild(unbound);
}

main().catch((e) => {
  console.error(`bench idle: ${e.message}`);
  process.exit(1);
});
