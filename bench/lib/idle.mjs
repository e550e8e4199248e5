// Idle cost of privatelink-dns beside an idle one-thread Unbound, both read from /proc over the
// same window: CPU as % of a core, wakeups a second, RSS. A pure measurement (no assertions):
// test/e2e/idle.test.ts checks the wakeup property. Used by bench/idle.mjs; the goal table can
// call measureIdle() directly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep, startProc, stopChild } from './children.mjs';
import { freePort, waitAnswering } from './dns-probe.mjs';
import { cpuSeconds, readStatus } from './proc-stats.mjs';

const NAME = 'cs-anony-vpc.cn-hangzhou.aliyuncs.com';

/** The thread ids of a process (threads that ended between listing and reading are skipped by the readers). */
const tasks = (pid) => fs.readdirSync(`/proc/${pid}/task`);

function readOr(file, fallback) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback; // the thread ended between readdir and read
  }
}

/** Voluntary context switches of every thread (how often it went to sleep and woke), and of the main thread alone. */
export function wakeups(pid) {
  let all = 0;
  let main = 0;
  for (const tid of tasks(pid)) {
    const n = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readOr(`/proc/${pid}/task/${tid}/status`, ''))?.[1] ?? 0);
    all += n;
    if (tid === String(pid)) main = n;
  }
  return { all, main };
}

/**
 * CPU seconds on a core, summed over threads, from /proc/PID/task/TID/schedstat (the scheduler's
 * nanosecond run time): unlike utime+stime (10 ms ticks, charged to whoever runs at the tick) it
 * is exact for a process that runs 50 µs at a time.
 */
export function runSeconds(pid) {
  let ns = 0;
  for (const tid of tasks(pid)) ns += Number(readOr(`/proc/${pid}/task/${tid}/schedstat`, '0').split(' ')[0]) || 0;
  return ns / 1e9;
}

const sample = (pid) => ({ ticks: cpuSeconds(pid), run: runSeconds(pid), wake: wakeups(pid) });

function figures(pid, before, seconds) {
  const after = sample(pid);
  const st = readStatus(pid);
  return {
    /** (utime+stime) over the window ÷ its length, % of one core (10 ms ticks). */
    cpuPct: ((after.ticks - before.ticks) / seconds) * 100,
    /** The same from the scheduler's nanosecond run time of every thread. */
    cpuPctRun: ((after.run - before.run) / seconds) * 100,
    /** Voluntary context switches a second, all threads. */
    wakeupsPerS: (after.wake.all - before.wake.all) / seconds,
    /** The same, main thread only (the event loop; V8's and libuv's helpers left out). */
    mainWakeupsPerS: (after.wake.main - before.wake.main) / seconds,
    rssMb: (st?.rss ?? NaN) / 1024,
    anonMb: (st?.anon ?? NaN) / 1024,
  };
}

function unboundConf(work, port) {
  return ['server:', '  interface: 127.0.0.1', `  port: ${port}`, '  do-daemonize: no', '  username: ""',
    '  chroot: ""', `  directory: "${work}"`, '  pidfile: ""', '  use-syslog: no', '  logfile: ""', '  do-ip6: no',
    '  num-threads: 1', '  module-config: "iterator"', '  local-zone: "idle.example." static',
    '  local-data: "idle.example. 300 IN A 192.0.2.1"', 'remote-control:', '  control-enable: no', ''].join('\n');
}

const SIMULATOR_DATA = {
  endpoints: [{
    EndpointId: 'ep-idle', EndpointName: 'idle', ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-idle',
    EndpointDomain: 'ep-idle.epsrv-idle.cn-hangzhou.privatelink.aliyuncs.com', EndpointStatus: 'Active', ConnectionStatus: 'Connected',
    Zones: [{ ZoneId: 'cn-hangzhou-j', ZoneDomain: 'ep-idle-j.epsrv-idle.cn-hangzhou.privatelink.aliyuncs.com', EniId: 'eni-j', EniIp: '10.40.1.10', VSwitchId: 'vsw-j', ZoneStatus: 'Connected' }],
  }],
};

/**
 * Starts an idle one-thread Unbound, `privatelink-dns simulate` and a privatelink-dns with one
 * PrivateLink entry synced every 5 minutes (no queries, no scrapes: an edge node between syncs,
 * nobody watching), waits for the first sync and `settle` seconds (V8's memory reducer runs its
 * collections after start), then reads both servers over the same `seconds` window.
 * `root`: the repo (dist/cli.js must be built); `work`: a directory for configs and logs.
 * Returns { seconds, settle, loadAverage: [before, after], pldns: {...}, unbound: {...} } where
 * each server has cpuPct, cpuPctRun, wakeupsPerS, mainWakeupsPerS, rssMb, anonMb.
 * Every child is stopped before it returns (or throws).
 */
export async function measureIdle({ root, work, seconds = 90, settle = 20, log = () => {} }) {
  const cli = path.join(root, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run "npm run build" first');
  const started = [];
  try {
    const ubPort = await freePort();
    const ubConf = path.join(work, 'idle-unbound.conf');
    fs.writeFileSync(ubConf, unboundConf(work, ubPort));
    const unbound = startProc('idle-unbound', 'unbound', ['-d', '-c', ubConf], { logDir: work });
    started.push(unbound);
    await waitAnswering('unbound', unbound, ubPort, 'idle.example');

    const data = path.join(work, 'idle-sim.json');
    fs.writeFileSync(data, JSON.stringify(SIMULATOR_DATA));
    const sim = startProc('idle-simulator', process.execPath, [cli, 'simulate', '--listen', '127.0.0.1:0', '--data', data], { logDir: work, cwd: root });
    started.push(sim);
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
    const daemon = startProc('idle-privatelink-dns', process.execPath, [cli, 'serve', '--config', cfg], { logDir: work, cwd: root, env });
    started.push(daemon);
    await waitAnswering('privatelink-dns (first sync)', daemon, port, NAME, 30000);
    const loadBefore = os.loadavg();
    log(`idle: first sync answered; settling ${settle} s, then measuring ${seconds} s (load average ${loadBefore.map((x) => x.toFixed(2)).join(' / ')})`);
    await sleep(settle * 1000);

    const before = { pldns: sample(daemon.pid), unbound: sample(unbound.pid) };
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      seconds: elapsed,
      settle,
      loadAverage: [loadBefore, os.loadavg()],
      pldns: figures(daemon.pid, before.pldns, elapsed),
      unbound: figures(unbound.pid, before.unbound, elapsed),
    };
  } finally {
    for (const child of started.reverse()) await stopChild(child);
  }
}

/** One line per server for a console. */
export function fmtIdle(r) {
  const line = (name, s) => `  ${name.padEnd(16)} ${s.cpuPct.toFixed(3)}% of a core (run time ${s.cpuPctRun.toFixed(4)}%), `
    + `${s.wakeupsPerS.toFixed(2)} wakeups/s (main thread ${s.mainWakeupsPerS.toFixed(2)}), RSS ${s.rssMb.toFixed(1)} MB (anon ${s.anonMb.toFixed(1)})`;
  return [line('privatelink-dns', r.pldns), line('unbound', r.unbound),
    `  (over ${r.seconds.toFixed(1)} s after ${r.settle} s settling; load average ${r.loadAverage[0][0].toFixed(2)} → ${r.loadAverage[1][0].toFixed(2)}; utime+stime count 10 ms ticks)`].join('\n');
}
