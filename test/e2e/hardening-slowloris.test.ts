import t from 'tap';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery, decode } from '../helpers/wire';
import { metric, metrics, sleep, TcpDns } from '../helpers/hardening';

/**
 * TCP slowloris (RFC 7766 §10), from an attacker's side. Bytes trickled into an
 * unfinished frame must not keep a connection open; clients outside access.allow must not hold
 * slots; at the caps a new connection sheds the oldest idle one, so a legitimate client gets in.
 */
const CAP = 120;
const PER_CLIENT = 8;
/** The daemon's frame deadline: min(tcp_idle_timeout, 3 s). */
const FRAME_MS = 3000;

let daemon: RunningDaemon;

t.before(async () => {
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.1/32", "127.0.1.0/24", "127.0.3.0/24"] }
limits: { tcp_max_connections: ${CAP}, tcp_max_connections_per_client: ${PER_CLIENT}, tcp_idle_timeout: 10s }
records:
  entries:
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
state_dir: false
`);
});
t.teardown(() => daemon?.stop());

function connect(localAddress: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ port: daemon.dnsPort, host: '127.0.0.1', localAddress });
    s.on('error', () => resolve(undefined));
    s.once('connect', () => resolve(s));
  });
}

/** One legitimate query on a fresh connection: true when answered within `timeoutMs`. */
async function legit(id: number, timeoutMs = 2000): Promise<boolean> {
  const c = await TcpDns.connect(daemon.dnsPort, '127.0.0.1');
  c.send(encodeQuery('ntp.internal.example', { id }));
  const frames = await c.waitFrames(1, timeoutMs);
  c.destroy();
  return frames.length === 1 && decode(frames[0]).header.id === id;
}

t.test('bytes trickled into a frame do not extend its deadline', async (t) => {
  const s = await connect('127.0.0.1');
  if (!s) throw new Error('connect failed');
  let closedAt = 0;
  s.once('close', () => (closedAt = Date.now()));
  const started = Date.now();
  s.write(Buffer.from([0, 200])); // announces a 200-byte frame, then one byte every 100 ms
  let sent = 0;
  while (closedAt === 0 && Date.now() - started < FRAME_MS + 3000) {
    await sleep(100);
    if (!s.destroyed) s.write(Buffer.from([sent++ & 0xff]));
  }
  s.destroy();
  t.ok(closedAt > 0, 'the daemon closed the trickling connection');
  const after = closedAt === 0 ? Infinity : closedAt - started;
  t.ok(after >= FRAME_MS - 100 && after < FRAME_MS + 2000, `closed ${after} ms after the frame began (deadline ${FRAME_MS} ms, idle timeout 10 s)`);
  t.ok(sent >= (FRAME_MS - 500) / 100 - 5, `bytes kept arriving until the end (${sent} sent)`);
  const m = await metrics(daemon.httpPort as number);
  t.ok(metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_frame_timeout"') >= 1, 'counted as tcp_frame_timeout');
});

t.test('slowloris from many allowed addresses: a legitimate client still gets answers', async (t) => {
  const attackers = new Set<net.Socket>();
  let stop = false;
  let opened = 0;
  // 16 addresses × 10 connections > CAP, each trickling one byte every 500 ms and reconnecting when cut.
  const attack = async (address: string): Promise<void> => {
    while (!stop && opened < 5000) {
      const s = await connect(address);
      if (!s) {
        await sleep(50);
        continue;
      }
      opened++;
      attackers.add(s);
      s.write(Buffer.from([0, 100]));
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      while (!stop && !s.destroyed) {
        await Promise.race([sleep(500), closed]);
        if (!s.destroyed) s.write(Buffer.from([0x41]));
      }
      attackers.delete(s);
    }
  };
  const runs: Promise<void>[] = [];
  for (let a = 1; a <= 16; a++) for (let k = 0; k < 10; k++) runs.push(attack(`127.0.1.${a}`));
  await sleep(1500);
  const held = attackers.size;
  const answered: boolean[] = [];
  for (let i = 0; i < 10; i++) {
    answered.push(await legit(1000 + i));
    await sleep(150);
  }
  stop = true;
  for (const s of attackers) s.destroy();
  await Promise.all(runs);
  t.ok(held >= CAP - 5, `the attackers held ${held} connections (cap ${CAP})`);
  t.same(answered, answered.map(() => true), `every legitimate query answered (${answered.filter(Boolean).length}/10)`);
  const m = await metrics(daemon.httpPort as number);
  t.ok(metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_idle_shed"') >= 1, 'idle connections were shed for new ones');
});

t.test('sources outside access.allow are refused at accept and hold no slot', async (t) => {
  const sockets: net.Socket[] = [];
  const closed: Promise<number>[] = [];
  const started = Date.now();
  for (let i = 0; i < CAP + 40; i++) {
    const s = await connect(`127.0.2.${1 + (i % 16)}`);
    if (!s) continue;
    sockets.push(s);
    closed.push(new Promise((r) => s.once('close', () => r(Date.now() - started))));
  }
  const times = await Promise.race([Promise.all(closed), sleep(3000).then(() => undefined)]);
  t.ok(times, `all ${sockets.length} connections from disallowed sources were closed by the daemon`);
  t.ok(await legit(7), 'an allowed client is served meanwhile');
  for (const s of sockets) s.destroy();
  const m = await metrics(daemon.httpPort as number);
  t.ok(metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_refused"') >= sockets.length, 'counted as tcp_refused');
});

t.test("at the per-client cap a new connection evicts that client's oldest idle one", async (t) => {
  const idle: TcpDns[] = [];
  for (let i = 0; i < PER_CLIENT; i++) {
    idle.push(await TcpDns.connect(daemon.dnsPort, '127.0.3.1'));
    await sleep(20);
  }
  const fresh = await TcpDns.connect(daemon.dnsPort, '127.0.3.1');
  fresh.send(encodeQuery('ntp.internal.example', { id: 99 }));
  const frames = await fresh.waitFrames(1, 2000);
  t.equal(frames.length, 1, 'the new connection is served');
  t.ok(await idle[0].waitClosed(1000), 'the oldest idle connection of that client was closed');
  t.notOk(idle[PER_CLIENT - 1].closed, 'its newest one was kept');
  for (const c of [...idle, fresh]) c.destroy();
});

t.test('tcp_max_connections is a total over every listener', async (t) => {
  const total = 10;
  const d = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0", "127.0.0.2:0"], http: false }
access: { allow: ["127.0.0.0/8"] }
limits: { tcp_max_connections: ${total}, tcp_max_connections_per_client: 100 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  t.teardown(() => d.stop());
  const started = d.logs().find((l) => l.msg === 'privatelink-dns started') as { dns: { tcp: number }[] };
  const [a, b] = started.dns.map((x) => x.tcp);
  const open = (port: number, host: string): Promise<net.Socket> => new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.once('error', reject);
  });
  const first: net.Socket[] = [];
  for (let i = 0; i < total; i++) first.push(await open(a, '127.0.0.1'));
  const closed = first.map((s) => new Promise<boolean>((r) => { s.once('close', () => r(true)); setTimeout(() => r(false), 1500); }));
  await sleep(100);
  const other = await open(b, '127.0.0.2');
  const shut = (await Promise.all(closed)).filter(Boolean).length;
  t.equal(shut, 1, `a connection to the second listener closed ${shut} idle one(s) on the first: the cap of ${total} is shared`);
  for (const s of [...first, other]) s.destroy();
});
