// Hub memory at N names beside BIND 9 serving the same zone (issue 26, "hub RSS with 10,000 names").
//
// privatelink-dns: `node dist/cli.js serve --config hub.yaml` with N static names (as
// bench/transfer.mjs builds them) publishing privatelink.rpz; RSS and RssAnon read from /proc when
// the zone is published ("after start"), after a settle ("idle"), and after serving one AXFR and
// `ixfrs` IXFRs ("serving"): each IXFR follows a SIGHUP reload of a config with `changed` names'
// addresses moved, so the hub holds a real journal.
// BIND: the same zone from `node dist/cli.js export --format rpz` (same state_dir, so the same
// serial) loaded as a primary zone by `named` (ixfr-from-differences: the same changes, exported
// again and reloaded with SIGHUP, make its journal); RSS read after load and after the same AXFR and
// IXFRs. Both clients are kdig. Loopback only, free ports, every wait bounded, everything killed and
// the temp dir removed at the end (unless `keep`).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readStatus } from './proc-stats.mjs';
import { killAll, sleep, stopChild, track } from './children.mjs';
import { followJsonLog } from './json-log.mjs';
import { BULK_ZONE, bulkHubYaml } from './bulk-hub.mjs';
import { freePort } from './dns-probe.mjs';

const ZONE = BULK_ZONE;
const mb = (kb) => +(kb / 1024).toFixed(1);


function run(cmd, args, { timeoutMs = 120_000, maxBuffer = 256 << 20 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeoutMs, timeout: timeoutMs, maxBuffer, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export function hubYaml({ names, stateDir, deadPort, round = 0, changed = 0 }) {
  return bulkHubYaml({ names, stateDir, deadPort, round, changed, transfer: '  allow: ["127.0.0.0/8"]' });
}

/** kdig AXFR or IXFR=serial over TCP: {records, messages, soaSerial, incremental}. */
async function kdigXfr(port, type, serial) {
  const args = [`@127.0.0.1`, '-p', String(port), '+tcp', '+noall', '+answer', '+nocomments', type === 'AXFR' ? 'AXFR' : `IXFR=${serial}`, ZONE];
  const out = await run('kdig', args);
  const rrs = out.split('\n').filter((l) => l && !l.startsWith(';'));
  const soas = rrs.filter((l) => /\sSOA\s/.test(l));
  const first = soas[0]?.trim().split(/\s+/);
  return { records: rrs.length, soaSerial: first ? Number(first[6]) : NaN, soas: soas.length, incremental: type !== 'AXFR' && soas.length > 2 };
}

async function soaSerial(port) {
  const out = await run('kdig', ['@127.0.0.1', '-p', String(port), '+short', 'SOA', ZONE], { timeoutMs: 5000 });
  const f = out.trim().split(/\s+/);
  return f.length >= 7 ? Number(f[2]) : NaN;
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const statusOf = (pid) => {
  const s = readStatus(pid);
  if (!s) throw new Error(`process ${pid} is gone`);
  return { rssMb: mb(s.rss), anonMb: mb(s.anon), hwmMb: mb(s.hwm) };
};

async function measureHub({ cli, dir, names, ixfrs, changed, settleMs, nodeFlags, heapSnapshot }) {
  const stateDir = path.join(dir, 'hub-state');
  fs.mkdirSync(stateDir);
  const deadPort = await freePort();
  const cfg = path.join(dir, 'hub.yaml');
  fs.writeFileSync(cfg, hubYaml({ names, stateDir, deadPort }));
  const child = track(spawn(process.execPath, [...nodeFlags, cli, 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const log = followJsonLog(child, 'hub');
  const out = { pid: child.pid };
  try {
    const started = await log.wait((l) => l.msg === 'privatelink-dns started', 180_000, 'privatelink-dns started');
    await log.wait((l) => l.msg === 'policy zone published' && l.zone === ZONE, 60_000, 'policy zone published');
    const port = started.dns[0].tcp;
    out.afterStart = statusOf(child.pid);
    await sleep(settleMs);
    out.idle = statusOf(child.pid);
    const axfr = await kdigXfr(port, 'AXFR');
    if (!(axfr.records >= names + 3)) throw new Error(`hub AXFR has ${axfr.records} records, expected at least ${names + 3}`);
    out.afterAxfr = statusOf(child.pid);
    const serials = [axfr.soaSerial];
    const ixfr = [];
    for (let round = 1; round <= ixfrs; round++) {
      // A new serial needs a new second (serials are data times; a same-second change is previous + 1 anyway).
      fs.writeFileSync(cfg, hubYaml({ names, stateDir, deadPort, round, changed }));
      const before = log.lines.length;
      child.kill('SIGHUP');
      await log.wait((l) => log.lines.indexOf(l) >= before && l.msg === 'policy zone published' && l.zone === ZONE, 120_000, `publish after reload ${round}`);
      const x = await kdigXfr(port, 'IXFR', serials[serials.length - 1]);
      if (!x.incremental) throw new Error(`hub IXFR from ${serials[serials.length - 1]} was not incremental (${x.records} records)`);
      ixfr.push(x.records);
      serials.push(x.soaSerial);
    }
    // The oldest serial too: an IXFR over every change the journal holds.
    const all = await kdigXfr(port, 'IXFR', serials[0]);
    if (!all.incremental) throw new Error('hub IXFR from the first serial was not incremental');
    out.afterIxfr = statusOf(child.pid);
    await sleep(settleMs);
    out.serving = statusOf(child.pid);
    if (heapSnapshot) {
      child.kill('SIGUSR1');
      await sleep(heapSnapshot);
    }
    out.axfrRecords = axfr.records;
    out.ixfrRecords = ixfr;
    out.serials = serials;
    return { ...out, cfg, stateDir };
  } finally {
    await stopChild(child);
  }
}

function namedConf(dir, port) {
  return `options {
  directory "${dir}";
  pid-file none;
  session-keyfile none;
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  querylog no;
  allow-transfer { 127.0.0.1; };
  ixfr-from-differences yes;
  max-ixfr-ratio unlimited;
};
controls { };
zone "${ZONE}" { type primary; file "${ZONE}.db"; };
`;
}

/** Writes the export whole and then renames it in place: named never reads half a file. */
async function exportRpz(cli, cfg, file, mtime) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, await run(process.execPath, [cli, 'export', '--config', cfg, '--format', 'rpz']));
  if (mtime) fs.utimesSync(tmp, mtime, mtime);
  fs.renameSync(tmp, file);
}

async function measureBind({ cli, dir, hub, names, ixfrs, changed, settleMs }) {
  const bdir = path.join(dir, 'named');
  fs.mkdirSync(bdir);
  const zoneFile = path.join(bdir, `${ZONE}.db`);
  const deadPort = await freePort();
  const cfg = path.join(dir, 'export.yaml');
  // The same state_dir as the hub's: the export carries the hub's serial for the same content.
  fs.writeFileSync(cfg, hubYaml({ names, stateDir: hub.stateDir, deadPort }));
  await exportRpz(cli, cfg, zoneFile);
  const port = await freePort();
  fs.writeFileSync(path.join(bdir, 'named.conf'), namedConf(bdir, port));
  const named = (await run('sh', ['-c', 'command -v named'])).trim();
  const child = track(spawn(named, ['-g', '-4', '-c', path.join(bdir, 'named.conf'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { log += d; if (log.length > 1 << 20) log = log.slice(-(1 << 19)); });
  const out = { pid: child.pid, version: (await run(named, ['-v'])).trim() };
  try {
    await waitFor(async () => /running$/m.test(log) && (await soaSerial(port)) > 0, 120_000, 'named to load the zone');
    out.afterStart = statusOf(child.pid);
    await sleep(settleMs);
    out.idle = statusOf(child.pid);
    const axfr = await kdigXfr(port, 'AXFR');
    if (axfr.records !== hub.axfrRecords) throw new Error(`named AXFR has ${axfr.records} records, the hub's ${hub.axfrRecords}`);
    out.afterAxfr = statusOf(child.pid);
    const serials = [axfr.soaSerial];
    fs.mkdirSync(path.join(dir, 'export-state'));
    for (let round = 1; round <= ixfrs; round++) {
      await sleep(1100); // the export's serial is the clock's second for changed content
      fs.writeFileSync(cfg, hubYaml({ names, stateDir: path.join(dir, 'export-state'), deadPort, round, changed }));
      // named reloads a zone whose file is newer than its load (second granularity): the file is
      // dated ahead, and SIGHUP repeated (bounded) in case one came while it was busy.
      await exportRpz(cli, cfg, zoneFile, new Date(Date.now() + 2000));
      const want = Number(/serial (\d+)/.exec(fs.readFileSync(zoneFile, 'utf8'))?.[1]);
      let loaded = false;
      for (let attempt = 0; attempt < 6 && !loaded; attempt++) {
        child.kill('SIGHUP');
        loaded = await waitFor(async () => (await soaSerial(port)) === want, 10_000, 'reload').then(() => true, () => false);
      }
      if (!loaded) throw new Error(`named did not load serial ${want} after 6 reloads; its log ends:\n${log.slice(-2000)}`);
      const x = await kdigXfr(port, 'IXFR', serials[serials.length - 1]);
      if (!x.incremental) throw new Error(`named IXFR from ${serials[serials.length - 1]} was not incremental (${x.records} records)`);
      serials.push(x.soaSerial);
    }
    await kdigXfr(port, 'IXFR', serials[0]);
    out.afterIxfr = statusOf(child.pid);
    await sleep(settleMs);
    out.serving = statusOf(child.pid);
    out.axfrRecords = axfr.records;
    out.threads = Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
    return out;
  } finally {
    await stopChild(child);
  }
}

/**
 * Hub RSS at `names` names beside named's for the same zone. `root`: the repo (dist/cli.js is
 * run); `work`: an existing directory to work in (a fresh temp dir inside it is made and removed).
 * Returns { names, loadAvg, hub: {rssMb, anonMb, afterStartMb, idleMb, servingMb, ...}, bind: {...}, ratio, anonRatio }.
 */
export async function measureHubMemory({ root, work = os.tmpdir(), names = 10_000, ixfrs = 3, changed = 100, settleMs = 15_000, keep = false, nodeFlags = [], heapSnapshot = 0 } = {}) {
  const cli = path.join(root, 'dist', 'cli.js');
  const dir = fs.mkdtempSync(path.join(work, 'pldns-hubmem-'));
  const loadStart = os.loadavg().map((x) => +x.toFixed(2));
  try {
    const hub = await measureHub({ cli, dir, names, ixfrs, changed, settleMs, nodeFlags, heapSnapshot });
    const bind = await measureBind({ cli, dir, hub, names, ixfrs, changed, settleMs });
    const pick = (m) => ({ rssMb: m.serving.rssMb, anonMb: m.serving.anonMb, afterStartMb: m.afterStart.rssMb, idleMb: m.idle.rssMb, afterAxfrMb: m.afterAxfr.rssMb, afterIxfrMb: m.afterIxfr.rssMb, servingMb: m.serving.rssMb, peakMb: m.serving.hwmMb, anon: { afterStart: m.afterStart.anonMb, idle: m.idle.anonMb, afterAxfr: m.afterAxfr.anonMb, afterIxfr: m.afterIxfr.anonMb, serving: m.serving.anonMb } });
    return {
      names,
      records: hub.axfrRecords,
      ixfrs,
      changedPerIxfr: changed,
      loadAvg: { start: loadStart, end: os.loadavg().map((x) => +x.toFixed(2)) },
      hub: { ...pick(hub), ixfrRecords: hub.ixfrRecords },
      bind: { ...pick(bind), version: bind.version, threads: bind.threads },
      ratio: +(hub.serving.rssMb / bind.serving.rssMb).toFixed(2),
      anonRatio: +(hub.serving.anonMb / bind.serving.anonMb).toFixed(2),
      goal: 'hub RSS serving <= 2x named RSS serving the same zone',
      met: hub.serving.rssMb <= 2 * bind.serving.rssMb,
    };
  } catch (err) {
    killAll();
    throw err;
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
