// Aggregates per case and server, and the goal tables: issue 16 (the headline) and issue 7.
import { fmtInt, fmtMB, fmtMs, fmtRatio } from './report-format.mjs';
import { fmtStartup } from './startup.mjs';

const MB = 1024; // RSS figures are kB
const verdict = (ok) => (ok === undefined ? 'not measured' : ok ? 'met' : 'not met');

/** Mean QPS over rounds, loss, latency figures, peak RSS, CPU % and CPU µs per answered query. */
export function aggregate(e) {
  const runs = e.runs;
  const sum = (k) => runs.reduce((a, r) => a + r[k], 0);
  const qpsList = runs.map((r) => r.qps);
  const qps = qpsList.reduce((a, b) => a + b, 0) / qpsList.length;
  const cpuPct = runs.reduce((a, r) => a + r.serverCpuPct, 0) / runs.length;
  return {
    qps, qpsMin: Math.min(...qpsList), qpsMax: Math.max(...qpsList),
    lossPct: sum('sent') ? (100 * sum('lost')) / sum('sent') : NaN,
    avgLat: sum('completed') ? runs.reduce((a, r) => a + r.avgLatency * r.completed, 0) / sum('completed') : NaN,
    p50: e.latency?.p50, p99: e.latency?.p99, latRate: e.latency?.rate,
    lowP50: e.latencyLow?.p50, lowP99: e.latencyLow?.p99,
    rss: e.peakRssKb, anon: e.peakAnonKb,
    idleRss: e.idle?.rssKb, idleAnon: e.idle?.anonKb, idleSecs: e.idle?.afterSecs,
    cpuPct, cpuUs: ((cpuPct / 100) * 1e6) / qps,
  };
}

/**
 * Issue 16's table: [figure, privatelink-dns, peers (same run), goal, result] — one row per figure,
 * 'not measured' when its case (or the startup pass) was not run.
 */
export function issue16Goals(agg, { startup, opt }) {
  const rows = [];
  const row = (figure, pl, peers, goal, ok) => rows.push([figure, pl, peers, goal, verdict(ok)]);
  const C = agg.c;
  if (C) {
    row('(c) forwarded cache misses, QPS', `${fmtInt(C.pl.qps)} (${fmtRatio(C.pl.qps, C.ub.qps)} Unbound, ${fmtRatio(C.pl.qps, C.dm.qps)} dnsmasq)`,
      `Unbound ${fmtInt(C.ub.qps)}, dnsmasq ${fmtInt(C.dm.qps)}`, '≥ 1.0× Unbound and ≥ 2× dnsmasq', C.pl.qps >= C.ub.qps && C.pl.qps >= 2 * C.dm.qps);
    row('(c) server CPU per miss', `${C.pl.cpuUs.toFixed(1)} µs (${fmtRatio(C.pl.cpuUs, C.ub.cpuUs)})`, `Unbound ${C.ub.cpuUs.toFixed(1)} µs, dnsmasq ${C.dm.cpuUs.toFixed(1)} µs`,
      '≤ Unbound\'s', C.pl.cpuUs <= C.ub.cpuUs);
  } else {
    row('(c) forwarded cache misses, QPS', 'case (c) not run', '—', '≥ 1.0× Unbound and ≥ 2× dnsmasq', undefined);
    row('(c) server CPU per miss', 'case (c) not run', '—', '≤ Unbound\'s', undefined);
  }
  const rssCases = ['a', 'b'].filter((c) => agg[c]);
  const flags = opt.nodeFlags.length ? `node flags ${opt.nodeFlags.join(' ')}` : 'no node flags';
  if (rssCases.length) {
    const worst = rssCases.reduce((w, c) => (agg[c].pl.rss > agg[w].pl.rss ? c : w));
    const P = agg[worst].pl;
    row(`peak RSS, managed/cached load (${rssCases.join(', ')}), \`serve\` with ${flags}`, `${fmtMB(P.rss)} MB in (${worst}) (anon ${fmtMB(P.anon)} MB)`,
      rssCases.map((c) => `Unbound ${fmtMB(agg[c].ub.rss)}, dnsmasq ${fmtMB(agg[c].dm.rss)} MB (${c})`).join('; '), '≤ 64 MB', P.rss <= 64 * MB);
  } else {
    row('peak RSS, managed/cached load', 'cases (a), (b) not run', '—', '≤ 64 MB', undefined);
  }
  if (C) {
    const idle = C.pl.idleRss;
    const idleText = idle ? `${fmtMB(idle)} MB ${C.pl.idleSecs} s after (anon ${fmtMB(C.pl.idleAnon)} MB)` : 'after: not measured (--quick / --idle-wait 0)';
    row('peak RSS during a cache-miss flood (c), and after', `${fmtMB(C.pl.rss)} MB peak (anon ${fmtMB(C.pl.anon)} MB); ${idleText}`,
      `Unbound ${fmtMB(C.ub.rss)} MB, dnsmasq ${fmtMB(C.dm.rss)} MB peak`, '≤ 96 MB, and < 70 MB within a minute after',
      C.pl.rss > 96 * MB ? false : idle ? idle < 70 * MB && C.pl.idleSecs <= 60 : undefined);
  } else {
    row('peak RSS during a cache-miss flood (c), and after', 'case (c) not run', '—', '≤ 96 MB, and < 70 MB within a minute after', undefined);
  }
  if (startup?.snapshot?.n) {
    row('exec → first answer from a snapshot (median, min–max)', fmtStartup(startup.snapshot),
      `\`node -e 0\` ${fmtStartup(startup.nodeNoop)}; static config ${fmtStartup(startup.static)}`, '≤ 300 ms', startup.snapshot.median <= 300);
  } else {
    row('exec → first answer from a snapshot', startup?.error ? `failed: ${startup.error}` : 'not run (--no-startup)', '—', '≤ 300 ms', undefined);
  }
  for (const [c, what] of [['a', 'managed'], ['b', 'cached']]) {
    const X = agg[c];
    if (X && X.pl.lowP99 !== undefined) {
      row(`p99 at ${fmtInt(opt.lowRate)} qps, ${what} (${c})`, `${fmtMs(X.pl.lowP99)} ms (${fmtRatio(X.pl.lowP99, X.ub.lowP99)})`,
        `Unbound ${fmtMs(X.ub.lowP99)} ms, dnsmasq ${fmtMs(X.dm.lowP99)} ms`, '≤ Unbound\'s', X.pl.lowP99 <= X.ub.lowP99);
    } else {
      row(`p99 at ${fmtInt(opt.lowRate)} qps, ${what} (${c})`, `case (${c}) not run`, '—', '≤ Unbound\'s', undefined);
    }
  }
  return rows;
}
export const ISSUE16_HEADER = ['figure', 'privatelink-dns', 'peers, same run', 'goal', 'result'];

/** Issue 7's targets (kept for continuity): [target, measured, result]. */
export function issue7Targets(agg, results, opt) {
  const t = [];
  const A = agg.a;
  if (A) {
    t.push(['managed UDP QPS ≥ 0.8× Unbound', fmtRatio(A.pl.qps, A.ub.qps), verdict(A.pl.qps >= 0.8 * A.ub.qps)]);
    t.push(['managed UDP QPS ≥ 1.0× dnsmasq', fmtRatio(A.pl.qps, A.dm.qps), verdict(A.pl.qps >= A.dm.qps)]);
    t.push([`managed p99 at ½ max (${fmtInt(A.pl.latRate)} qps) ≤ 1 ms`, `${fmtMs(A.pl.p99)} ms (Unbound ${fmtMs(A.ub.p99)} ms, dnsmasq ${fmtMs(A.dm.p99)} ms at the same rate)`, verdict(A.pl.p99 <= 0.001)]);
    if (A.pl.lowP99 !== undefined) t.push([`(for reference) managed p99 at ${fmtInt(opt.lowRate)} qps ≤ 1 ms`, `${fmtMs(A.pl.lowP99)} ms`, verdict(A.pl.lowP99 <= 0.001)]);
  }
  const B = agg.b;
  if (B) {
    const d = results.b.metricsDelta;
    const note = d && Number.isFinite(d.cacheHits) && d.cacheHits + d.fromCache === 0 ? ' (no cache hits observed: forwarding, not cache)' : '';
    t.push([`cached forwarded QPS ≥ 0.8× Unbound${note}`, fmtRatio(B.pl.qps, B.ub.qps), verdict(B.pl.qps >= 0.8 * B.ub.qps)]);
    t.push([`cached forwarded QPS ≥ 1.0× dnsmasq${note}`, fmtRatio(B.pl.qps, B.dm.qps), verdict(B.pl.qps >= B.dm.qps)]);
  }
  for (const c of ['a', 'b', 'c', 'd'].filter((x) => agg[x])) {
    const p = agg[c].pl;
    t.push([`${c === 'a' || c === 'b' ? '' : '(for reference) '}RSS in case (${c}) ≤ 80 MB`, `${fmtMB(p.rss)} MB (anon ${fmtMB(p.anon)} MB)`, verdict(p.rss <= 80 * MB)]);
  }
  return t;
}

/**
 * Issue 26's table (performance round three): [figure, privatelink-dns, peers (same run), goal,
 * result]. `extra` holds the passes outside the dnsperf cases: `idle` (bench/lib/idle.mjs), `hub`
 * (bench/lib/hub-memory.mjs) and `gc` (bench/lib/gc-count.mjs); each may be missing or carry `error`.
 */
export function issue26Goals(agg, extra, opt) {
  const rows = [];
  const row = (figure, pl, peers, goal, ok) => rows.push([figure, pl, peers, goal, verdict(ok)]);
  for (const [c, what] of [['a', 'managed'], ['b', 'cached']]) {
    const X = agg[c];
    const figure = `p99 at ${fmtInt(opt.lowRate)} qps, ${what} (${c})`;
    if (X && X.pl.lowP99 !== undefined) {
      row(figure, `${fmtMs(X.pl.lowP99)} ms (${fmtRatio(X.pl.lowP99, X.ub.lowP99)})`, `Unbound ${fmtMs(X.ub.lowP99)} ms, dnsmasq ${fmtMs(X.dm.lowP99)} ms`, '≤ Unbound\'s', X.pl.lowP99 <= X.ub.lowP99);
    } else row(figure, `case (${c}) not run`, '—', '≤ Unbound\'s', undefined);
  }
  for (const [c, what] of [['a', 'managed'], ['b', 'cached']]) {
    const X = agg[c];
    const figure = `p50 at half of max load, ${what} (${c})`;
    if (X && X.pl.p50 !== undefined) {
      row(`${figure}, ${fmtInt(X.pl.latRate)} qps`, `${fmtMs(X.pl.p50)} ms (${fmtRatio(X.pl.p50, X.ub.p50)})`, `Unbound ${fmtMs(X.ub.p50)} ms, dnsmasq ${fmtMs(X.dm.p50)} ms`, '≤ 1.2× Unbound\'s', X.pl.p50 <= 1.2 * X.ub.p50);
    } else row(figure, `case (${c}) not run`, '—', '≤ 1.2× Unbound\'s', undefined);
  }
  const C = agg.c;
  if (C) {
    row('(c) forwarded cache misses, QPS', `${fmtInt(C.pl.qps)} (${fmtRatio(C.pl.qps, C.ub.qps)}); ${C.pl.cpuUs.toFixed(1)} µs CPU per miss`,
      `Unbound ${fmtInt(C.ub.qps)} (${C.ub.cpuUs.toFixed(1)} µs), dnsmasq ${fmtInt(C.dm.qps)}`, '≥ 1.0× Unbound', C.pl.qps >= C.ub.qps);
  } else row('(c) forwarded cache misses, QPS', 'case (c) not run', '—', '≥ 1.0× Unbound', undefined);
  for (const c of ['a', 'b']) {
    const X = agg[c];
    const figure = `peak RSS under ${c === 'a' ? 'managed' : 'cached'} load (${c})`;
    if (X) {
      row(figure, `${fmtMB(X.pl.rss)} MB (anon ${fmtMB(X.pl.anon)} MB)`, `Unbound ${fmtMB(X.ub.rss)} MB (anon ${fmtMB(X.ub.anon)}), dnsmasq ${fmtMB(X.dm.rss)} MB`,
        '≤ 64 MB; anon ≤ 20 MB', X.pl.rss <= 64 * MB && X.pl.anon <= 20 * MB);
    } else row(figure, `case (${c}) not run`, '—', '≤ 64 MB; anon ≤ 20 MB', undefined);
  }
  const idle = extra.idle;
  if (idle && !idle.error) {
    // Run time from schedstat (ns), not utime+stime (10 ms ticks: a 60 s window cannot see 0.01 %).
    const fig = (s) => `${s.cpuPctRun.toFixed(4)} % of a core (ticks ${s.cpuPct.toFixed(3)} %), ${s.wakeupsPerS.toFixed(2)} wakeups/s, RSS ${s.rssMb.toFixed(1)} MB`;
    row(`idle CPU, one PrivateLink entry, ${Math.round(idle.seconds)} s after ${idle.settle} s settling`, fig(idle.pldns), `Unbound ${fig(idle.unbound)}`, '≤ 0.05 %', idle.pldns.cpuPctRun <= 0.05);
  } else row('idle CPU, static config', idle?.error ? `failed: ${idle.error}` : 'not measured', '—', '≤ 0.05 %', undefined);
  const hub = extra.hub;
  if (hub && !hub.error) {
    row(`hub RSS with ${fmtInt(hub.names)} names, serving (after an AXFR and ${hub.ixfrs} IXFRs)`, `${hub.hub.servingMb.toFixed(1)} MB (${(hub.hub.servingMb / hub.bind.servingMb).toFixed(2)}× named); anon ${hub.hub.anonMb.toFixed(1)} MB`,
      `named ${hub.bind.servingMb.toFixed(1)} MB serving the same zone (export --format rpz)`, '≤ 2× BIND\'s', hub.hub.servingMb <= 2 * hub.bind.servingMb);
    row(`hub RSS with ${fmtInt(hub.names)} names, idle after start`, `${hub.hub.idleMb.toFixed(1)} MB (${(hub.hub.idleMb / hub.bind.idleMb).toFixed(2)}× named)`,
      `named ${hub.bind.idleMb.toFixed(1)} MB after loading it`, '≤ 2× BIND\'s', hub.hub.idleMb <= 2 * hub.bind.idleMb);
  } else row('hub RSS with 10,000 names', hub?.error ? `failed: ${hub.error}` : 'not measured', '—', '≤ 2× BIND\'s', undefined);
  const gc = extra.gc;
  if (gc && !gc.error) {
    row(`young-generation GCs across ${fmtInt(gc.answers)} cached / ${fmtInt(gc.managed.answers)} managed answers`,
      `${gc.scavenges} / ${gc.managed.scavenges} (full: ${gc.full} / ${gc.managed.full}; ${fmtInt(gc.loops.cached)} / ${fmtInt(gc.loops.managed)} loop turns)`, '—', '0', gc.scavenges === 0 && gc.managed.scavenges === 0);
  } else row('young-generation GCs across 100,000 cached answers', gc?.error ? `failed: ${gc.error}` : 'not measured', '—', '0', undefined);
  return rows;
}
export const ISSUE26_HEADER = ISSUE16_HEADER;
