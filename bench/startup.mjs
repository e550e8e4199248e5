#!/usr/bin/env node
// exec → first answer of privatelink-dns (static config and from a snapshot), beside `node -e 0`.
// Usage: node bench/startup.mjs [--runs N] [--node-flags "FLAGS"] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll } from './lib/children.mjs';
import { fmtStartup, measureStartup } from './lib/startup.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt; };
const runs = Math.max(1, Math.round(Number(arg('--runs', '10'))) || 10);
const nodeFlags = arg('--node-flags', '').split(/\s+/).filter(Boolean);
const keep = argv.includes('--keep');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-startup-'));
const cleanup = () => { killAll(); if (!keep) fs.rmSync(work, { recursive: true, force: true }); };
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));

if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) {
  console.error('startup: dist/cli.js is missing: run "npm run build" first');
  process.exit(2);
}
console.log(`startup: ${runs} run(s), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
measureStartup({ root: ROOT, work, runs, nodeFlags }).then((r) => {
  console.log(`node -e 0 (spawn → exit):              ${fmtStartup(r.nodeNoop)}`);
  console.log(`serve, static entries (exec → answer): ${fmtStartup(r.static)}`);
  console.log(`serve, from snapshot (exec → answer):  ${fmtStartup(r.snapshot)}   goal ≤ 300 ms: ${r.snapshot.median <= 300 ? 'met' : 'not met'}`);
  for (const [k, v] of Object.entries(r.commands)) console.log(`# ${k}: ${v}`);
  process.exit(0);
}, (e) => {
  console.error(`startup: ${e.message} (logs in ${work})`);
  process.exitCode = 1;
  process.exit(1);
});
