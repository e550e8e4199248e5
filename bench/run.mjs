#!/usr/bin/env node
// Side-by-side DNS benchmark: privatelink-dns vs Unbound vs dnsmasq, driven by dnsperf, with the
// issue 16 goal table (throughput, CPU per miss, RSS per case, startup, p99 at an edge node's load).
// Everything runs on 127.0.0.1; every child process is killed on exit, error or signal.
// Usage: node bench/run.mjs --help
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, stopChild } from './lib/children.mjs';
import { CASES, runCase } from './lib/cases.mjs';
import { aggregate, issue7Targets, issue16Goals, issue26Goals } from './lib/goals.mjs';
import { parseArgs } from './lib/options.mjs';
import { profileManaged } from './lib/profile.mjs';
import { printReport, tables, writeReport } from './lib/report.mjs';
import { startUpstream, writeQueryFiles, ZONE, ZONE_SIZE } from './lib/servers.mjs';
import { fmtStartup, measureStartup } from './lib/startup.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

let OPT;
try {
  OPT = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exit(2);
}
const ctx = { opt: OPT, root: ROOT, work: null, engine: 'unknown' };

function cleanupWork() {
  if (ctx.work && !OPT.keep) {
    try { fs.rmSync(ctx.work, { recursive: true, force: true }); } catch { /* ignore */ }
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

function preflight() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run "npm run build" first');
  for (const tool of ['dnsperf', 'unbound', 'dnsmasq']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed`);
  }
}

/** The startup pass runs first, before any load, on the quietest machine this run will see. */
async function startupPass() {
  if (!OPT.startupRuns) return null;
  console.log(`\nbench: startup, exec → first answer (${OPT.startupRuns} runs, alternating with node -e 0)`);
  try {
    const s = await measureStartup({ root: ROOT, work: ctx.work, runs: OPT.startupRuns, nodeFlags: OPT.nodeFlags });
    console.log(`  node -e 0 ${fmtStartup(s.nodeNoop)}; static ${fmtStartup(s.static)}; snapshot ${fmtStartup(s.snapshot)}`);
    return s;
  } catch (e) {
    console.error(`bench: startup pass failed: ${e.message}`);
    return { error: e.message };
  }
}

/**
 * The issue 26 figures outside the dnsperf cases, each its own module in bench/lib, run after the
 * cases (no load of ours beside them): idle CPU beside an idle Unbound, a 10,000-name hub's RSS
 * beside BIND serving the same zone, and young-generation GCs across 100,000 cached answers.
 */
async function extraPasses() {
  const passes = {
    idle: ['./lib/idle.mjs', 'measureIdle', OPT.quick ? { seconds: 5, settle: 2 } : { seconds: 60, settle: 20 }],
    hub: ['./lib/hub-memory.mjs', 'measureHubMemory', { names: OPT.quick ? 1000 : 10000 }],
    gc: ['./lib/gc-count.mjs', 'measureGcCount', { answers: OPT.quick ? 20000 : 100000 }],
  };
  const out = {};
  for (const [name, [file, fn, args]] of Object.entries(passes)) {
    if (!OPT.extras.includes(name)) continue;
    console.log(`\nbench: ${name} pass`);
    try {
      const mod = await import(file);
      out[name] = await mod[fn]({ root: ROOT, work: ctx.work, ...args });
    } catch (e) {
      console.error(`bench: ${name} pass failed: ${e.message}`);
      out[name] = { error: e.message };
    }
  }
  return out;
}

async function main() {
  preflight();
  ctx.work = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-bench-'));
  const started = new Date();
  const loadStart = os.loadavg();
  console.log(`bench: work dir ${ctx.work}; duration ${OPT.duration}s × ${OPT.rounds} round(s); cases ${OPT.cases.join(',')}; ` +
    `node flags: ${OPT.nodeFlags.length ? OPT.nodeFlags.join(' ') : 'none'}; load average ${loadStart.map((x) => x.toFixed(2)).join(' / ')}`);
  const startup = await startupPass();

  const files = writeQueryFiles(ctx.work);
  const upstream = await startUpstream(ctx);
  console.log(`bench: upstream unbound on 127.0.0.1:${upstream.port} (${ZONE_SIZE} names in ${ZONE}.)`);
  const results = {};
  const agg = {};
  for (const c of OPT.cases) {
    results[c] = await runCase(ctx, c, { upPort: upstream.port, files });
    agg[c] = { pl: aggregate(results[c].pl), ub: aggregate(results[c].ub), dm: aggregate(results[c].dm) };
  }
  const profile = OPT.profile && OPT.cases.includes('a')
    ? await profileManaged(ctx, { upPort: upstream.port, managedFile: files.managed, outDir: path.join(HERE, 'out') })
    : null;
  await stopChild(upstream.child);

  const extra = await extraPasses();
  const report = {
    T: tables(agg, results, OPT), goals26: issue26Goals(agg, extra, OPT), goals16: issue16Goals(agg, { startup, opt: OPT }),
    targets7: issue7Targets(agg, results, OPT), results, extra,
  };
  printReport(report);
  if (!OPT.write) return;
  writeReport({ ...report, dir: HERE, root: ROOT, opt: OPT, started, loadStart, engine: ctx.engine, agg, startup, profile });
  console.log(`\nbench: wrote bench/RESULTS.md and bench/results.json (cases: ${OPT.cases.map((c) => CASES[c].title).join('; ')})`);
}

main().then(() => { killAll(); cleanupWork(); process.exit(0); }, (e) => {
  console.error(`bench: ${e.message}`);
  if (ctx.work) console.error(`bench: logs kept in ${ctx.work}`);
  OPT.keep = true;
  killAll();
  process.exit(1);
});
