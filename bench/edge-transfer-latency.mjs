#!/usr/bin/env node
// Query latency on an edge while it takes a zone at primaries.max_records (issue 22: "ordinary
// queries keep p99 under 10 ms during a transfer at the bound"). A hub publishes --names static
// names (33,000: ~49,500 records, under the edge's max_records 50,000); an edge (primaries.managed
// ["bulk.example"]) takes the zone, then is sent SIGUSR2 --rounds times (a full AXFR and install
// each time: assembly, zone -> table, the guard, the table build, the saved zone). A probe in its
// own process asks the edge one of its static entries every --interval ms; the answers sent
// between a SIGUSR2 and half a second after the edge logs the new zone are "during", those of the
// quiet seconds before the first round "idle". Every child is killed on exit.
// Usage: node bench/edge-transfer-latency.mjs [--names 33000] [--rounds 5] [--interval 5]
//          [--edge-cli PATH]... (one run per edge build, e.g. --edge-cli /other/tree/dist/cli.js --edge-cli dist/cli.js for a before/after)
//          [--edge-node-flags "--cpu-prof --cpu-prof-dir=/tmp/prof"] (node flags for the edges only)
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/dns-probe.mjs';
import { killAll, sleep, stopChild, track } from './lib/children.mjs';
import { bulkHubYaml, keyOnlyTransfer } from './lib/bulk-hub.mjs';
import { followJsonLog } from './lib/json-log.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const PROBE = path.join(HERE, 'lib', 'latency-probe.cjs');

const opts = { names: 33_000, rounds: 5, intervalMs: 5, edgeClis: [], idleMs: 3000, edgeNodeFlags: [] };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--names') opts.names = Number(process.argv[++i]);
  else if (a === '--rounds') opts.rounds = Number(process.argv[++i]);
  else if (a === '--interval') opts.intervalMs = Number(process.argv[++i]);
  else if (a === '--edge-cli') opts.edgeClis.push(path.resolve(process.argv[++i]));
  else if (a === '--edge-node-flags') opts.edgeNodeFlags = process.argv[++i].split(' ').filter(Boolean);
  else throw new Error(`unknown option ${a}`);
}
if (opts.edgeClis.length === 0) opts.edgeClis.push(path.join(ROOT, 'dist', 'cli.js'));

const ZONE = 'privatelink.rpz';
const SECRET = randomBytes(32).toString('base64'); // refused unless random and 32 bytes (hmac-sha256)
const STATIC_NAME = 'probe.edge.example';
const ROUND_TIMEOUT_MS = 120_000;

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { killAll(); process.exit(1); });

function hubYaml(stateDir, deadPort) {
  return bulkHubYaml({ names: opts.names, stateDir, deadPort, transfer: keyOnlyTransfer(SECRET) });
}

function edgeYaml(stateDir, hubPort, deadPort) {
  return `region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"], rate_limit: null }
upstream: { servers: ["127.0.0.1:${deadPort}"] }
records:
  entries:
    - { names: ["${STATIC_NAME}"], addresses: ["10.77.0.1"] }
primaries:
  zone: ${ZONE}
  servers: ["127.0.0.1:${hubPort}"]
  key: { name: fleet, algorithm: hmac-sha256, secret: "${SECRET}" }
  refresh: 1h
  retry: 1s
  timeout: 60s
  managed: ["bulk.example"]
  max_records: 50000
state_dir: ${stateDir}
log: { level: info }
`;
}

/** A daemon whose JSON log lines on stdout are kept (`lines`) and can be waited for. */
function startDaemon(label, cli, yamlPath, nodeFlags = []) {
  const proc = track(spawn(process.execPath, [...nodeFlags, cli, 'serve', '--config', yamlPath], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const log = followJsonLog(proc, label);
  const waitFor = (test, what, timeoutMs = ROUND_TIMEOUT_MS) => log.wait(test, timeoutMs, what);
  const lines = log.lines;
  return { proc, lines, waitFor };
}

function startProbe(port) {
  const proc = track(spawn(process.execPath, [PROBE, String(port), STATIC_NAME, String(opts.intervalMs), '10000000'], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const results = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      const [kind, at, ms] = l.split(' ');
      if (kind === 'ok') results.push({ at: Number(at), ms: Number(ms) });
      else if (kind === 'lost') results.push({ at: Number(at), ms: Number.POSITIVE_INFINITY });
    }
  });
  const stop = () => new Promise((resolve) => { proc.once('exit', () => resolve(results)); proc.stdin.end(); });
  return { stop };
}

const pct = (sorted, p) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
function summary(samples) {
  const answered = samples.filter((s) => Number.isFinite(s.ms)).map((s) => s.ms).sort((a, b) => a - b);
  return { queries: samples.length, lost: samples.length - answered.length, p50: pct(answered, 50), p99: pct(answered, 99), max: answered.at(-1) ?? NaN };
}

async function runEdge(cli, hubPort, dir) {
  const stateDir = fs.mkdtempSync(path.join(dir, 'edge-'));
  const yamlPath = path.join(stateDir, 'edge.yaml');
  fs.writeFileSync(yamlPath, edgeYaml(stateDir, hubPort, await freePort()));
  const edge = startDaemon('edge', cli, yamlPath, opts.edgeNodeFlags);
  const started = await edge.waitFor((r) => r.msg === 'privatelink-dns started', 'started');
  const port = started.dns[0].udp;
  await edge.waitFor((r) => r.msg === 'zone received from the primaries', 'first zone');
  await sleep(1000);
  const probe = startProbe(port);
  const idleFrom = Date.now();
  await sleep(opts.idleMs);
  const idleTo = Date.now();
  const windows = [];
  const installMs = [];
  for (let round = 0; round < opts.rounds; round++) {
    const from = Date.now();
    const seen = edge.lines.length;
    edge.proc.kill('SIGUSR2');
    const done = await edge.waitFor((r) => edge.lines.indexOf(r) >= seen && r.msg === 'zone updated from the primaries', `zone updated (round ${round + 1})`);
    installMs.push(Math.round(performance.timeOrigin + done.seenAt - from));
    await sleep(500); // the saved zone is written after the log line
    windows.push([from, Date.now()]);
    await sleep(500);
  }
  const results = await probe.stop();
  await stopChild(edge.proc);
  fs.rmSync(stateDir, { recursive: true, force: true });
  const during = results.filter((s) => windows.some(([a, b]) => s.at >= a && s.at <= b));
  if (process.env.BENCH_DUMP) fs.writeFileSync(process.env.BENCH_DUMP, JSON.stringify({ windows, results, lines: edge.lines.map((l) => [performance.timeOrigin + l.seenAt, l.msg]) }));
  const idle = results.filter((s) => s.at >= idleFrom && s.at <= idleTo);
  return { cli, idle: summary(idle), during: summary(during), installMs };
}

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-edge-xfr-'));
  try {
    const hubYamlPath = path.join(dir, 'hub.yaml');
    fs.writeFileSync(hubYamlPath, hubYaml(dir, await freePort()));
    const hub = startDaemon('hub', path.join(ROOT, 'dist', 'cli.js'), hubYamlPath);
    const hubStarted = await hub.waitFor((r) => r.msg === 'privatelink-dns started', 'hub started', 180_000);
    const hubPort = hubStarted.dns[0].tcp;
    await sleep(2000); // the hub publishes its zone after it starts
    console.log(`hub: ${opts.names} names on 127.0.0.1:${hubPort}; probe every ${opts.intervalMs} ms; ${opts.rounds} full transfers per edge; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const rows = [];
    for (const cli of opts.edgeClis) {
      const r = await runEdge(cli, hubPort, dir);
      rows.push(r);
      const line = (what, s) => `  ${what.padEnd(7)} queries ${String(s.queries).padStart(5)}  lost ${s.lost}  p50 ${fmt(s.p50)} ms  p99 ${fmt(s.p99)} ms  max ${fmt(s.max)} ms`;
      console.log(`edge ${path.relative(process.cwd(), cli) || cli}: transfer+install ${r.installMs.map((m) => `${m} ms`).join(', ')}`);
      console.log(line('idle', r.idle));
      console.log(line('during', r.during));
    }
    console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (the machine's other work shows up in every figure)`);
    await stopChild(hub.proc);
  } finally {
    killAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); killAll(); process.exit(1); });
