// One bench case against fresh servers: warm-up, alternating max-load rounds, fixed-rate latency
// passes, peak RSS sampled throughout, and for (c) the RSS after an idle wait.
import fs from 'node:fs';
import { sleep, stopChild } from './children.mjs';
import { quantile, runDnsperf as dnsperfRun } from './dnsperf.mjs';
import { cpuSeconds, readStatus, RssSampler } from './proc-stats.mjs';
import { fmtInt, fmtMB, fmtMs, fmtPct } from './report-format.mjs';
import { missCountFor, scrapeMetrics, startServers, writeMissFile } from './servers.mjs';

export const CASES = {
  a: { title: '(a) managed names, UDP', file: 'managed', mode: 'udp', lowRate: true },
  b: { title: '(b) forwarded names, cached (100 names, warmed)', file: 'cached', mode: 'udp', lowRate: true, metrics: true },
  c: { title: '(c) forwarded cache misses (unique names)', file: null, mode: 'udp', metrics: true, idle: true },
  d: { title: '(d) managed names, TCP', file: 'managed', mode: 'tcp' },
};

const latencyOf = (r) => ({ p50: quantile(r.latencies, 0.5), p99: quantile(r.latencies, 0.99), p999: quantile(r.latencies, 0.999), n: r.latencies.length });

/**
 * Runs case `c` against a fresh privatelink-dns, Unbound and dnsmasq (so no case inherits another's
 * memory), stopped again at the end. Returns { pl, ub, dm, metricsDelta?, commands }.
 */
export async function runCase(ctx, c, { upPort, files }) {
  const { opt, work } = ctx;
  const info = CASES[c];
  const D = opt.duration;
  const LD = opt.latencyDuration;
  // dnsperf itself sometimes dies mid-run over TCP ("unexpected id … Bad file descriptor", seen
  // against dnsmasq): that run is repeated once, and the repeat is said, before the case fails.
  const run = async (args, o = {}) => {
    const o2 = { ...o, limitMs: (D + LD + 30) * 1000 };
    try {
      return await dnsperfRun(args, o2);
    } catch (e) {
      console.log(`bench: dnsperf failed (${e.message}); running it once more`);
      await new Promise((r) => setTimeout(r, 1000));
      return dnsperfRun(args, o2);
    }
  };
  const fileFor = (count) => (info.file ? files[info.file] : writeMissFile(work, count));
  const done = (file) => { if (!info.file) fs.rmSync(file, { force: true }); };
  const conc = info.mode === 'tcp' ? ['-c', String(opt.tcpClients), '-q', String(opt.tcpOutstanding), '-m', 'tcp'] : ['-c', String(opt.clients), '-q', String(opt.outstanding)];
  const base = (s, file) => ['-s', '127.0.0.1', '-p', String(s.port), '-d', file, ...(info.file ? [] : ['-n', '1'])];

  console.log(`\nbench: case ${info.title}`);
  const servers = await startServers(ctx, upPort);
  const out = { commands: {} };
  for (const s of servers) {
    out[s.id] = { runs: [] };
    out.commands[s.id] = s.child.cmdline;
    console.log(`  ${s.label} on 127.0.0.1:${s.port} (pid ${s.child.pid})`);
  }
  const pl = servers[0];
  const sampler = new RssSampler(servers);
  sampler.start(c);
  try {
    // warm-up (not measured), on managed names so every case starts from the same state
    for (const s of servers) {
      await run(['-s', '127.0.0.1', '-p', String(s.port), '-d', files.managed, '-l', String(opt.quick ? 1 : 3), '-c', String(opt.clients), '-q', String(opt.outstanding), '-t', '2'], { describe: 'warm-up (not measured)' });
    }
    if (c === 'b') {
      for (const s of servers) await run(['-s', '127.0.0.1', '-p', String(s.port), '-d', files.cached, '-n', '3', '-Q', '2000', '-c', '1', '-q', '50', '-l', '10'], { describe: 'warm (b)' });
    }
    const metricsBefore = info.metrics ? await scrapeMetrics(pl.httpPort) : null;

    for (let round = 1; round <= opt.rounds; round++) {
      for (const s of servers) {
        const file = fileFor(missCountFor(D));
        const cpu0 = cpuSeconds(s.child.pid);
        const r = await run([...base(s, file), '-l', String(D), ...conc, '-t', '2'], { describe: `throughput (${c})` });
        r.serverCpuPct = (100 * (cpuSeconds(s.child.pid) - cpu0)) / r.runTime;
        done(file);
        out[s.id].runs.push(r);
        console.log(`  round ${round} ${s.label.padEnd(15)} ${fmtInt(r.qps).padStart(8)} qps  lost ${fmtPct((100 * r.lost) / r.sent)}  avg ${fmtMs(r.avgLatency)} ms  server CPU ${r.serverCpuPct.toFixed(0)}%  [${r.rcodes}]`);
        await sleep(300);
      }
    }
    // latency: every server at the same fixed rate, 50% of privatelink-dns's best QPS in this case
    const rate = Math.max(100, Math.round(Math.max(...out.pl.runs.map((r) => r.qps)) / 2));
    for (const s of servers) {
      const file = fileFor(Math.ceil(rate * LD * 1.1));
      const r = await run([...base(s, file), '-l', String(LD), ...conc, '-Q', String(rate), '-t', '2'], { verbose: true, describe: `latency at fixed rate (${c})` });
      done(file);
      const L = { rate, qps: r.qps, sent: r.sent, lost: r.lost, ...latencyOf(r) };
      out[s.id].latency = L;
      console.log(`  @${fmtInt(rate)} qps ${s.label.padEnd(15)} p50 ${fmtMs(L.p50)} ms  p99 ${fmtMs(L.p99)} ms  p99.9 ${fmtMs(L.p999)} ms  (achieved ${fmtInt(L.qps)} qps, lost ${fmtPct((100 * L.lost) / L.sent)})`);
      await sleep(300);
    }
    // a second fixed-rate pass at an edge node's load (issue 16: p99 at 10,000 qps)
    if (info.lowRate) {
      for (const s of servers) {
        const r = await run([...base(s, files[info.file]), '-l', String(LD), ...conc, '-Q', String(opt.lowRate), '-t', '2'], { verbose: true, describe: `latency at low fixed rate (${c})` });
        const L = { rate: opt.lowRate, qps: r.qps, sent: r.sent, lost: r.lost, ...latencyOf(r) };
        out[s.id].latencyLow = L;
        console.log(`  @${fmtInt(opt.lowRate)} qps ${s.label.padEnd(15)} p50 ${fmtMs(L.p50)} ms  p99 ${fmtMs(L.p99)} ms  p99.9 ${fmtMs(L.p999)} ms`);
        await sleep(300);
      }
    }
    sampler.stop();
    for (const s of servers) {
      out[s.id].peakRssKb = sampler.peak[`${c}|${s.id}`];
      out[s.id].peakAnonKb = sampler.peakAnon[`${c}|${s.id}`];
      out[s.id].hwmKb = readStatus(s.child.pid)?.hwm;
    }
    if (metricsBefore) out.metricsDelta = await metricsDelta(pl.httpPort, metricsBefore, c);
    if (info.idle) await idleRss(servers, out, opt.idleWait);
    return out;
  } finally {
    sampler.stop();
    for (const s of servers) await stopChild(s.child);
  }
}

/** RSS of every server after `secs` of no load (sampled once, at the end of the wait). */
async function idleRss(servers, out, secs) {
  if (!(secs > 0)) {
    console.log('  idle RSS: skipped (--quick or --idle-wait 0)');
    return;
  }
  console.log(`  idle ${secs} s, then RSS ...`);
  await sleep(secs * 1000);
  for (const s of servers) {
    const st = readStatus(s.child.pid);
    out[s.id].idle = { afterSecs: secs, rssKb: st?.rss, anonKb: st?.anon };
    console.log(`  ${s.label.padEnd(15)} RSS ${fmtMB(st?.rss)} MB (anon ${fmtMB(st?.anon)} MB) ${secs} s after the flood`);
  }
}

async function metricsDelta(httpPort, before, c) {
  const after = await scrapeMetrics(httpPort);
  if (after.error || before.error) {
    const note = `case (${c}): /metrics scrape failed: ${after.error ?? before.error}`;
    console.log(`  ${note}`);
    return { note };
  }
  const d = (k) => after[k] - before[k];
  const delta = { cacheHits: d('cacheHits'), cacheMisses: d('cacheMisses'), fromCache: d('fromCache'), forwarded: d('forwarded'), upstream: d('upstream') };
  delta.note = `case (${c}): privatelink-dns /metrics deltas — cache hits ${fmtInt(delta.cacheHits)}, cache misses ${fmtInt(delta.cacheMisses)}, ` +
    `requests source=cache ${fmtInt(delta.fromCache)}, source=forward ${fmtInt(delta.forwarded)}, upstream requests ${fmtInt(delta.upstream)}`;
  console.log(`  ${delta.note}`);
  return delta;
}
