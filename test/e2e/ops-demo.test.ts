import t from 'tap';
import { spawnSync } from 'node:child_process';
import { dig } from '../helpers/dig';
import { CLI, startDaemon } from '../helpers/daemon';

/** serve --demo on addresses of the operator's choosing (5353 is mDNS's port and often taken). */

t.test('serve --demo --dns --http listens where told and answers the demo names', async (t) => {
  const daemon = await startDaemon('', { args: ['serve', '--demo', '--dns', '127.0.0.1:0', '--http', '127.0.0.1:0'] });
  t.teardown(() => daemon.stop());
  t.not(daemon.dnsPort, 5353, `DNS on a free port (${daemon.dnsPort})`);
  t.not(daemon.httpPort, 8053);
  const ready = await daemon.waitForLog((l) => l.msg === 'addresses changed' || l.msg === 'entry added', 20_000);
  t.ok(ready);
  const r = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.equal(r.status, 'NOERROR');
  t.ok(r.answers.length >= 1, 'the demo endpoint answers');
  const status = await fetch(`http://127.0.0.1:${daemon.httpPort}/status`, { signal: AbortSignal.timeout(5000) });
  t.equal(status.status, 200);
});

t.test('--dns without --demo is a usage error', async (t) => {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--config', '/nonexistent.yaml', '--dns', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 2);
  t.match(r.stderr, /USAGE: --dns and --http go with --demo/);
});
