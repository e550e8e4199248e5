import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { sleep } from '../helpers/hardening';

/**
 * HTTP slowloris against the admin port. Hundreds of connections trickling their
 * headers must not make /healthz fail (kubelet's liveness probe: 1 s timeout), and a connection
 * whose headers never finish is closed after a short deadline even while bytes keep coming.
 */
let daemon: RunningDaemon;

t.before(async () => {
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
});
t.teardown(() => daemon?.stop());

function probe(timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: daemon.httpPort, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function connect(localAddress: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ port: daemon.httpPort as number, host: '127.0.0.1', localAddress });
    s.on('error', () => resolve(undefined));
    s.once('connect', () => resolve(s));
  });
}

t.test('headers trickled byte by byte do not keep a connection open', async (t) => {
  const s = await connect('127.0.0.1');
  if (!s) throw new Error('connect failed');
  let closedAt = 0;
  s.once('close', () => (closedAt = Date.now()));
  const started = Date.now();
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ');
  while (closedAt === 0 && Date.now() - started < 8000) {
    await sleep(200);
    if (!s.destroyed) s.write('a');
  }
  s.destroy();
  const after = closedAt === 0 ? Infinity : closedAt - started;
  t.ok(after < 4000, `closed ${after} ms after the request began, though bytes kept coming`);
});

t.test('300 header-trickling connections: every /healthz probe still answers', async (t) => {
  let stop = false;
  let open = 0;
  let peak = 0;
  const attack = async (address: string): Promise<void> => {
    for (let round = 0; !stop && round < 50; round++) {
      const s = await connect(address);
      if (!s) {
        await sleep(50);
        continue;
      }
      open++;
      peak = Math.max(peak, open);
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ');
      while (!stop && !s.destroyed) {
        await Promise.race([sleep(500), closed]);
        if (!s.destroyed) s.write('a');
      }
      s.destroy();
      open--;
    }
  };
  const runs: Promise<void>[] = [];
  for (let a = 1; a <= 30; a++) for (let k = 0; k < 10; k++) runs.push(attack(`127.0.5.${a}`));
  await sleep(1000);
  const results: number[] = [];
  for (let i = 0; i < 30; i++) {
    results.push(await probe());
    await sleep(100);
  }
  stop = true;
  await Promise.all(runs);
  t.ok(peak >= 250, `the attackers held up to ${peak} connections`);
  const ok = results.filter((s) => s === 200).length;
  t.equal(ok, results.length, `${ok}/${results.length} probes answered 200 within 1 s`);
});
