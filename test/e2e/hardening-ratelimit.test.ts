import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { requireTool } from '../helpers/tools';
import { sh, TestNetns } from '../helpers/netns';
import { STATIC_RECORDS_YAML } from '../helpers/configs';

/**
 * Whole process: a UDP burst above access.rate_limit from one client prefix gets
 * drops and TC=1 slips; an address in the same /24 shares the bucket, another /24 is unaffected;
 * TCP (not spoofable) is not limited; privatelink_dns_rate_limited_total moves.
 *
 * Loopback clients (127/8, ::1) are exempt by design (the node itself), so the daemon and the
 * clients run in a network namespace of our own whose lo also carries 198.18.0.0/15 addresses
 * (RFC 2544 benchmarking space): nothing leaves the namespace.
 */
const NS = `pldns-rl-${process.pid}`;
const RPS = 20;
const BURST = 20;
const netns = new TestNetns(t);

/** Runs inside the namespace: sends the bursts and reports what came back, as one JSON line. */
const CLIENT = String.raw`
const dgram = require('node:dgram');
const net = require('node:net');
const [port, httpPort] = process.argv.slice(2).map(Number);
function query(id) {
  const name = Buffer.from([3, 110, 116, 112, 8, 105, 110, 116, 101, 114, 110, 97, 108, 7, 101, 120, 97, 109, 112, 108, 101, 0]);
  const h = Buffer.alloc(12); h.writeUInt16BE(id, 0); h.writeUInt16BE(0x0100, 2); h.writeUInt16BE(1, 4);
  return Buffer.concat([h, name, Buffer.from([0, 1, 0, 1])]);
}
// Ends when no reply came for quietMs (at most 5 s): on a loaded machine the daemon answers later,
// and its bucket refills for as long as it answers, so the window reported is first send to last reply.
async function burst(from, n, quietMs) {
  const s = dgram.createSocket('udp4');
  const out = { sent: n, full: 0, tc: 0, replies: 0 };
  let lastAt = 0;
  s.on('message', (m) => { lastAt = Date.now(); out.replies++; if (m.readUInt16BE(2) & 0x0200) out.tc++; else if (m.readUInt16BE(6) === 1) out.full++; });
  await new Promise((r) => s.bind(0, from, r));
  const started = Date.now();
  for (let i = 0; i < n; i++) { s.send(query(i), port, '198.18.0.1'); if (i % 50 === 49) await new Promise((r) => setImmediate(r)); }
  const sentAt = Date.now();
  while (Date.now() - Math.max(lastAt, sentAt) < quietMs && Date.now() - sentAt < 5000) await new Promise((r) => setTimeout(r, 20));
  s.close();
  out.startedAt = started;
  out.lastAt = Math.max(lastAt, sentAt);
  out.seconds = (out.lastAt - started) / 1000;
  return out;
}
async function tcp(from, n) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '198.18.0.1', port, localAddress: from }, () => {
      const frames = [];
      for (let i = 0; i < n; i++) { const q = query(1000 + i); const l = Buffer.alloc(2); l.writeUInt16BE(q.length); frames.push(l, q); }
      s.write(Buffer.concat(frames));
    });
    let buf = Buffer.alloc(0); let got = 0;
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { buf = buf.subarray(2 + buf.readUInt16BE(0)); got++; } if (got === n) { s.destroy(); resolve(got); } });
    s.on('error', () => resolve(got));
    setTimeout(() => { s.destroy(); resolve(got); }, 3000);
  });
}
async function metrics() {
  const text = await (await fetch('http://198.18.0.1:' + httpPort + '/metrics')).text();
  const pick = (re) => text.split('\n').filter((l) => re.test(l)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  return { drop: pick(/^privatelink_dns_rate_limited_total\{action="drop"/), slip: pick(/^privatelink_dns_rate_limited_total\{action="slip"/), droppedRateLimit: pick(/^privatelink_dns_dropped_packets_total\{reason="rate_limit"/) };
}
(async () => {
  const m0 = await metrics();
  const flood = await burst('198.18.0.3', 300, 150);
  const same = await burst('198.18.0.2', 40, 200);
  const other = await burst('198.18.1.2', 10, 300);
  const loop = await burst('127.0.0.1', 100, 300);
  const tcpAnswers = await tcp('198.18.0.3', 30);
  const m1 = await metrics();
  process.stdout.write(JSON.stringify({ m0, m1, flood, same, other, loop, tcpAnswers }) + '\n');
})().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e) }) + '\n'); });
`;

t.test('burst from one /24 is limited with drops and TC slips; other prefixes are not', async (t) => {
  requireTool('ip');
  if (!netns.add(t, NS)) return;
  t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']).code, 0, 'lo up');
  for (const a of ['198.18.0.1', '198.18.0.2', '198.18.0.3', '198.18.1.2']) {
    t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${a}/32`, 'dev', 'lo']).code, 0, `${a} on lo`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pldns-rl-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `
region: cn-hangzhou
listen: { dns: ["198.18.0.1:5353"], http: "198.18.0.1:8053" }
access:
  allow: ["198.18.0.0/15", "127.0.0.0/8"]
  rate_limit: { responses_per_second: ${RPS}, burst: ${BURST}, slip: 2 }
upstream: { servers: [] }
${STATIC_RECORDS_YAML}state_dir: false
`);
  const daemon = spawn('ip', ['netns', 'exec', NS, process.execPath, CLI, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  netns.track(daemon);
  let out = '';
  daemon.stdout?.on('data', (d) => (out += d));
  daemon.stderr?.on('data', (d) => (out += d));
  const started = Date.now();
  while (!out.includes('privatelink-dns started') && Date.now() - started < 20_000 && daemon.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  t.ok(out.includes('privatelink-dns started'), 'daemon started in the namespace');

  const script = join(dir, 'client.js');
  writeFileSync(script, CLIENT);
  const run = sh('ip', ['netns', 'exec', NS, process.execPath, script, '5353', '8053'], 60_000);
  let r: Record<string, any> = {};
  try {
    r = JSON.parse(run.out.trim().split('\n').pop() ?? '{}');
  } catch {
    t.fail(`client output: ${run.out}`);
    return;
  }
  t.notOk(r.error, `client ran (${r.error ?? 'ok'})`);
  const { flood, same, other, loop, tcpAnswers, m0, m1 } = r;
  // Token counts, not timings: what the bucket held (burst) plus what it refilled while the daemon was answering.
  const allowed = BURST + Math.ceil(RPS * flood.seconds) + 2;
  t.ok(flood.full >= BURST - 2 && flood.full <= allowed, `flood: full answers within the bucket: ${flood.full} (burst ${BURST}, ≤ ${allowed})`);
  t.ok(flood.tc > 0, `flood: over-limit queries slipped with TC=1: ${flood.tc}`);
  t.ok(flood.replies < flood.sent - 50, `flood: many dropped: ${flood.sent - flood.replies} of ${flood.sent} got no reply`);
  const limited = flood.sent - flood.full;
  t.ok(Math.abs(flood.tc - limited / 2) <= limited / 4, `slip 2: about half of the ${limited} limited ones are TC (${flood.tc})`);
  const shared = BURST + Math.ceil((RPS * (same.lastAt - flood.startedAt)) / 1000) + 2;
  t.ok(flood.full + same.full <= shared, `198.18.0.2 shares the 198.18.0.0/24 bucket: ${flood.full} + ${same.full} full answers ≤ one bucket's ${shared} (its own bucket would add ${BURST})`);
  t.ok(same.tc > 0, `198.18.0.2 gets TC slips too (${same.tc})`);
  t.equal(other.full, 10, `198.18.1.2 (another /24) is unaffected: ${other.full}/10`);
  t.equal(loop.full, 100, `loopback clients are never limited: ${loop.full}/100`);
  t.equal(tcpAnswers, 30, 'TCP from the limited prefix: 30/30 answered');
  const drops = m1.drop - m0.drop;
  const slips = m1.slip - m0.slip;
  t.ok(drops >= flood.sent - flood.replies, `rate_limited_total{action="drop"} moved by ${drops}`);
  t.ok(slips >= flood.tc + same.tc, `rate_limited_total{action="slip"} moved by ${slips}`);
  t.ok(m1.droppedRateLimit - m0.droppedRateLimit >= drops, `dropped_packets_total{reason="rate_limit"} moved by ${m1.droppedRateLimit - m0.droppedRateLimit}`);
  t.comment(`tried (in netns ${NS}): ${flood.sent} UDP from 198.18.0.3 in ${flood.seconds.toFixed(2)} s → ${flood.full} answered, ${flood.tc} TC, ${flood.sent - flood.replies} dropped; 40 from 198.18.0.2 → ${same.full} answered, ${same.tc} TC; 10 from 198.18.1.2 → ${other.full}; 100 from 127.0.0.1 → ${loop.full}; 30 over TCP → ${tcpAnswers}; metrics drop +${drops} slip +${slips}`);
  daemon.kill('SIGTERM');
});
