import t from 'tap';
import dgram from 'node:dgram';
import { dig } from '../helpers/dig';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { startUnbound, type RunningUnbound } from '../helpers/unbound';
import { encodeQuery, decode } from '../helpers/wire';

/**
 * The core resolver through the real CLI: dig and kdig as clients, a real Unbound upstream on
 * loopback that also serves a conflicting 100.64/10 address for a managed name (which must never
 * reach clients).
 */
const bigTxt = Array.from({ length: 40 }, (_, i) => `local-data: "big.example.test. 300 IN TXT \\"record-${i}-${'x'.repeat(60)}\\""`);
let upstream: RunningUnbound;
let daemon: RunningDaemon;
let blackhole: dgram.Socket;

t.before(async () => {
  upstream = await startUnbound([
    'local-zone: "example.test." static',
    'local-data: "www.example.test. 300 IN A 192.0.2.10"',
    'local-data: "www.example.test. 300 IN AAAA 2001:db8::10"',
    ...bigTxt,
    'local-zone: "aliyuncs.com." static',
    'local-data: "cs-anony-vpc.cn-hangzhou.aliyuncs.com. 300 IN A 100.100.1.1"',
    'local-data: "cs-anony-vpc.cn-hangzhou.aliyuncs.com. 300 IN AAAA 2001:db8::100"',
    'local-data: "unavailable.cn-hangzhou.aliyuncs.com. 300 IN A 100.100.2.2"',
  ]);
  // An upstream that reads every query and never answers, listed first.
  blackhole = dgram.createSocket('udp4');
  await new Promise<void>((r) => blackhole.bind(0, '127.0.0.1', () => r()));
  const deadPort = blackhole.address().port;
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: false }
access: { allow: ["127.0.0.1/32", "::1/128"] }
upstream: { servers: ["127.0.0.1:${deadPort}", "127.0.0.1:${upstream.port}"], timeout: 400ms, policy: sequential, max_fails: 1000 }
records:
  ttl: 45
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      addresses: ["192.168.1.10", "192.168.2.10", "fd00::10"]
    - names: ["oss-{region}-internal.aliyuncs.com", "*.oss-{region}-internal.aliyuncs.com"]
      addresses: ["192.168.3.10"]
    - names: ["unavailable.{region}.aliyuncs.com"]
      endpoint: ep-bp1nosuchendpoint00
state_dir: false
log: { level: info }
`);
});

t.teardown(async () => {
  await daemon?.stop();
  await upstream?.stop();
  blackhole?.close();
});

t.test('managed A: both IPs, AA, configured TTL, never the upstream 100.64/10 address', async (t) => {
  for (const tool of ['dig', 'kdig'] as const) {
    const r = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'A', [], tool);
    t.equal(r.status, 'NOERROR', tool);
    t.ok(r.flags.includes('aa'), `${tool}: AA set`);
    t.same(r.answers.map((a) => a.data).sort(), ['192.168.1.10', '192.168.2.10'], `${tool}: our endpoint IPs`);
    t.ok(r.answers.every((a) => a.ttl === 45), `${tool}: TTL from records.ttl`);
    t.notMatch(r.raw, /100\.100\.1\.1/, `${tool}: the colliding address never appears`);
  }
});

t.test('managed AAAA, MX (NODATA + SOA), ANY (RFC 8482)', async (t) => {
  const aaaa = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'AAAA');
  t.same(aaaa.answers.map((a) => a.data), ['fd00::10']);
  t.notMatch(aaaa.raw, /2001:db8::100/, 'upstream AAAA not leaked');
  const mx = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'MX');
  t.equal(mx.status, 'NOERROR');
  t.equal(mx.answers.length, 0);
  t.equal(mx.authority[0]?.type, 'SOA');
  const ossAaaa = await dig(daemon.dnsPort, 'bucket.oss-cn-hangzhou-internal.aliyuncs.com', 'AAAA', [], 'kdig');
  t.equal(ossAaaa.status, 'NOERROR', 'AAAA for an IPv4-only name is NODATA, not forwarded');
  t.equal(ossAaaa.answers.length, 0);
  t.equal(ossAaaa.authority[0]?.type, 'SOA');
  const any = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'ANY');
  t.equal(any.status, 'NOERROR');
  t.ok(any.answers.length >= 1 && any.answers.every((a) => a.type === 'A'), 'one RRset');
});

t.test('wildcard match over UDP and TCP', async (t) => {
  const udp = await dig(daemon.dnsPort, 'aliacs-k8s-cn-hangzhou.oss-cn-hangzhou-internal.aliyuncs.com');
  t.same(udp.answers.map((a) => a.data), ['192.168.3.10']);
  const tcp = await dig(daemon.dnsPort, 'another-bucket.oss-cn-hangzhou-internal.aliyuncs.com', 'A', ['+tcp'], 'kdig');
  t.same(tcp.answers.map((a) => a.data), ['192.168.3.10']);
  t.equal(tcp.server, 'TCP');
});

t.test('a managed entry with no usable IP is SERVFAIL, not forwarded', async (t) => {
  const r = await dig(daemon.dnsPort, 'unavailable.cn-hangzhou.aliyuncs.com');
  t.equal(r.status, 'SERVFAIL');
  t.notMatch(r.raw, /100\.100\.2\.2/);
});

t.test('forwarded names and NXDOMAIN over UDP and TCP, past a dead first upstream', async (t) => {
  for (const extra of [[], ['+tcp']]) {
    const r = await dig(daemon.dnsPort, 'www.example.test', 'A', extra);
    t.equal(r.status, 'NOERROR', `forwarded ${extra.join(' ')}`);
    t.same(r.answers.map((a) => a.data), ['192.0.2.10']);
    const nx = await dig(daemon.dnsPort, 'missing.example.test', 'A', extra, 'kdig');
    t.equal(nx.status, 'NXDOMAIN', `NXDOMAIN ${extra.join(' ')}`);
  }
});

t.test('a large upstream answer: UDP truncated with TC, full answer over TCP', async (t) => {
  const udp = await dig(daemon.dnsPort, 'big.example.test', 'TXT', ['+ignore', '+bufsize=1232']);
  t.ok(udp.flags.includes('tc'), 'TC set over UDP');
  t.equal(udp.answers.length, 0, 'never a sliced answer');
  const size = Number(/MSG SIZE\s+rcvd: (\d+)/.exec(udp.raw)?.[1]);
  t.ok(size > 0 && size <= 1232, `truncated reply fits (${size} bytes)`);
  const full = await dig(daemon.dnsPort, 'big.example.test', 'TXT');
  t.match(full.raw, /Truncated, retrying in TCP mode/);
  t.equal(full.answers.length, 40, 'all records after the TCP retry');
  const noEdns = await dig(daemon.dnsPort, 'big.example.test', 'TXT', ['+ignore', '+noedns']);
  t.ok(noEdns.flags.includes('tc'));
  t.ok(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(noEdns.raw)?.[1]) <= 512, 'no EDNS: at most 512 bytes');
});

t.test('source outside access.allow gets REFUSED', async (t) => {
  const r = await dig(daemon.dnsPort, 'www.example.test', 'A', ['-b', '127.0.0.2']);
  t.equal(r.status, 'REFUSED');
  const managed = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'A', ['-b', '127.0.0.2']);
  t.equal(managed.status, 'REFUSED');
  t.equal(managed.answers.length, 0);
});

t.test('EDNS: BADVERS for version 1; FORMERR for a malformed query', async (t) => {
  const r = await dig(daemon.dnsPort, 'www.example.test', 'A', ['+edns=1', '+noednsneg']);
  t.equal(r.status, 'BADVERS');
  const reply = await udpExchange(daemon.dnsPort, Buffer.from('abcd0100000200000000000000', 'hex'));
  t.ok(reply, 'a reply came');
  if (reply) {
    t.equal(reply.readUInt16BE(0), 0xabcd, 'ID kept');
    t.equal(reply[3] & 0x0f, 1, 'FORMERR');
  }
});

t.test('10,000 random and mutated datagrams: no crash, still answering correctly', async (t) => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let replies = 0;
  sock.on('message', () => replies++);
  const seeds = [
    encodeQuery('cs-anony-vpc.cn-hangzhou.aliyuncs.com'),
    encodeQuery('www.example.test', { type: 28 }),
    encodeQuery('bucket.oss-cn-hangzhou-internal.aliyuncs.com', { edns: false }),
  ];
  // mulberry32: a small seeded PRNG, so a failure can be replayed.
  let seed = 0x5eed;
  const rand = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return (((x ^ (x >>> 14)) >>> 0) % n);
  };
  const kinds = { random: 0, flipped: 0, truncated: 0, extended: 0 };
  for (let i = 0; i < 10_000; i++) {
    let pkt: Buffer;
    const kind = rand(4);
    if (kind === 0) {
      pkt = Buffer.alloc(rand(600));
      for (let j = 0; j < pkt.length; j++) pkt[j] = rand(256);
      kinds.random++;
    } else {
      pkt = Buffer.from(seeds[rand(seeds.length)]);
      if (kind === 1) {
        for (let k = 0; k < 1 + rand(4); k++) pkt[rand(pkt.length)] = rand(256);
        kinds.flipped++;
      } else if (kind === 2) {
        pkt = pkt.subarray(0, rand(pkt.length));
        kinds.truncated++;
      } else {
        pkt = Buffer.concat([pkt, Buffer.alloc(rand(64), rand(256))]);
        kinds.extended++;
      }
    }
    sock.send(pkt, daemon.dnsPort, '127.0.0.1');
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 1500));
  sock.close();
  t.comment(`sent 10000 datagrams ${JSON.stringify(kinds)}; ${replies} replies`);
  t.equal(daemon.proc.exitCode, null, 'daemon still running');
  const r = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.same(r.answers.map((a) => a.data).sort(), ['192.168.1.10', '192.168.2.10'], 'managed answers intact');
  const f = await dig(daemon.dnsPort, 'www.example.test');
  t.same(f.answers.map((a) => a.data), ['192.0.2.10'], 'forwarding intact');
});

t.test('a query with QR=1 gets no answer (no reflection)', async (t) => {
  const q = encodeQuery('www.example.test');
  q[2] |= 0x80;
  t.equal(await udpExchange(daemon.dnsPort, q, 500), undefined);
  const ok = await udpExchange(daemon.dnsPort, encodeQuery('www.example.test'));
  t.equal(ok && decode(ok).answers.length, 1);
});

async function udpExchange(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, timeoutMs);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(msg, port, '127.0.0.1');
  });
}

t.test('an IPv6 listener answers over UDP and TCP', async (t) => {
  const v6 = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["[::1]:0"], http: false }
records:
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      addresses: ["192.168.1.10", "fd00::10"]
state_dir: false
limits: { lameduck: 0s }
`);
  t.teardown(() => v6.stop());
  const a = await dig(v6.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'A', [], 'dig', '::1');
  t.same(a.answers.map((x) => x.data), ['192.168.1.10']);
  const aaaa = await dig(v6.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com', 'AAAA', ['+tcp'], 'kdig', '::1');
  t.same(aaaa.answers.map((x) => x.data), ['fd00::10']);
  t.equal(aaaa.server, 'TCP');
});
