import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon';
import { sh, TestNetns } from '../helpers/netns';

/**
 * REFUSED must not be a 1:1 reflector. A source outside access.allow on another
 * host (198.18.7.1, in a network namespace: loopback sources are never limited) floods the daemon;
 * only a trickle of REFUSED comes back (BIND's errors-per-second), while allowed clients are served.
 */
const NS = `pldns-refused-${process.pid}`;
const netns = new TestNetns(t);
const FLOOD = 3000;

/** Sends FLOOD queries from `from` as fast as the socket takes them; prints replies by rcode after 1 s. */
const ATTACKER = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
const counts = {};
s.on('message', (m) => { const rc = m[3] & 15; counts[rc] = (counts[rc] || 0) + 1; });
const q = Buffer.from('00000100000100000000000003777777076578616d706c6503636f6d0000010001', 'hex');
s.bind(0, process.argv[1], async () => {
  const started = Date.now();
  for (let i = 0; i < ${FLOOD}; i++) {
    q.writeUInt16BE(i, 0);
    s.send(q, 53, '198.18.0.1');
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  const sendMs = Date.now() - started;
  setTimeout(() => { console.log(JSON.stringify({ counts, sendMs })); s.close(); }, 1000);
});`;

t.test('a flood from a disallowed source gets a trickle of REFUSED, not one per query', async (t) => {
  if (!netns.add(t, NS)) return;
  t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']).code, 0, 'lo up');
  for (const a of ['198.18.0.1', '198.18.7.1']) t.equal(sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${a}/32`, 'dev', 'lo']).code, 0, `${a} on lo`);
  const dir = mkdtempSync(join(tmpdir(), 'pldns-refused-'));
  writeFileSync(join(dir, 'config.yaml'), `
region: cn-hangzhou
listen: { dns: ["198.18.0.1:53"], http: false }
access: { allow: ["198.18.0.0/24"] }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  netns.track(spawn('ip', ['netns', 'exec', NS, process.execPath, CLI, 'serve', '--config', join(dir, 'config.yaml')], { stdio: 'ignore' }));
  const allowedDig = (): string =>
    sh('ip', ['netns', 'exec', NS, 'dig', '-b', '198.18.0.1', '@198.18.0.1', 'ntp.internal.example', 'A', '+short', '+tries=1', '+time=1']).out;
  for (let i = 0; i < 50 && !allowedDig().includes('10.0.0.123'); i++) await new Promise((r) => setTimeout(r, 200));
  t.match(allowedDig(), '10.0.0.123', 'an allowed client is answered');

  const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', ATTACKER, '198.18.7.1'], { encoding: 'utf8', timeout: 30_000 });
  const result = JSON.parse(r.stdout.trim() || '{"counts":{}}') as { counts: Record<string, number>; sendMs: number };
  const refused = result.counts['5'] ?? 0;
  const total = Object.values(result.counts).reduce((a, b) => a + b, 0);
  // Burst 10, then 5 per second over the flood and the settle second.
  const allowance = 10 + Math.ceil((result.sendMs + 1000) / 1000) * 5 + 5;
  t.ok(refused >= 1, `some REFUSED still reach a real client (${refused})`);
  t.ok(total <= allowance, `${total} replies to ${FLOOD} queries sent in ${result.sendMs} ms (at most ${allowance})`);
  t.match(allowedDig(), '10.0.0.123', 'allowed clients are still answered during and after');
});
