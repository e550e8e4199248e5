#!/usr/bin/env node
// The CPU cost of probing 1,000 endpoint IPs at the default interval (5 s: 200 TCP connects a
// second), as process CPU time over wall time, in a plain node process running dist/'s Prober
// against 1,000 loopback listeners (test/helpers/probe-cpu-runner.cjs). A pure measurement: it
// prints the figure and asserts nothing (test/probe/probe-cpu.test.ts checks the probe count,
// the results and a generous per-probe CPU guard over a shorter window).
// Usage: node bench/probe-cpu.mjs [--ips 1000] [--interval-ms 5000] [--seconds 20]   (npm run build first)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/dns-probe.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opt = { ips: 1000, 'interval-ms': 5000, seconds: 20 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opt)) {
    console.error(`usage: node bench/probe-cpu.mjs [--ips N (even, at most 2000)] [--interval-ms MS] [--seconds S]`);
    process.exit(2);
  }
  opt[k] = Number(argv[++i]);
}
if (!(opt.ips > 0 && opt.ips % 2 === 0 && opt.ips <= 2000 && opt['interval-ms'] > 0 && opt.seconds > 0)) {
  console.error('bench probe-cpu: --ips must be even and 2..2000, --interval-ms and --seconds above 0');
  process.exit(2);
}

const interval = opt['interval-ms'];
const measureMs = opt.seconds * 1000;
const runner = path.join(ROOT, 'test', 'helpers', 'probe-cpu-runner.cjs');
const load = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
console.log(`bench probe-cpu: ${opt.ips} IPs every ${interval} ms, ${interval + 1000} ms warm-up, ${opt.seconds} s measured (load average ${load})`);
const r = spawnSync(process.execPath, [runner, String(opt.ips), String(await freePort()), String(interval), String(interval + 1000), String(measureMs)],
  { encoding: 'utf8', timeout: interval + measureMs + 60_000, env: { ...process.env, NODE_OPTIONS: '' } });
if (r.status !== 0) {
  console.error(`bench probe-cpu: runner failed (${r.status ?? r.signal}): ${r.stderr}`);
  process.exit(1);
}
const m = JSON.parse(r.stdout.trim().split('\n').pop());
const pct = (x) => `${(x * 100).toFixed(2)}%`;
const user = m.userUs / m.wallUs;
const total = (m.userUs + m.systemUs) / m.wallUs;
console.log(`  ${m.probes} probes in ${(m.wallUs / 1e6).toFixed(1)} s (expected ${(opt.ips * measureMs) / interval}); results ${JSON.stringify(m.results)}`);
console.log(`  user ${pct(user)} + system ${pct(total - user)} = ${pct(total)} of a core; ${((m.userUs + m.systemUs) / m.probes).toFixed(1)} µs per probe (${(m.userUs / m.probes).toFixed(1)} user)`);
console.log(JSON.stringify({ ...opt, ...m, cpuPercentOfCore: total * 100 }));
