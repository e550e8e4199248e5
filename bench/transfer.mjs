#!/usr/bin/env node
// Zone transfer load on one hub: a hub publishing N static names (no simulator) on 127.0.0.1,
// AXFR timed with our own client (transferZone) and with dig, then C AXFRs held at once while a
// separate process asks the hub a managed name over UDP every 10 ms. Every child is killed on exit.
// Then SOA checks at --soa-rate a second for 10 s (each a fresh TCP connection, TSIG-signed).
// Usage: node bench/transfer.mjs [--names 10000] [--concurrent 100] [--rounds 5] [--soa-rate 50] [--settle 15] [--no-write] [--hub-cli PATH (another build's dist/cli.js, for an A/B)]
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bulkHubYaml, keyOnlyTransfer } from './lib/bulk-hub.mjs';
import { freePort } from './lib/dns-probe.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PROBE = path.join(ROOT, 'test', 'helpers', 'udp-latency-probe.cjs');
const require = createRequire(import.meta.url);
const { transferZone } = require(path.join(ROOT, 'dist', 'fleet', 'secondary', 'xfr-client.js'));
const { signRequest, TsigStreamVerifier } = require(path.join(ROOT, 'dist', 'fleet', 'codec', 'tsig.js'));
const { encodeMessage, parseMessage } = require(path.join(ROOT, 'dist', 'fleet', 'codec', 'message.js'));
const { TcpFrameReader, frameMessage } = require(path.join(ROOT, 'dist', 'wire', 'tcp-frames.js'));

const opts = { names: 10_000, concurrent: 100, rounds: 5, write: true, hubCli: CLI, soaRate: 50, soaSeconds: 10, settleSeconds: 15 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--names') opts.names = Number(process.argv[++i]);
  else if (a === '--concurrent') opts.concurrent = Number(process.argv[++i]);
  else if (a === '--rounds') opts.rounds = Number(process.argv[++i]);
  else if (a === '--no-write') opts.write = false;
  else if (a === '--soa-rate') opts.soaRate = Number(process.argv[++i]);
  else if (a === '--settle') opts.settleSeconds = Number(process.argv[++i]);
  else if (a === '--hub-cli') opts.hubCli = path.resolve(process.argv[++i]);
  else throw new Error(`unknown option ${a}`);
}

const ZONE = 'privatelink.rpz';
const SECRET = randomBytes(32).toString('base64'); // refused unless random and 32 bytes (hmac-sha256)
const KEY = { name: 'fleet', algorithm: 'hmac-sha256', secret: Buffer.from(SECRET, 'base64') };
const children = new Set();
const killAll = () => { for (const c of children) try { c.kill('SIGKILL'); } catch { /* gone */ } };
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { killAll(); process.exit(1); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];


function hubYaml(names, stateDir, deadPort) {
  return bulkHubYaml({ names, stateDir, deadPort, transfer: keyOnlyTransfer(SECRET), extra: 'limits: { tcp_max_connections: 2000 }\n' });
}

async function startHub(dir) {
  fs.writeFileSync(path.join(dir, 'hub.yaml'), hubYaml(opts.names, dir, await freePort()));
  const started = Date.now();
  const proc = spawn(process.execPath, [opts.hubCli, 'serve', '--config', path.join(dir, 'hub.yaml')], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  let buf = '';
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub did not start in 120 s')), 120_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      buf += d;
      for (const l of buf.split('\n')) {
        if (l.includes('"privatelink-dns started"')) { clearTimeout(timer); resolve(JSON.parse(l)); }
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    proc.once('exit', (code) => reject(new Error(`hub exited ${code}`)));
  });
  return { proc, dnsPort: line.dns[0].udp, httpPort: line.http.port, startMs: Date.now() - started };
}

/** One signed AXFR over a raw connection: ms, messages, bytes, records; every message TSIG-checked. */
function rawAxfr(port, localAddress) {
  const t0 = performance.now();
  const plain = encodeMessage({ id: Math.floor(Math.random() * 65536), flags: 0, question: { name: ZONE, type: 252, class: 1 } });
  const req = signRequest(plain, KEY);
  const verifier = new TsigStreamVerifier(KEY, req.mac);
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    const reader = new TcpFrameReader();
    let messages = 0, bytes = 0, records = 0, ok = true, soas = 0, done = false;
    const finish = (complete) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ms: performance.now() - t0, messages, bytes, records, ok: ok && complete && verifier.finish().ok });
    };
    const timer = setTimeout(() => finish(false), 300_000);
    s.on('connect', () => s.write(frameMessage(req.message)));
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
    s.on('data', (chunk) => {
      for (const raw of reader.push(chunk)) {
        messages++;
        bytes += raw.length + 2;
        const m = parseMessage(raw);
        if (!verifier.verify(raw, m).ok || m.rcode !== 0) ok = false;
        records += m.answers.length;
        soas += m.answers.filter((a) => a.type === 6).length;
        if (soas >= 2 || !ok) return finish(soas >= 2);
      }
    });
  });
}

/** One signed SOA query over a fresh TCP connection, as an edge's check makes it. */
function soaCheck(port, localAddress) {
  const t0 = performance.now();
  const req = signRequest(encodeMessage({ id: Math.floor(Math.random() * 65536), flags: 0, question: { name: ZONE, type: 6, class: 1 } }), KEY);
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    const reader = new TcpFrameReader();
    const timer = setTimeout(() => { s.destroy(); resolve({ ok: false, ms: performance.now() - t0 }); }, 10_000);
    s.on('connect', () => s.write(frameMessage(req.message)));
    s.on('error', () => { clearTimeout(timer); resolve({ ok: false, ms: performance.now() - t0 }); });
    s.on('data', (chunk) => {
      const [raw] = reader.push(chunk);
      if (!raw) return;
      clearTimeout(timer);
      s.destroy();
      const m = parseMessage(raw);
      resolve({ ok: m.rcode === 0 && m.answers.length === 1 && new TsigStreamVerifier(KEY, req.mac).verify(raw, m).ok, ms: performance.now() - t0 });
    });
  });
}

function digAxfr(port) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    execFile('dig', ['-p', String(port), '@127.0.0.1', 'AXFR', ZONE, '-y', `hmac-sha256:fleet:${SECRET}`], { maxBuffer: 256 << 20, timeout: 120_000 }, (err, out) => {
      const ms = performance.now() - t0;
      const size = /XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)/.exec(out ?? '');
      const q = /Query time: (\d+) msec/.exec(out ?? '');
      resolve({ ms, queryMs: q ? Number(q[1]) : NaN, records: size ? Number(size[1]) : NaN, messages: size ? Number(size[2]) : NaN, bytes: size ? Number(size[3]) : NaN, ok: !err && !!size && !/Transfer failed|Couldn't verify|tsig verify failure/i.test(out) });
    });
  });
}

/** Starts the UDP latency probe (a separate process); stop() resolves with the latencies. */
function startProbe(port, intervalMs = 10) {
  const proc = spawn(process.execPath, [PROBE, String(port), String(opts.names), String(intervalMs), '100000', '600000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  const lat = [];
  let lost = 0, buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) {
      const [kind, , ms] = l.split(' ');
      if (kind === 'ok') lat.push(Number(ms));
      else if (kind === 'lost') lost++;
    }
  });
  const exited = new Promise((r) => proc.once('exit', r));
  return {
    async stop() {
      proc.stdin.end();
      await exited;
      const s = lat.sort((a, b) => a - b);
      return { count: s.length, lost, p50: pct(s, 50), p99: pct(s, 99), max: s[s.length - 1] };
    },
  };
}

async function loopDelayMaxMs(httpPort) {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = /privatelink_dns_event_loop_delay_seconds\{quantile="1"\} ([\d.e+-]+)/.exec(text);
  return m ? Number(m[1]) * 1000 : NaN;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pldns-xfrbench-'));
  const load = os.loadavg();
  const hub = await startHub(dir);
  const server = { host: '127.0.0.1', port: hub.dnsPort, family: 4 };
  const out = { date: new Date().toISOString(), hubCli: path.relative(ROOT, opts.hubCli), names: opts.names, loadAvgStart: load.map((x) => +x.toFixed(2)), cpus: os.cpus().length, hubStartMs: hub.startMs };
  // Let the hub settle: parsing 10,000 entries leaves ~90 MB of garbage that V8's memory reducer
  // collects some seconds after start (a long mark-compact) - not a transfer cost.
  await sleep(opts.settleSeconds * 1000);
  out.hubRssIdleMb = +(rssKb(hub.proc.pid) / 1024).toFixed(1);
  await loopDelayMaxMs(hub.httpPort); // reset the window

  // 1. Idle latency, then the first AXFR of the serial (builds the messages) with the probe running.
  let probe = startProbe(hub.dnsPort);
  await sleep(2000);
  out.udpIdle = await probe.stop();
  probe = startProbe(hub.dnsPort);
  await sleep(300);
  const cold = await rawAxfr(hub.dnsPort, '127.0.0.2');
  await sleep(300);
  out.firstAxfr = { ms: +cold.ms.toFixed(1), messages: cold.messages, bytes: cold.bytes, records: cold.records, verified: cold.ok, udpDuring: await probe.stop(), loopDelayMaxMs: +(await loopDelayMaxMs(hub.httpPort)).toFixed(1) };

  // 2. One AXFR at a time: our client, a raw TSIG-checked reader, dig.
  const client = [], raw = [], dig = [];
  for (let r = 0; r < opts.rounds; r++) {
    const t0 = performance.now();
    const res = await transferZone(server, ZONE, { key: KEY, timeoutMs: 60_000 });
    client.push({ ms: performance.now() - t0, records: res.records.length });
    raw.push(await rawAxfr(hub.dnsPort, '127.0.0.2'));
    dig.push(await digAxfr(hub.dnsPort));
  }
  out.axfr = {
    transferZoneMs: +median(client.map((x) => x.ms)).toFixed(1), transferZoneRecords: client[0].records,
    rawMs: +median(raw.map((x) => x.ms)).toFixed(1), messages: raw[0].messages, bytes: raw[0].bytes, records: raw[0].records, rawVerified: raw.every((x) => x.ok),
    digWallMs: +median(dig.map((x) => x.ms)).toFixed(1), digQueryMs: median(dig.map((x) => x.queryMs)), digRecords: dig[0].records, digMessages: dig[0].messages, digBytes: dig[0].bytes, digOk: dig.every((x) => x.ok),
    rounds: opts.rounds,
  };

  // 3. C AXFRs at once (spread over 127.0.0.x: the hub allows 64 connections per address).
  await loopDelayMaxMs(hub.httpPort);
  probe = startProbe(hub.dnsPort);
  await sleep(500);
  const rssBefore = rssKb(hub.proc.pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => { try { rssPeak = Math.max(rssPeak, rssKb(hub.proc.pid)); } catch { /* exited */ } }, 50);
  const t0 = performance.now();
  const all = await Promise.all(Array.from({ length: opts.concurrent }, (_, i) => rawAxfr(hub.dnsPort, `127.0.0.${2 + (i % 20)}`)));
  const totalMs = performance.now() - t0;
  clearInterval(sampler);
  await sleep(300);
  out.concurrent = {
    transfers: opts.concurrent, complete: all.filter((x) => x.ok).length, totalMs: +totalMs.toFixed(0), slowestMs: +Math.max(...all.map((x) => x.ms)).toFixed(0),
    medianMs: +median(all.map((x) => x.ms)).toFixed(0), mbPerSec: +((all.reduce((n, x) => n + x.bytes, 0) / 1e6) / (totalMs / 1000)).toFixed(1),
    hubRssBeforeMb: +(rssBefore / 1024).toFixed(1), hubRssPeakMb: +(rssPeak / 1024).toFixed(1),
    udpDuring: await probe.stop(), loopDelayMaxMs: +(await loopDelayMaxMs(hub.httpPort)).toFixed(1),
  };
  // 4. Paced SOA checks, as a fleet makes them (1,000 edges at a 60 s refresh: ~17 a second).
  await loopDelayMaxMs(hub.httpPort);
  probe = startProbe(hub.dnsPort);
  const soaResults = [];
  const soaStart = performance.now();
  for (let i = 0; performance.now() - soaStart < opts.soaSeconds * 1000; i++) {
    soaResults.push(soaCheck(hub.dnsPort, `127.0.0.${2 + (i % 20)}`));
    await sleep(1000 / opts.soaRate);
  }
  const soaDone = await Promise.all(soaResults);
  out.pacedSoa = {
    perSecond: opts.soaRate, checks: soaDone.length, answered: soaDone.filter((x) => x.ok).length,
    p50Ms: +pct(soaDone.map((x) => x.ms).sort((a, b) => a - b), 50).toFixed(2), udpDuring: await probe.stop(), loopDelayMaxMs: +(await loopDelayMaxMs(hub.httpPort)).toFixed(1),
  };
  out.loadAvgEnd = os.loadavg().map((x) => +x.toFixed(2));
  out.hubAlive = hub.proc.exitCode === null;
  hub.proc.kill('SIGTERM');
  console.log(JSON.stringify(out, null, 2));
  if (opts.write) fs.writeFileSync(path.join(HERE, 'results-transfer.json'), `${JSON.stringify(out, null, 2)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
