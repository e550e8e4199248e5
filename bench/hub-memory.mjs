#!/usr/bin/env node
// Hub memory at N names beside BIND 9 serving the same zone (issue 26): see bench/lib/hub-memory.mjs.
// Usage: node bench/hub-memory.mjs [--names 10000] [--ixfrs 3] [--changed 100] [--settle 15] [--keep] [--no-write] [--node-flags "…"]
// Needs a built dist/, kdig (knot-dnsutils) and named (bind9). Writes bench/results-hub-memory.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll } from './lib/children.mjs';
import { measureHubMemory } from './lib/hub-memory.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const opts = { names: 10_000, ixfrs: 3, changed: 100, settleMs: 15_000, keep: false, write: true, nodeFlags: [] };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--names') opts.names = Number(process.argv[++i]);
  else if (a === '--ixfrs') opts.ixfrs = Number(process.argv[++i]);
  else if (a === '--changed') opts.changed = Number(process.argv[++i]);
  else if (a === '--settle') opts.settleMs = Number(process.argv[++i]) * 1000;
  else if (a === '--keep') opts.keep = true;
  else if (a === '--heap-snapshot') opts.heapSnapshot = 5000; // SIGUSR1 at the end: pair with --node-flags "--heapsnapshot-signal=SIGUSR1 --diagnostic-dir=DIR"
  else if (a === '--node-flags') opts.nodeFlags = process.argv[++i].split(' ').filter(Boolean);
  else if (a === '--no-write') opts.write = false;
  else throw new Error(`unknown option ${a}`);
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { killAll(); process.exit(1); });

const result = await measureHubMemory({ root: ROOT, work: os.tmpdir(), ...opts });
const row = (name, m) => `${name.padEnd(16)} ${String(m.afterStartMb).padStart(8)} ${String(m.idleMb).padStart(8)} ${String(m.afterAxfrMb).padStart(8)} ${String(m.afterIxfrMb).padStart(8)} ${String(m.servingMb).padStart(8)} ${String(m.anonMb).padStart(8)} ${String(m.peakMb).padStart(8)}`;
console.log(`${result.names} names, ${result.records} AXFR records, ${result.ixfrs} IXFRs of ${result.changedPerIxfr} changed names; load ${result.loadAvg.start[0]} -> ${result.loadAvg.end[0]}`);
console.log(`${'MB (VmRSS)'.padEnd(16)} ${'start'.padStart(8)} ${'idle'.padStart(8)} ${'AXFR'.padStart(8)} ${'IXFRs'.padStart(8)} ${'serving'.padStart(8)} ${'anon'.padStart(8)} ${'peak'.padStart(8)}`);
console.log(row('privatelink-dns', result.hub));
console.log(row(`named (${result.bind.threads} thr)`, result.bind));
console.log(`ratio serving RSS ${result.ratio}x (anon ${result.anonRatio}x); goal <= 2x: ${result.met ? 'met' : 'not met'}`);
if (opts.write) fs.writeFileSync(path.join(HERE, 'results-hub-memory.json'), `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`);
