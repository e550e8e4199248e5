#!/usr/bin/env node
// The idle cost of privatelink-dns (no queries, no scrapes, a PrivateLink sync every 5 minutes)
// beside an idle one-thread Unbound, both read from /proc over the same window: CPU as % of a
// core, wakeups a second, RSS. A pure measurement: it prints the figures and asserts nothing
// (test/e2e/idle.test.ts checks the wakeup property). The work is bench/lib/idle.mjs.
// Usage: node bench/idle.mjs [--settle S] [--window S] [--keep]    (npm run build first)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll } from './lib/children.mjs';
import { fmtIdle, measureIdle } from './lib/idle.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

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

async function main() {
  const opt = parse(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-idle-'));
  process.on('exit', () => {
    killAll();
    if (!opt.keep) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`bench idle: kept ${work}`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  const result = await measureIdle({ root: ROOT, work, seconds: opt.window, settle: opt.settle, log: (l) => console.log(`bench ${l}`) });
  console.log(fmtIdle(result));
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(`bench idle: ${e.message}`);
  process.exit(1);
});
