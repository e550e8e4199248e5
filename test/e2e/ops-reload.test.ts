import t from 'tap';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { dig } from '../helpers/dig';
import { startDaemon } from '../helpers/daemon';
import { metricValue } from '../helpers/metrics';
import { freePort } from '../helpers/ports';
import { encodeQuery } from '../helpers/wire';

/**
 * SIGHUP through the real CLI: a broken file keeps the running config; a good one adds a name,
 * opens a new listener, closes a removed one, and the unchanged listener answers throughout.
 */

function yaml(listen: number[], entries: string): string {
  return `
region: cn-hangzhou
listen: { dns: [${listen.map((p) => `"127.0.0.1:${p}"`).join(', ')}], http: "127.0.0.1:0" }
upstream: { servers: [] }
access: { rate_limit: false }
records:
  entries:
${entries}
state_dir: false
log: { level: info }
`;
}

const OLD_ENTRIES = `    - names: ["old.internal.example"]
      addresses: ["10.0.0.1"]`;
const NEW_ENTRIES = `${OLD_ENTRIES}
    - names: ["new.internal.example"]
      addresses: ["10.0.0.2"]`;

/** Sends `count` queries over UDP, one every `everyMs`, and counts the answers (waiting up to 5 s for the last ones). */
async function steadyQueries(port: number, count: number, everyMs: number): Promise<{ sent: number; answered: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const seen = new Set<number>();
  sock.on('message', (msg) => seen.add(msg.readUInt16BE(0)));
  for (let i = 0; i < count; i++) {
    sock.send(encodeQuery('old.internal.example', { id: i + 1 }), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, everyMs));
  }
  for (let i = 0; i < 50 && seen.size < count; i++) await new Promise((r) => setTimeout(r, 100));
  sock.close();
  return { sent: count, answered: seen.size };
}

t.test('SIGHUP: broken file keeps the old config; good file adds a name and moves listeners', async (t) => {
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const daemon = await startDaemon(yaml([p1, p2], OLD_ENTRIES));
  t.teardown(() => daemon.stop());
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();

  t.same((await dig(p1, 'old.internal.example')).answers.map((a) => a.data), ['10.0.0.1']);
  t.same((await dig(p2, 'old.internal.example')).answers.map((a) => a.data), ['10.0.0.1']);

  // 1. A broken file: an unknown key and a bad address.
  writeFileSync(daemon.configPath, `${yaml([p1, p3], NEW_ENTRIES)}\nbogus_key: 1\n`.replace('10.0.0.2', '10.0.0.999'));
  daemon.proc.kill('SIGHUP');
  const logged = await daemon.waitForLog((l) => typeof l.msg === 'string' && /new config is invalid/.test(l.msg));
  t.ok(logged.level === 'error' || logged.level === 50, 'logged as an error');
  t.match(JSON.stringify(logged.problems), /bogus_key/, 'the problem is in the log line');
  t.match(JSON.stringify(logged.problems), /10\.0\.0\.999/, 'every problem is in the log line');
  t.equal(metricValue(await metrics(), 'privatelink_dns_config_reloads_total', { result: 'invalid' }), 1, 'reloads_total{result="invalid"}');
  t.same((await dig(p1, 'old.internal.example')).answers.map((a) => a.data), ['10.0.0.1'], 'old config still serves');
  t.same((await dig(p2, 'old.internal.example')).answers.map((a) => a.data), ['10.0.0.1'], 'old listener still open');
  t.equal((await dig(p1, 'new.internal.example')).status, 'REFUSED', 'the new name is not there (forwarded with no upstreams)');
  t.equal((await dig(p3, 'old.internal.example', 'A', ['+time=1'])).status, 'NO_ANSWER', 'the new listener is not open');

  // 2. A good file: new name, p2 replaced by p3, p1 unchanged and queried all along.
  writeFileSync(daemon.configPath, yaml([p1, p3], NEW_ENTRIES));
  const during = steadyQueries(p1, 100, 10);
  await new Promise((r) => setTimeout(r, 200));
  daemon.proc.kill('SIGHUP');
  await daemon.waitForLog((l) => l.msg === 'configuration reloaded');
  const steady = await during;
  t.equal(steady.answered, steady.sent, `unchanged listener answered every query across the reload (${steady.answered}/${steady.sent})`);
  t.same((await dig(p1, 'new.internal.example')).answers.map((a) => a.data), ['10.0.0.2'], 'new name served on the unchanged listener');
  t.same((await dig(p3, 'new.internal.example')).answers.map((a) => a.data), ['10.0.0.2'], 'new listener opened (UDP)');
  t.same((await dig(p3, 'old.internal.example', 'A', ['+tcp'])).answers.map((a) => a.data), ['10.0.0.1'], 'new listener opened (TCP)');
  t.equal((await dig(p2, 'old.internal.example', 'A', ['+time=1'])).status, 'NO_ANSWER', 'removed listener closed (UDP)');
  t.equal((await dig(p2, 'old.internal.example', 'A', ['+tcp', '+time=1'])).status, 'NO_ANSWER', 'removed listener closed (TCP)');
  t.ok(daemon.logs().some((l) => l.msg === 'listener closed by reload' && l.listen === `127.0.0.1:${p2}`), 'closing logged');
  t.ok(daemon.logs().some((l) => l.msg === 'listener opened by reload' && l.listen === `127.0.0.1:${p3}`), 'opening logged');
  const m = await metrics();
  t.equal(metricValue(m, 'privatelink_dns_config_reloads_total', { result: 'ok' }), 1, 'reloads_total{result="ok"}');
  const status = (await (await fetch(`http://127.0.0.1:${daemon.httpPort}/status`)).json()) as { listeners: { address: string; udpIo: string }[] };
  t.same(status.listeners.map((l) => l.address).sort(), [`127.0.0.1:${p1}`, `127.0.0.1:${p3}`].sort(), '/status shows the new listeners');
  t.same(status.listeners.map((l) => l.udpIo), ['batch', 'batch'], 'listen.udp_io auto: the batch addon serves UDP');
  t.ok(metricValue(m, 'privatelink_dns_udp_batch_datagrams_count', {}) > 0, 'recvmmsg batches counted');

  // 3. Switching the UDP engine reopens the listeners with Node's dgram, and they still answer.
  writeFileSync(daemon.configPath, yaml([p1, p3], NEW_ENTRIES).replace('listen: {', 'listen: { udp_io: dgram,'));
  daemon.proc.kill('SIGHUP');
  await daemon.waitForLog((l) => l.msg === 'configuration reloaded' && daemon.logs().filter((x) => x.msg === 'configuration reloaded').length === 2);
  const after = (await (await fetch(`http://127.0.0.1:${daemon.httpPort}/status`)).json()) as { listeners: { address: string; udpIo: string }[] };
  t.same(after.listeners.map((l) => l.udpIo), ['dgram', 'dgram'], 'listen.udp_io dgram after reload');
  t.same((await dig(p1, 'new.internal.example')).answers.map((a) => a.data), ['10.0.0.2'], 'answers over dgram (p1)');
  t.same((await dig(p3, 'old.internal.example')).answers.map((a) => a.data), ['10.0.0.1'], 'answers over dgram (p3)');
  t.equal(daemon.proc.exitCode, null, 'still running');
});
