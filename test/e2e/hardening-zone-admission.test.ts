import { randomBytes } from 'node:crypto';
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { sh, TestNetns } from '../helpers/netns';
import { requireTool } from '../helpers/tools';
import { CLASS_IN, OPCODE_QUERY, RRType } from '../../src/wire/constants';
import { encodeMessage } from '../../src/fleet/codec/message';
import { buildNotify } from '../../src/fleet/codec/notify';
import { signRequest, type TsigKey } from '../../src/fleet/codec/tsig';
import { LOG_BUDGET_LINES } from '../../src/runtime/log-budget';

/**
 * Issue 23 items 3 and 5, against the real CLI in a network namespace (loopback sources are never
 * rate-limited, so the attacker needs an address of its own): a hub (198.18.0.1) and an edge
 * (198.18.0.2) with access.allow 198.18.0.0/24. From 198.18.7.1, outside it, a flood of zone
 * traffic (NOTIFY, bad-TSIG SOA and NOTIFY, unsigned SOA, AXFR over UDP) gets no more answers than
 * the REFUSED rate; from 198.18.0.5, inside it, a bad-TSIG flood is answered but writes a bounded
 * number of log lines (and is counted in the metrics); signed NOTIFYs replayed from the hub's own
 * address make the edge check at most once per 2 s.
 */
const NS = `pldns-zadm-${process.pid}`;
const HUB = '198.18.0.1';
const EDGE = '198.18.0.2';
const INSIDE = '198.18.0.5';
const OUTSIDE = '198.18.7.1';
const ZONE = 'privatelink.rpz';
const FLEET: TsigKey = { name: 'fleet', algorithm: 'hmac-sha256', secret: randomBytes(32) };
const WRONG: TsigKey = { ...FLEET, secret: randomBytes(32) };

const dir = mkdtempSync(join(tmpdir(), 'pldns-zadm-'));
const netns = new TestNetns(t, () => rmSync(dir, { recursive: true, force: true }));

/**
 * Sends `count` datagrams from `from` to `to`:53, cycling through the hex messages given (each
 * with a fresh ID unless keepId), as fast as the socket takes them; after a settle second, prints
 * the replies by rcode and how long sending took.
 */
const SENDER = `
const dgram = require('node:dgram');
const [from, to, count, keepId, ...hex] = process.argv.slice(1);
const msgs = hex.map((h) => Buffer.from(h, 'hex'));
const s = dgram.createSocket('udp4');
const counts = {};
s.on('message', (m) => { const rc = m[3] & 15; counts[rc] = (counts[rc] || 0) + 1; });
s.bind(0, from, async () => {
  const started = Date.now();
  for (let i = 0; i < Number(count); i++) {
    const m = msgs[i % msgs.length];
    if (keepId !== 'keep') m.writeUInt16BE(i & 0xffff, 0);
    s.send(m, 53, to);
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  const sendMs = Date.now() - started;
  setTimeout(() => { console.log(JSON.stringify({ counts, sendMs })); s.close(); }, 1000);
});`;

function flood(from: string, to: string, count: number, messages: readonly Buffer[], keepId = false): { total: number; sendMs: number; counts: Record<string, number> } {
  const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', SENDER, from, to, String(count), keepId ? 'keep' : 'fresh', ...messages.map((m) => m.toString('hex'))], { encoding: 'utf8', timeout: 60_000 });
  const out = JSON.parse(r.stdout.trim() || '{"counts":{},"sendMs":0}') as { counts: Record<string, number>; sendMs: number };
  return { ...out, total: Object.values(out.counts).reduce((a, b) => a + b, 0) };
}

/** The REFUSED allowance: burst 10, then 5 per second over the sending and the settle second, plus one second of slack. */
function allowance(sendMs: number): number {
  return 10 + Math.ceil((sendMs + 1000) / 1000) * 5 + 5;
}

async function metric(address: string, name: string, labels: string): Promise<number> {
  const r = sh('ip', ['netns', 'exec', NS, process.execPath, '-e', `fetch('http://${address}:8053/metrics').then((r) => r.text()).then((x) => console.log(x))`]);
  const line = r.out.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** The lines of `output` that include `text`, once at least one is there (the test reads child output between floods). */
async function linesWith(output: () => string, text: string): Promise<string[]> {
  const lines = (): string[] => output().split('\n').filter((l) => l.includes(text));
  for (let i = 0; i < 50 && lines().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300)); // whatever was still in the pipe
  return lines();
}

const query = (type: number, name = ZONE): Buffer => encodeMessage({ id: 1, flags: OPCODE_QUERY << 11, question: { name, type, class: CLASS_IN } });

t.test('zone traffic goes through admission first; rejected zone traffic writes a bounded log', async (t) => {
  for (const tool of ['ip', 'dig']) requireTool(tool);
  if (!netns.add(t, NS)) return;
  t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']).code, 0, 'lo up');
  for (const a of [HUB, EDGE, INSIDE, OUTSIDE]) t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${a}/32`, 'dev', 'lo']).code, 0, `${a} on lo`);
  const secret = FLEET.secret.toString('base64');
  writeFileSync(join(dir, 'hub.yaml'), `
region: cn-hangzhou
listen: { dns: ["${HUB}:53"], http: "${HUB}:8053" }
access: { allow: ["198.18.0.0/24"] }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
transfer:
  zone: ${ZONE}
  allow: ["key:fleet"]
  keys: [ { name: fleet, algorithm: hmac-sha256, secret: "${secret}" } ]
state_dir: ${join(dir, 'hub')}
`);
  writeFileSync(join(dir, 'edge.yaml'), `
listen: { dns: ["${EDGE}:53"], http: "${EDGE}:8053" }
access: { allow: ["198.18.0.0/24"], rate_limit: null }
primaries:
  zone: ${ZONE}
  servers: ["${HUB}:53"]
  key: { name: fleet, algorithm: hmac-sha256, secret: "${secret}" }
  refresh: 1h
  retry: 1h
  managed: ["ntp.internal.example"]
state_dir: ${join(dir, 'edge')}
`);
  const env = [process.execPath, CLI, 'serve', '--config'];
  const hub = await netns.startIn(NS, [...env, join(dir, 'hub.yaml')], (out) => out.includes('privatelink-dns started'), 'the hub');
  const edge = await netns.startIn(NS, [...env, join(dir, 'edge.yaml')], (out) => out.includes('zone received from the primaries'), 'the edge');

  const signedSoa = (key: TsigKey): Buffer => signRequest(query(RRType.SOA), key).message;
  const ixfr = encodeMessage({ id: 1, flags: 0, question: { name: ZONE, type: RRType.IXFR, class: CLASS_IN }, authorities: [{ name: ZONE, type: RRType.SOA, class: CLASS_IN, ttl: 0, rdata: Buffer.alloc(22) }] });
  const attack = [buildNotify(1, ZONE, 1), signRequest(buildNotify(1, ZONE, 1), WRONG).message, signedSoa(WRONG), query(RRType.SOA), query(RRType.AXFR), ixfr];

  for (const [name, target] of [['hub', HUB], ['edge', EDGE]] as const) {
    const r = flood(OUTSIDE, target, 3000, attack);
    t.ok(r.total <= allowance(r.sendMs), `${name}: ${r.total} answers to 3,000 zone messages from outside access.allow (at most ${allowance(r.sendMs)}; by rcode ${JSON.stringify(r.counts)})`);
    t.ok(r.total >= 1, `${name}: a real client there still gets some answers`);
  }

  // From inside access.allow, the hub answers every bad signature (NOTAUTH) but logs a few.
  const before = await metric(HUB, 'privatelink_dns_transfer_served_total', 'type="soa",result="notauth"');
  const suppressedBefore = await metric(HUB, 'privatelink_dns_log_lines_suppressed_total', 'component="transfer"');
  const inside = flood(INSIDE, HUB, 2000, [signedSoa(WRONG)]);
  t.ok(inside.counts['9'] !== undefined && inside.counts['9'] >= 1000, `the hub answers bad-TSIG SOAs from an allowed source NOTAUTH (${JSON.stringify(inside.counts)})`);
  const after = await metric(HUB, 'privatelink_dns_transfer_served_total', 'type="soa",result="notauth"');
  t.equal(after - before, inside.counts['9'], 'every one is counted in privatelink_dns_transfer_served_total');
  const badTsigLines = await linesWith(hub.output, 'bad TSIG signature');
  t.ok(badTsigLines.length <= LOG_BUDGET_LINES, `${badTsigLines.length} log lines for ${after} bad-TSIG requests (at most ${LOG_BUDGET_LINES} a minute)`);
  t.ok(badTsigLines.length >= 1, 'but they are logged');
  const suppressed = (await metric(HUB, 'privatelink_dns_log_lines_suppressed_total', 'component="transfer"')) - suppressedBefore;
  t.ok(suppressed >= (inside.counts['9'] ?? 0) - LOG_BUDGET_LINES, `the lines left out are counted (${suppressed} in privatelink_dns_log_lines_suppressed_total)`);

  // NOTIFYs from an allowed host that is not a primary: answered REFUSED, logged within the budget.
  const stranger = flood(INSIDE, EDGE, 2000, [buildNotify(1, ZONE, 1)]);
  const strangerLines = await linesWith(edge.output, 'not one of our primaries');
  t.ok(strangerLines.length >= 1 && strangerLines.length <= LOG_BUDGET_LINES, `${strangerLines.length} log lines for 2,000 NOTIFYs from a stranger`);
  const edgeSuppressed = await metric(EDGE, 'privatelink_dns_log_lines_suppressed_total', 'component="secondary"');
  t.ok(edgeSuppressed >= (stranger.counts['5'] ?? 0) - LOG_BUDGET_LINES, `and the lines left out are counted (${edgeSuppressed}; ${stranger.counts['5'] ?? 0} REFUSED)`);

  // Item 5: the same signed NOTIFY replayed from the hub's address (a primary) for about 4 s.
  const checksBefore = await metric(EDGE, 'privatelink_dns_transfer_checks_total', 'result="unchanged"');
  const notifies = await metric(EDGE, 'privatelink_dns_transfer_served_total', 'type="notify",result="ok"');
  const replayed = signRequest(buildNotify(7, ZONE, 1), FLEET).message;
  const replay = flood(HUB, EDGE, 4000, [replayed], true);
  await new Promise((r) => setTimeout(r, 2500)); // the check the last replays folded into
  const accepted = (await metric(EDGE, 'privatelink_dns_transfer_served_total', 'type="notify",result="ok"')) - notifies;
  const checks = (await metric(EDGE, 'privatelink_dns_transfer_checks_total', 'result="unchanged"')) - checksBefore;
  const windowS = (replay.sendMs + 1000 + 2500) / 1000;
  t.ok(accepted >= 3000, `the replayed NOTIFYs are answered and counted (${accepted})`);
  t.ok(checks >= 1, `they did start checks (${checks})`);
  t.ok(checks <= Math.ceil(windowS / 2) + 1, `${checks} SOA checks for ${accepted} NOTIFYs over ${windowS.toFixed(1)} s: at most one per 2 s`);

  t.match(sh('ip', ['netns', 'exec', NS, 'dig', '-b', INSIDE, `@${EDGE}`, 'ntp.internal.example', '+short', '+tries=1', '+time=2']).out, '10.0.0.123', 'the edge still answers allowed clients from the zone');
});
