import t from 'tap';
import { createServer } from 'node:net';
import { socketConnectProbe, tcpConnectProbe } from '../../src/probe/tcp-probe';
import { freePort } from '../helpers/ports';

for (const [label, start] of [['TCP handle', tcpConnectProbe()], ['net.Socket', socketConnectProbe]] as const) {
  t.test(`${label}: ok, refused, cancelled`, async (t) => {
    let accepted = 0;
    const server = createServer((s) => { accepted++; s.destroy(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => server.close());
    const port = (server.address() as { port: number }).port;
    t.same(await start('127.0.0.1', port).done, { ok: true });
    for (let i = 0; i < 20 && accepted === 0; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(accepted, 1, 'a real connection');
    const closed = await freePort();
    t.same(await start('127.0.0.1', closed).done, { ok: false, reason: 'refused' });
    t.same(await start('::1', closed).done.then((r) => r.ok), false, 'IPv6 goes through the same path');
    // 192.0.2.0/24 (TEST-NET-1) is not routed here: cancel settles it as a timeout whatever the kernel says later.
    const p = start('192.0.2.1', 443);
    p.cancel();
    const r = await p.done;
    t.equal(r.ok, false);
    if (!r.ok) t.ok(['timeout', 'unreachable'].includes(r.reason), r.reason);
  });
}
