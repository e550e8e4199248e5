#!/usr/bin/env node
// What a NOTIFY burst to many learned secondaries costs the hub's answers. One hub (the real CLI,
// static names, no simulator) on 127.0.0.1 and N simulated secondaries in this process, each a UDP
// socket on its own loopback address 127.1.x.y port 53 (the port a hub sends learned NOTIFYs to):
// each signs an SOA check (so the hub learns it, with its key), acknowledges every NOTIFY with a
// signed answer, then checks the SOA again and, with --follow ixfr (default), asks an IXFR over TCP
// from its address, as an edge does. A separate process (test/helpers/udp-latency-probe.cjs) asks
// the hub a managed name every --interval ms throughout; its answers are split into the quiet
// windows and the bursts (from the hub's "policy zone published" to the last secondary done).
// The hub syncs every second from the simulator (`privatelink-dns simulate`); each round changes
// the endpoint's address there: the next sync publishes a new serial, one burst.
// Needs root (port 53 on 127.1.x.y). Every child is killed on exit.
// The burst window is --burst seconds from each publish; run once with --secondaries 0 for the
// publish's own cost (sync, zone build) in the same window.
// Usage: node bench/notify-burst.mjs [--secondaries 1000] [--rounds 3] [--interval 5] [--quiet 4] [--burst 3] [--follow ixfr|soa|none] [--no-write] [--out FILE]
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './lib/proc-stats.mjs';
import { followJsonLog } from './lib/json-log.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PROBE = path.join(ROOT, 'test', 'helpers', 'udp-latency-probe.cjs');
const require = createRequire(import.meta.url);
const { signRequest } = require(path.join(ROOT, 'dist', 'fleet', 'codec', 'tsig.js'));
const { encodeMessage, parseMessage } = require(path.join(ROOT, 'dist', 'fleet', 'codec', 'message.js'));
const { zoneRecordToWire, wireToZoneRecord } = require(path.join(ROOT, 'dist', 'fleet', 'codec', 'zone-record-wire.js'));
const { tsigAuthenticator } = require(path.join(ROOT, 'dist', 'fleet', 'primary', 'tsig-auth.js'));
const { frameMessage } = require(path.join(ROOT, 'dist', 'wire', 'tcp-frames.js'));

const opts = { secondaries: 1000, rounds: 3, intervalMs: 5, quietS: 4, burstS: 3, follow: 'ixfr', write: true, names: 200 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--secondaries') opts.secondaries = Number(process.argv[++i]);
  else if (a === '--rounds') opts.rounds = Number(process.argv[++i]);
  else if (a === '--interval') opts.intervalMs = Number(process.argv[++i]);
  else if (a === '--quiet') opts.quietS = Number(process.argv[++i]);
  else if (a === '--burst') opts.burstS = Number(process.argv[++i]);
  else if (a === '--follow') opts.follow = process.argv[++i];
  else if (a === '--no-write') opts.write = false;
  else if (a === '--out') opts.out = process.argv[++i];
  else throw new Error(`unknown option ${a}`);
}
if (!['ixfr', 'soa', 'none'].includes(opts.follow)) throw new Error('--follow is ixfr, soa or none');
if (opts.secondaries > 250 * 250) throw new Error('at most 62,500 secondaries');

const ZONE = 'privatelink.rpz';
const SECRET = randomBytes(32).toString('base64'); // refused unless random and 32 bytes (hmac-sha256)
const KEY = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'base64') };
const QR = 0x8000;
const AA = 0x0400;
const OPCODE_NOTIFY = 4;
const children = new Set();
const killAll = () => { for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ } };
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { killAll(); process.exit(1); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

const EP = 'ep-bp1burst00000000001';

/** The simulator's data: one endpoint whose zone address changes each round. */
function simData(ip) {
  const zone = { ZoneId: 'cn-hangzhou-j', ZoneDomain: `${EP}-j.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com`, EniId: `eni-${EP}-j`, EniIp: ip, VSwitchId: 'vsw-j', ZoneStatus: 'Connected' };
  return {
    endpoints: [{
      EndpointId: EP, EndpointName: 'burst', EndpointDomain: `${EP}.epsrv-test.cn-hangzhou.privatelink.aliyuncs.com`, EndpointStatus: 'Active', ConnectionStatus: 'Connected',
      EndpointType: 'Interface', ServiceId: 'epsrv-burst', ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-burst', VpcId: 'vpc-bp1testtesttesttest', RegionId: 'cn-hangzhou', Zones: [zone],
    }],
  };
}

async function startSimulator(dir) {
  const data = path.join(dir, 'sim.json');
  fs.writeFileSync(data, JSON.stringify(simData('10.99.0.0')));
  const proc = spawn(process.execPath, [CLI, 'simulate', '--listen', '127.0.0.1:0', '--data', data], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  let out = '';
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('simulator did not start')), 20_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^(\{.*"simulator listening".*\})$/m.exec(out);
      if (m) { clearTimeout(timer); resolve(JSON.parse(m[1])); }
    });
  });
  const setIp = async (ip) => {
    const res = await fetch(`${line.url}/_simulator/state`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(simData(ip)) });
    if (!res.ok) throw new Error(`simulator: ${res.status}`);
  };
  return { endpoint: line.endpoint, setIp };
}

function hubYaml(simEndpoint, stateDir) {
  const lines = [];
  for (let i = 1; i <= opts.names; i++) lines.push(`    - { names: ["n${String(i).padStart(5, '0')}.bulk.example"], addresses: ["10.${(i >> 8) & 255}.${i & 255}.1"] }`);
  lines.push(`    - { names: ["flip.bulk.example"], endpoint: ${EP} }`);
  return `region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"], rate_limit: null }
upstream: { servers: [] }
privatelink:
  endpoint: ${simEndpoint}
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "*/1 * * * * *"
  jitter: 0s
  timeout: 3s
records:
  ttl: 30
  entries:
${lines.join('\n')}
transfer:
  zone: ${ZONE}
  allow: ["key:fleet"]
  keys: [{ name: fleet, algorithm: hmac-sha256, secret: "${SECRET}" }]
limits: { tcp_max_connections: 4000 }
state_dir: ${stateDir}
log: { level: info }
`;
}

/** The hub: its DNS port, and a wait for a log line. */
async function startHub(dir, simEndpoint) {
  const config = path.join(dir, 'hub.yaml');
  fs.writeFileSync(config, hubYaml(simEndpoint, dir));
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true' } });
  children.add(proc);
  const log = followJsonLog(proc, 'hub');
  const waitFor = (pred, timeoutMs = 30_000) => log.wait(pred, timeoutMs);
  const lines = log.lines;
  proc.once('exit', (code) => { if (code !== null && code !== 0) console.error(`hub exited ${code}`); });
  const started = await waitFor((l) => l.msg === 'privatelink-dns started');
  return { proc, config, port: started.dns[0].udp, waitFor, lines };
}

/** One simulated secondary on 127.1.x.y:53. */
function secondary(i, hubPort, stats) {
  const address = `127.1.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
  const auth = tsigAuthenticator([KEY]);
  const sock = dgram.createSocket('udp4');
  let serial = 0;
  let nextId = (i * 7919) & 0xffff;
  const soaQuery = () => {
    nextId = (nextId + 1) & 0xffff;
    const q = encodeMessage({ id: nextId, flags: 0, question: { name: ZONE, type: 6, class: 1 } });
    sock.send(signRequest(q, KEY).message, hubPort, '127.0.0.1');
  };
  const ixfr = () => {
    const soa = zoneRecordToWire({ name: ZONE, type: 6, ttl: 0, data: `localhost hostmaster.${ZONE} ${serial} 60 10 1209600 30` });
    const req = signRequest(encodeMessage({ id: (nextId + 1) & 0xffff, flags: 0, question: { name: ZONE, type: 251, class: 1 }, authorities: [soa] }), KEY).message;
    const c = net.connect({ host: '127.0.0.1', port: hubPort, localAddress: address });
    let got = Buffer.alloc(0);
    c.on('connect', () => c.write(frameMessage(req)));
    c.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        const m = parseMessage(got.subarray(2, 2 + got.readUInt16BE(0)));
        const last = m.answers[m.answers.length - 1];
        if (last && last.type === 6) serial = Number(String(stats.soaSerial(last)).split(' ')[2]) || serial;
        c.destroy();
        stats.done(i);
      }
    });
    c.on('error', () => { stats.failed++; stats.done(i); });
  };
  sock.on('message', (raw, rinfo) => {
    let m;
    try { m = parseMessage(raw); } catch { return; }
    if ((m.flags & QR) !== 0) {
      // Our SOA check's answer.
      const a = m.answers.find((r) => r.type === 6);
      const theirs = a ? Number(String(stats.soaSerial(a)).split(' ')[2]) : undefined;
      if (theirs === undefined) return;
      if (serial === 0) { serial = theirs; stats.learned(i); return; }
      if (theirs !== serial && opts.follow === 'ixfr') ixfr();
      else stats.done(i);
      return;
    }
    if (m.opcode !== OPCODE_NOTIFY) return;
    const a = auth(raw, m);
    if (a.kind !== 'signed') stats.unsigned++;
    const body = encodeMessage({ id: m.id, flags: QR | AA | (OPCODE_NOTIFY << 11), question: m.questions[0] });
    sock.send(a.kind === 'signed' ? a.sign(body) : body, rinfo.port, rinfo.address);
    stats.notified(i);
    if (opts.follow === 'none') stats.done(i);
    else soaQuery();
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port: 53 }, () => resolve({ address, sock, soaQuery }));
  });
}

function startProbe(port) {
  const proc = spawn(process.execPath, [PROBE, String(port), String(opts.names), String(opts.intervalMs), '10000000', '3600000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  const samples = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    const at = performance.now();
    for (const l of parts) {
      const [kind, , ms] = l.split(' ');
      if (kind === 'ok') samples.push({ at, ms: Number(ms), lost: false });
      else if (kind === 'lost') samples.push({ at, ms: NaN, lost: true });
    }
  });
  return { proc, samples, stop: () => proc.stdin.end() };
}

function summary(samples) {
  const ok = samples.filter((s) => !s.lost).map((s) => s.ms).sort((a, b) => a - b);
  const r = (x) => Math.round(x * 1000) / 1000;
  return { queries: samples.length, lost: samples.filter((s) => s.lost).length, p50: r(pct(ok, 50)), p99: r(pct(ok, 99)), max: r(ok[ok.length - 1] ?? NaN) };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-notify-burst-'));
  const sim = await startSimulator(dir);
  const hub = await startHub(dir, sim.endpoint);
  await hub.waitFor((l) => l.msg === 'policy zone published' && l.zone === ZONE);
  console.log(`hub on 127.0.0.1:${hub.port}; ${opts.secondaries} secondaries, follow=${opts.follow}`);

  let learned = 0;
  let round = { notified: new Set(), done: new Set(), firstAt: 0, lastNotifyAt: 0, lastDoneAt: 0 };
  const stats = {
    failed: 0,
    unsigned: 0,
    soaSerial: (wire) => wireToZoneRecord(wire)?.data ?? '',
    learned: () => { learned++; },
    notified: (i) => { if (!round.firstAt) round.firstAt = performance.now(); round.notified.add(i); round.lastNotifyAt = performance.now(); },
    done: (i) => { round.done.add(i); round.lastDoneAt = performance.now(); },
  };
  const sims = [];
  for (let i = 0; i < opts.secondaries; i++) sims.push(await secondary(i, hub.port, stats));
  for (const [i, s] of sims.entries()) { s.soaQuery(); if (i % 100 === 99) await sleep(20); }
  for (let i = 0; i < 400 && learned < opts.secondaries; i++) await sleep(50);
  console.log(`${learned} secondaries checked in`);

  const probe = startProbe(hub.port);
  const windows = { quiet: [], burst: [] };
  const rounds = [];
  const cpu = { quietS: 0, quietCpuS: 0, burstS: 0, burstCpuS: 0 };
  await sleep(1000);
  for (let r = 0; r < opts.rounds; r++) {
    const quietStart = performance.now();
    const quietCpu = cpuSeconds(hub.proc.pid);
    await sleep(opts.quietS * 1000);
    windows.quiet.push([quietStart, performance.now()]);
    cpu.quietS += (performance.now() - quietStart) / 1000;
    cpu.quietCpuS += cpuSeconds(hub.proc.pid) - quietCpu;
    const burstCpu = cpuSeconds(hub.proc.pid);
    round = { notified: new Set(), done: new Set(), firstAt: 0, lastNotifyAt: 0, lastDoneAt: 0 };
    const before = hub.lines.length;
    await sim.setIp(`10.99.0.${r + 1}`);
    const published = await hub.waitFor((l) => hub.lines.indexOf(l) >= before && l.msg === 'policy zone published' && l.zone === ZONE);
    // The same window after every publish, whatever the number of secondaries: runs with
    // --secondaries 0 (the reload alone) and 1000 compare like for like.
    const windowEnd = published.seenAt + opts.burstS * 1000;
    for (let i = 0; i < 3000 && (round.done.size < opts.secondaries || performance.now() < windowEnd); i++) await sleep(10);
    windows.burst.push([published.seenAt, windowEnd]);
    // Hub CPU from the change until every secondary is done (or the window ends): the burst's cost.
    cpu.burstS += (performance.now() - (published.seenAt - 1000)) / 1000;
    cpu.burstCpuS += cpuSeconds(hub.proc.pid) - burstCpu;
    const res = {
      round: r + 1,
      serial: published.serial,
      notified: round.notified.size,
      done: round.done.size,
      lastNotifyAfterPublishMs: Math.round(round.lastNotifyAt - published.seenAt),
      allDoneAfterPublishMs: Math.round(round.lastDoneAt - published.seenAt),
    };
    rounds.push(res);
    console.log(JSON.stringify(res));
  }
  await sleep(opts.quietS * 1000);
  probe.stop();
  await sleep(500);
  const inside = (ws) => probe.samples.filter((s) => ws.some(([a, b]) => s.at >= a && s.at <= b));
  const result = {
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '' },
    options: opts,
    rounds,
    notifyUnsigned: stats.unsigned,
    transferErrors: stats.failed,
    quiet: summary(inside(windows.quiet)),
    burst: summary(inside(windows.burst)),
    hubCpu: {
      quietPerSecond: Math.round((cpu.quietCpuS / cpu.quietS) * 1000) / 1000,
      perBurst: Math.round((cpu.burstCpuS / opts.rounds) * 1000) / 1000,
      perBurstAboveQuiet: Math.round(((cpu.burstCpuS - (cpu.quietCpuS / cpu.quietS) * cpu.burstS) / opts.rounds) * 1000) / 1000,
    },
  };
  console.log(`probe every ${opts.intervalMs} ms — quiet: ${JSON.stringify(result.quiet)}`);
  console.log(`probe every ${opts.intervalMs} ms — burst: ${JSON.stringify(result.burst)}`);
  console.log(`hub CPU s: ${JSON.stringify(result.hubCpu)}`);
  if (opts.write) fs.writeFileSync(opts.out ?? path.join(HERE, `results-notify-${opts.secondaries}-${opts.follow}.json`), `${JSON.stringify(result, null, 2)}\n`);
  for (const s of sims) s.sock.close();
  hub.proc.kill('SIGTERM');
  await sleep(300);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err) => { console.error(err); killAll(); process.exit(1); });
