// The bench's tables, printed and written to RESULTS.md / results.json.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandLines } from './dnsperf.mjs';
import { ISSUE16_HEADER, ISSUE26_HEADER } from './goals.mjs';
import { fmtInt, fmtMB, fmtMs, fmtPct, fmtRatio, mdTable, textTable, toolVersion } from './report-format.mjs';
import { CACHED_SET, MANAGED_QUERIES, MISS_ZONE, missCountFor, UNBOUND_THREADS, ZONE, ZONE_SIZE } from './servers.mjs';
import { fmtStartup } from './startup.mjs';

const LABEL = { pl: 'privatelink-dns', ub: 'Unbound', dm: 'dnsmasq' };
const IDS = ['pl', 'ub', 'dm'];

/** The per-server, ratio and CPU tables for the cases run: { name: [header, rows] }. */
export function tables(agg, results, opt) {
  const cases = Object.keys(agg);
  const main = [['case', 'server', 'QPS (mean of rounds)', 'rounds', 'lost', 'avg lat ms (max load)', 'p50 / p99 ms @ fixed rate', `p50 / p99 ms @${fmtInt(opt.lowRate)}`, 'peak RSS MB (anon)', 'server CPU %'], []];
  const ratio = [['case', 'QPS ÷ Unbound', 'QPS ÷ dnsmasq', 'p99 ÷ Unbound', 'p99 ÷ dnsmasq', 'RSS ÷ Unbound', 'RSS ÷ dnsmasq'], []];
  const cpu = [['case', 'privatelink-dns µs/q', 'Unbound µs/q', 'dnsmasq µs/q', 'pl ÷ Unbound', 'pl ÷ dnsmasq'], []];
  for (const c of cases) {
    const A = agg[c];
    for (const id of IDS) {
      const a = A[id];
      main[1].push([c, LABEL[id], fmtInt(a.qps), results[c][id].runs.map((r) => fmtInt(r.qps)).join(' / '), fmtPct(a.lossPct), fmtMs(a.avgLat),
        `${fmtMs(a.p50)} / ${fmtMs(a.p99)} @${fmtInt(a.latRate)}`, a.lowP99 === undefined ? '—' : `${fmtMs(a.lowP50)} / ${fmtMs(a.lowP99)}`,
        `${fmtMB(a.rss)} (${fmtMB(a.anon)})`, Number.isFinite(a.cpuPct) ? a.cpuPct.toFixed(0) : 'n/a']);
    }
    ratio[1].push([c, fmtRatio(A.pl.qps, A.ub.qps), fmtRatio(A.pl.qps, A.dm.qps), fmtRatio(A.pl.p99, A.ub.p99), fmtRatio(A.pl.p99, A.dm.p99), fmtRatio(A.pl.rss, A.ub.rss), fmtRatio(A.pl.rss, A.dm.rss)]);
    cpu[1].push([c, A.pl.cpuUs.toFixed(1), A.ub.cpuUs.toFixed(1), A.dm.cpuUs.toFixed(1), fmtRatio(A.pl.cpuUs, A.ub.cpuUs), fmtRatio(A.pl.cpuUs, A.dm.cpuUs)]);
  }
  return { main, ratio, cpu };
}

export function printReport({ T, goals26, goals16, targets7, results }) {
  console.log('\n=== results (privatelink-dns vs Unbound vs dnsmasq; fresh servers per case) ===');
  console.log(textTable(...T.main));
  console.log('\n=== privatelink-dns ratios ===');
  console.log(textTable(...T.ratio));
  console.log('\n=== server CPU µs per answered query ===');
  console.log(textTable(...T.cpu));
  console.log('\n=== issue 7 targets ===');
  console.log(textTable(['target', 'measured', ''], targets7));
  for (const c of Object.keys(results)) if (results[c].metricsDelta?.note) console.log(results[c].metricsDelta.note);
  console.log('\n=== issue 16 goals ===');
  console.log(textTable(ISSUE16_HEADER, goals16));
  console.log('\n=== issue 26 goals (performance round three) ===');
  console.log(textTable(ISSUE26_HEADER, goals26));
}

function settings(opt, engine) {
  const D = opt.duration;
  return [
    '## Settings', '',
    `- Every case starts a **fresh** privatelink-dns, Unbound and dnsmasq (stopped at its end), so no case inherits another's memory; each gets a ${opt.quick ? 1 : 3} s unmeasured warm-up on managed names.`,
    `- ${opt.rounds} round(s) × ${D} s per server per case, servers alternated within each round (privatelink-dns, Unbound, dnsmasq).`,
    `- UDP load: \`-c ${opt.clients} -q ${opt.outstanding}\`; TCP load: \`-c ${opt.tcpClients} -q ${opt.tcpOutstanding} -m tcp\`; query timeout \`-t 2\`.`,
    `- Latency: a pass per case and server at a fixed rate (\`-Q\`) of 50% of privatelink-dns's best QPS in that case, ${opt.latencyDuration} s, with \`dnsperf -v\`; p50/p99 from every per-query latency line. Cases (a) and (b) get a second pass at ${fmtInt(opt.lowRate)} qps (issue 16's p99 row).`,
    `- Unbound under test: num-threads ${UNBOUND_THREADS} (one per core), msg-cache 64m, rrset-cache 128m, local-zone/local-data for managed names, forward-zone "." to the upstream.`,
    '- dnsmasq under test: `address=` + `local=` per managed name, `server=` upstream, `--cache-size=10000 --dns-forward-max=2000` (default forward-max 150 would drop case (c) traffic).',
    `- privatelink-dns: started as a user would, \`node dist/cli.js serve --config …\`${opt.nodeFlags.length ? ` **with node flags \`${opt.nodeFlags.join(' ')}\`**` : ' (no node flags)'}; static \`addresses\` entries, \`access.rate_limit: false\`, default \`cache.size\`, log level info, HTTP listener on (/metrics read around (b) and (c)); \`listen.udp_io: ${opt.udpIo}\` → UDP engine **${engine}**.`,
    '- Server CPU %: (utime+stime) of the server process over the throughput runs ÷ wall time; 100% = one core (dnsmasq TCP children not counted).',
    `- Peak RSS: maximum VmRSS sampled every 100 ms from /proc/PID/status over the whole case (warm-up, throughput and latency passes); in brackets the maximum RssAnon (without file-backed pages such as the node executable). For (c) the RSS is read again after ${opt.idleWait > 0 ? `${opt.idleWait} s` : 'an idle wait (skipped in this run)'} with no load.`,
    '- Startup: `bench/lib/startup.mjs` spawns `node dist/cli.js serve --config CFG` and sends a UDP A query for a managed name every 1 ms until one is answered (exec → first answer), then SIGKILLs it; alternated with `node -e 0` (spawn → exit). "From a snapshot": a `privatelink` config (config/simulator.yaml\'s entries) whose `state_dir` holds a snapshot the daemon wrote after syncing against `privatelink-dns simulate`, the API endpoint then pointed at a closed loopback port. "Static": the bench\'s static-entries config.',
    '',
  ];
}

export function writeReport({ dir, root, opt, started, loadStart, engine, agg, results, T, goals26, goals16, targets7, startup, profile, extra }) {
  const versions = {
    node: process.version,
    unbound: toolVersion('unbound', ['-V'], /Version\s+(\S+)/),
    dnsmasq: toolVersion('dnsmasq', ['-v'], /Dnsmasq version\s+(\S+)/),
    dnsperf: toolVersion('dnsperf', ['-h'], /Version\s+(\S+)/),
    privatelinkDns: JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  };
  const gitRev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const args = process.argv.slice(2).join(' ');
  const loadEnd = os.loadavg();
  const md = [
    '# privatelink-dns benchmark results', '',
    `Generated by \`bench/run.mjs${args ? ` ${args}` : ''}\` on ${started.toISOString()} (${opt.quick ? 'QUICK smoke run — numbers are not meaningful' : 'full run'}). Method: see [README.md](README.md).`, '',
    '## Issue 26 goals (performance round three)', '',
    mdTable(ISSUE26_HEADER, goals26), '',
    '## Issue 16 goals', '',
    mdTable(ISSUE16_HEADER, goals16), '',
    '## Machine and versions', '',
    `- CPU: ${os.cpus().length} × ${(os.cpus()[0]?.model ?? 'unknown').trim()}; memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ${os.type()} ${os.release()}`,
    `- node ${versions.node}, Unbound ${versions.unbound}, dnsmasq ${versions.dnsmasq}, dnsperf ${versions.dnsperf}, privatelink-dns ${versions.privatelinkDns} (git ${gitRev}, working tree as built in dist/ at the time of the run)`,
    '- **Shared 2-core machine**: dnsperf, the upstream Unbound (forwarding cases) and the server under test compete for the same two cores, and other jobs may run at the same time. Numbers move ±15–30% run to run; compare servers only within this run.',
    `- Load average (1/5/15 min) at start ${loadStart.map((x) => x.toFixed(2)).join(' / ')}, at end ${loadEnd.map((x) => x.toFixed(2)).join(' / ')}.`, '',
    ...settings(opt, engine),
    '## Results', '',
    'QPS is the mean of the rounds (each round listed); "lost" is over all rounds at maximum load. Average latency is at maximum load (closed loop, mostly queueing in dnsperf); p50/p99 are from the fixed-rate passes.', '',
    mdTable(...T.main), '',
    '### privatelink-dns ÷ peer', '', mdTable(...T.ratio), '',
    '### Server CPU time per answered query (max-load runs)', '',
    'Server CPU seconds ÷ queries answered: unlike QPS it does not depend on how much CPU the shared machine left each server (dnsmasq TCP children excluded).', '',
    mdTable(...T.cpu), '',
  ];
  if (agg.c) {
    const rows = IDS.map((id) => [LABEL[id], fmtMB(agg.c[id].rss), fmtMB(agg.c[id].anon), agg.c[id].idleRss ? `${fmtMB(agg.c[id].idleRss)} (${fmtMB(agg.c[id].idleAnon)})` : 'not measured']);
    md.push('### Memory in the cache-miss flood (c)', '', mdTable(['server', 'peak RSS MB', 'peak anon MB', `RSS (anon) MB ${opt.idleWait} s after`], rows), '');
  }
  if (startup?.nodeNoop) {
    md.push('### Startup: exec → first answer', '', mdTable(['what', 'median (min–max) ms'], [
      ['`node -e 0` (spawn → exit)', fmtStartup(startup.nodeNoop)],
      ['`serve`, static entries', fmtStartup(startup.static)],
      ['`serve`, from a snapshot (API unreachable)', fmtStartup(startup.snapshot)],
    ]), '', '```', ...Object.values(startup.commands), '```', '');
  }
  md.push('### Issue 7 targets', '', mdTable(['target', 'measured', ''], targets7), '');
  const notes = Object.keys(results).map((c) => results[c].metricsDelta?.note).filter(Boolean);
  if (notes.length) md.push('### Cache observations (privatelink-dns /metrics deltas)', '', ...notes.map((n) => `- ${n}`), '');
  if (profile) {
    md.push('## CPU profile of privatelink-dns, managed names (UDP)', '',
      'The V8 profiler charges time inside a native function to the JavaScript function that called it: with the batch engine `onBatch` (udp-batch.js) is mostly the addon\'s `flush()` (one `sendmmsg` per batch); `recvmmsg` runs before JavaScript is entered and shows as `(program)`/idle.', '',
      `A separate instance under \`node --cpu-prof\` served case (a) for ${opt.duration} s (${fmtInt(profile.qps)} qps while profiled). Profile: \`${profile.file}\`. Top self time, as % of non-idle samples (idle ${((100 * profile.idle) / (profile.idle + profile.total)).toFixed(0)}% of the profile, which also covers start-up):`, '',
      mdTable(['self %', 'function (file:line)'], profile.rows.map(([k, us]) => [`${((100 * us) / profile.total).toFixed(1)}%`, `\`${k}\``])), '');
  }
  md.push('## Command lines', '', '```');
  const first = Object.values(results)[0];
  if (first) for (const id of IDS) md.push(`# ${LABEL[id]}: ${first.commands[id]}`);
  for (const [k, v] of commandLines) md.push(`# ${k}:`, v);
  md.push('```', '',
    `Query files: (a)/(d) \`managed.txt\` — ${MANAGED_QUERIES.length} A queries (${MANAGED_QUERIES.join(', ')}); (b) \`cached.txt\` — ${CACHED_SET} names of ${ZONE}. (upstream: ${ZONE_SIZE} names); ` +
    `(c) a fresh file per run of unique names \`rNqI.${MISS_ZONE}\` (${fmtInt(missCountFor(opt.duration))} names, \`-n 1\`), so no server ever sees a name twice.`, '');
  fs.writeFileSync(path.join(dir, 'RESULTS.md'), md.join('\n'));
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify({ started: started.toISOString(), options: opt, versions, engine, goals26, goals16, startup, results, extra, aggregates: agg, profile }, null, 2));
}
