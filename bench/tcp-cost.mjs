#!/usr/bin/env node
// Case (d) alone, for working on the TCP path: privatelink-dns and Unbound (fresh, one upstream),
// dnsperf over TCP against each in turn for a few rounds, and per server the figures that depend
// least on how busy the shared machine is: CPU µs per answered query, QPS as a ratio to Unbound's
// in the same round, and for privatelink-dns the scavenges (young-generation GCs) per 100,000
// answers (from --trace-gc) and the write syscalls per answer (from the kernel's per-process I/O
// counters, /proc/PID/io syscw).
//
//   node bench/tcp-cost.mjs [--rounds 3] [--duration 5] [--tcp-clients 8] [--tcp-outstanding 256] [--node-flags "…"] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep, stopChild } from './lib/children.mjs';
import { runDnsperf } from './lib/dnsperf.mjs';
import { parseArgs } from './lib/options.mjs';
import { cpuSeconds } from './lib/proc-stats.mjs';
import { startServers, startUpstream, writeQueryFiles } from './lib/servers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opt = parseArgs(process.argv.slice(2).filter((a) => a !== '--keep'));
const keep = process.argv.includes('--keep');
const rounds = process.argv.includes('--rounds') ? opt.rounds : 3;
const duration = process.argv.includes('--duration') ? opt.duration : 5;
opt.nodeFlags = [...opt.nodeFlags, '--trace-gc'];

const syscw = (pid) => {
  try {
    return Number(/^syscw:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
  } catch {
    return NaN;
  }
};
const scavenges = (logPath) => (fs.readFileSync(logPath, 'utf8').match(/Scavenge/g) || []).length;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-tcp-cost-'));
const ctx = { work, opt, root, engine: 'unknown' };
process.on('SIGINT', () => { killAll(); process.exit(130); });
try {
  const files = writeQueryFiles(work);
  const up = await startUpstream(ctx);
  const servers = (await startServers(ctx, up.port)).filter((s) => s.id !== 'dm');
  for (const s of servers) {
    await runDnsperf(['-s', '127.0.0.1', '-p', String(s.port), '-d', files.managed, '-l', '2', '-c', '4', '-q', '200', '-t', '2'], { limitMs: 30000 });
  }
  const tot = { pl: { q: 0, cpu: 0, w: 0, gc: 0 }, ub: { q: 0, cpu: 0 } };
  for (let round = 1; round <= rounds; round++) {
    const qps = {};
    for (const s of servers) {
      const pid = s.child.pid;
      const cpu0 = cpuSeconds(pid);
      const w0 = syscw(pid);
      const gc0 = s.id === 'pl' ? scavenges(s.child.logPath) : 0;
      const r = await runDnsperf(['-s', '127.0.0.1', '-p', String(s.port), '-d', files.managed, '-l', String(duration),
        '-c', String(opt.tcpClients), '-q', String(opt.tcpOutstanding), '-m', 'tcp', '-t', '2'], { limitMs: (duration + 30) * 1000 });
      const cpu = cpuSeconds(pid) - cpu0;
      const t = tot[s.id];
      t.q += r.completed;
      t.cpu += cpu;
      qps[s.id] = r.qps;
      let extra = '';
      if (s.id === 'pl') {
        const w = syscw(pid) - w0;
        const gc = scavenges(s.child.logPath) - gc0;
        t.w += w;
        t.gc += gc;
        extra = `  writes/answer ${(w / r.completed).toFixed(3)}  scavenges/100k ${((gc * 1e5) / r.completed).toFixed(1)}`;
      }
      console.log(`round ${round} ${s.label.padEnd(15)} ${Math.round(r.qps).toString().padStart(7)} qps  lost ${r.lost}  CPU ${((cpu * 1e6) / r.completed).toFixed(2)} µs/q${extra}`);
      await sleep(300);
    }
    console.log(`round ${round} QPS ÷ Unbound ${(qps.pl / qps.ub).toFixed(2)}×  load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  }
  const { pl, ub } = tot;
  console.log(`total: privatelink-dns ${((pl.cpu * 1e6) / pl.q).toFixed(2)} µs/q, Unbound ${((ub.cpu * 1e6) / ub.q).toFixed(2)} µs/q (${((pl.cpu / pl.q) / (ub.cpu / ub.q)).toFixed(2)}×); ` +
    `privatelink-dns writes/answer ${(pl.w / pl.q).toFixed(3)}, scavenges/100k ${((pl.gc * 1e5) / pl.q).toFixed(1)}`);
  for (const s of servers) await stopChild(s.child);
  await stopChild(up.child);
} finally {
  killAll();
  if (keep) console.log(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
}
