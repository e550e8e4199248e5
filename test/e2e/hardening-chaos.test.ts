import t from 'tap';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { dig } from '../helpers/dig';
import { startResponder, type Responder } from '../helpers/hardening';

/**
 * CHAOS-class identity names must be answered here, never forwarded: an upstream
 * that would tell its version and host name is never asked.
 */
let daemon: RunningDaemon;
let upstream: Responder;
const asked: string[] = [];

t.before(async () => {
  // Answers anything with TXT "upstream-secret" in the query's class.
  upstream = await startResponder((m, send) => {
    let off = 12;
    while (m[off] !== 0) off += m[off] + 1;
    asked.push(m.subarray(12, off).toString('latin1'));
    const header = Buffer.from(m.subarray(0, 12));
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(1, 6);
    header.writeUInt16BE(0, 10);
    const txt = Buffer.from('upstream-secret');
    const rr = Buffer.concat([Buffer.from([0xc0, 12, 0, 16]), m.subarray(off + 3, off + 5), Buffer.from([0, 0, 0, 60, 0, txt.length + 1, txt.length]), txt]);
    send(Buffer.concat([header, m.subarray(12, off + 5), rr]));
  });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 1s }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await upstream?.close();
});

t.test('version.bind and friends are answered locally, never forwarded', async (t) => {
  for (const name of ['version.bind', 'hostname.bind', 'id.server', 'version.server', 'authors.bind']) {
    asked.length = 0;
    const r = await dig(daemon.dnsPort, name, 'TXT', ['-c', 'CH']);
    t.equal(r.status, 'REFUSED', `${name} CH TXT: REFUSED`);
    t.notMatch(r.raw, 'upstream-secret', `${name}: nothing of the upstream's`);
    t.same(asked, [], `${name}: upstream not asked`);
  }
  const normal = await dig(daemon.dnsPort, 'www.example.com', 'TXT');
  t.match(normal.raw, 'upstream-secret', 'class IN is still forwarded');
});
