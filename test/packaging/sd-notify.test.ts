import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dig } from '../helpers/dig';
import { startDaemon } from '../helpers/daemon';
import { STATIC_ONLY_CONFIG } from '../helpers/configs';
import { startNotifySocket } from '../helpers/notify-socket';

/**
 * The unit's Type=notify contract, run as systemd would: the built CLI with NOTIFY_SOCKET (and
 * WATCHDOG_USEC) pointing at a real unix datagram socket that records each message's sender pid.
 */

const ROOT = resolve(__dirname, '..', '..');

/** The unit's ExecStart as argv, with this checkout standing in for the install and the test's config for /etc. */
function unitExecStart(configPath: string): string[] {
  const unit = readFileSync(join(ROOT, 'systemd', 'privatelink-dns.service'), 'utf8');
  const line = /^ExecStart=(.+)$/m.exec(unit)?.[1] ?? '';
  return line.split(' ').map((arg) => arg.replace('/usr/lib/privatelink-dns', ROOT).replace('/etc/privatelink-dns/config.yaml', configPath));
}


t.test('READY=1 once listeners answer, WATCHDOG=1 on schedule, STOPPING=1 on SIGTERM, all from the main pid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-notify-'));
  const sock = await startNotifySocket(dir);
  t.teardown(() => sock.close());
  // The unit's own command line (node flags included), as systemd would start it.
  const daemon = await startDaemon(STATIC_ONLY_CONFIG, { dir, env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '200000', NODE_OPTIONS: '' }, command: unitExecStart });
  t.match(daemon.proc.spawnargs.join(' '), /^\S*node \S*dist\/cli\.js serve --config /, 'ran the unit\'s ExecStart: node with no flags (the daemon sets its own heap settings)');
  t.teardown(() => daemon.stop());
  const ready = await sock.waitFor((m) => m.text.split('\n').includes('READY=1'));
  t.equal(ready.pid, daemon.proc.pid, 'sent by the main process (NotifyAccess=main accepts it)');
  t.match(ready.text, /^STATUS=answering 1 names$/m);
  const answer = await dig(daemon.dnsPort, 'ntp.internal.example');
  t.same(answer.answers.map((a) => a.data), ['10.0.0.123'], 'ready means answering');
  const deadline = Date.now() + 5_000;
  while (sock.messages.filter((m) => m.text === 'WATCHDOG=1').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(sock.messages.filter((m) => m.text === 'WATCHDOG=1').length >= 3, 'a watchdog ping every WATCHDOG_USEC/2');
  t.equal(sock.messages.filter((m) => m.text.includes('READY=1')).length, 1, 'READY=1 once');
  t.equal(await daemon.stop('SIGTERM'), 0);
  const stopping = await sock.waitFor((m) => m.text === 'STOPPING=1', 2_000);
  t.equal(stopping.pid, daemon.proc.pid);
});

t.test('a watchdog meant for another pid is not pinged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-notify-'));
  const sock = await startNotifySocket(dir);
  t.teardown(() => sock.close());
  const daemon = await startDaemon(STATIC_ONLY_CONFIG, { dir, env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' } });
  t.teardown(() => daemon.stop());
  await sock.waitFor((m) => m.text.includes('READY=1'));
  await new Promise((r) => setTimeout(r, 400));
  t.same(sock.messages.filter((m) => m.text === 'WATCHDOG=1'), []);
});

t.test('without NOTIFY_SOCKET nothing is sent and the daemon runs', async (t) => {
  const daemon = await startDaemon(STATIC_ONLY_CONFIG, { env: { NOTIFY_SOCKET: '' } });
  t.teardown(() => daemon.stop());
  t.same((await dig(daemon.dnsPort, 'ntp.internal.example')).answers.map((a) => a.data), ['10.0.0.123']);
});
