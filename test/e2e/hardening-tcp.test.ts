import t from 'tap';
import net from 'node:net';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery, decode } from '../helpers/wire';
import { metric, metrics, rssKb, sleep, startResponder, TcpDns, type Responder } from '../helpers/hardening';

/**
 * Whole process: per-client connection cap, idle timeout, a client that pipelines
 * and never reads is cut off without the daemon's RSS growing, oversized frames close the
 * connection, and pipelined queries all get answers matched by ID (out of order allowed).
 */
let daemon: RunningDaemon;
let upstream: Responder;
let upstreamOutstanding = 0;
let upstreamMaxOutstanding = 0;
const PER_CLIENT = 4;
const IDLE_MS = 600;

t.before(async () => {
  // A slow-ish upstream whose delay depends on the name, so forwarded answers come back out of order.
  upstream = await startResponder((m, send) => {
    const name = m.subarray(13, 13 + m[12]).toString('latin1');
    const delay = /^d(\d+)/.exec(name)?.[1];
    const reply = (): void => {
      const hdr = Buffer.from(m.subarray(0, 12));
      hdr.writeUInt16BE(0x8180, 2);
      hdr.writeUInt16BE(1, 6);
      hdr.writeUInt16BE(0, 10);
      let off = 12;
      while (m[off] !== 0) off += m[off] + 1;
      send(Buffer.concat([hdr, m.subarray(12, off + 5), Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 7])]));
    };
    upstreamOutstanding++;
    upstreamMaxOutstanding = Math.max(upstreamMaxOutstanding, upstreamOutstanding);
    const done = (): void => {
      upstreamOutstanding--;
      reply();
    };
    if (delay) setTimeout(done, Number(delay));
    else done();
  }, 0, { tcp: true }); // TCP clients are forwarded over TCP
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 1s }
cache: { size: 0 }
limits: { tcp_max_connections_per_client: ${PER_CLIENT}, tcp_idle_timeout: ${IDLE_MS}ms, tcp_max_in_flight: 16, tcp_max_write_buffer: 131072 }
records:
  entries:
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
    - names: ["big.internal.example"]
      addresses: [${Array.from({ length: 250 }, (_, i) => `"10.1.${i >> 4}.${i & 15}"`).join(', ')}]
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await upstream?.close();
});

t.test('per-client connection cap', async (t) => {
  // Busy connections (a forwarded query in flight) cannot be shed: past the cap, new ones are refused.
  const conns: TcpDns[] = [];
  for (let i = 0; i < PER_CLIENT; i++) {
    const c = await TcpDns.connect(daemon.dnsPort);
    c.send(encodeQuery(`d700-${i}.slow.example`, { id: i }));
    conns.push(c);
  }
  await sleep(200);
  // Each wait ends at its answer or its close; the long deadlines only matter on a loaded machine.
  const extra: TcpDns[] = [];
  for (let i = 0; i < 3; i++) extra.push(await TcpDns.connect(daemon.dnsPort));
  const refused = (await Promise.all(extra.map((c) => c.waitClosed(10_000)))).filter(Boolean).length;
  const results = await Promise.all(conns.map(async (c) => (await c.waitFrames(1, 10_000)).length));
  const served = results.filter((n) => n === 1).length;
  t.equal(served, PER_CLIENT, `${served} of ${conns.length} busy connections served (cap ${PER_CLIENT})`);
  t.equal(refused, extra.length, `${refused} connections over the cap closed by the daemon`);
  // Another client address is not affected by this one's cap.
  const other = await TcpDns.connect(daemon.dnsPort, '127.0.1.5');
  other.send(encodeQuery('ntp.internal.example', { id: 77 }));
  t.equal((await other.waitFrames(1, 1500)).length, 1, '127.0.1.5 still gets a connection');
  other.destroy();
  for (const c of [...conns, ...extra]) c.destroy();
  const m = await metrics(daemon.httpPort as number);
  t.ok(metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_client_cap"') >= 3, 'dropped_packets_total{reason="tcp_client_cap"}');
  const capDrops = metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_client_cap"');
  t.comment(`${conns.length} busy connections from 127.0.0.1 served ${served}, ${refused} more refused; tcp_client_cap=${capDrops}`);
  await sleep(100);
});

t.test('idle connection closed after tcp_idle_timeout', async (t) => {
  const c = await TcpDns.connect(daemon.dnsPort);
  const opened = Date.now();
  c.send(encodeQuery('ntp.internal.example', { id: 5 }));
  await c.waitFrames(1, 1000);
  t.equal(c.frames.length, 1, 'answered first');
  t.ok(await c.waitClosed(IDLE_MS * 10), 'closed by the daemon when idle');
  // Not before the timeout; how late the timer fires depends on the machine's load, not on the daemon.
  const after = (await c.closedAt) - opened;
  t.ok(after >= IDLE_MS - 50, `closed after ${after} ms (idle timeout ${IDLE_MS} ms)`);
});

t.test('oversized frame closes the connection', async (t) => {
  const c = await TcpDns.connect(daemon.dnsPort);
  const big = Buffer.alloc(2 + 5000);
  big.writeUInt16BE(5000, 0);
  c.socket.write(big.subarray(0, 100));
  t.ok(await c.waitClosed(1000), 'a frame announcing 5000 bytes (> 4096) is cut off at its header');
  t.equal(c.frames.length, 0, 'no answer');
  const ok = await TcpDns.connect(daemon.dnsPort);
  ok.send(encodeQuery('ntp.internal.example', { id: 6 }));
  t.equal((await ok.waitFrames(1, 1000)).length, 1, 'the daemon still serves TCP');
  ok.destroy();
  const m = await metrics(daemon.httpPort as number);
  t.ok(metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_frame_too_large"') >= 1, 'counted as tcp_frame_too_large');
});

t.test('pipelined queries all answered, matched by ID, out of order allowed', async (t) => {
  const c = await TcpDns.connect(daemon.dnsPort);
  const N = 60;
  const sent = new Map<number, string>();
  const chunks: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    // Mix local answers with forwarded ones delayed 0..200 ms: later queries can finish first.
    const name = i % 3 === 0 ? 'ntp.internal.example' : `d${(N - i) * 3}.x${i}.example.test`;
    const id = 0x1000 + i;
    sent.set(id, name);
    const q = encodeQuery(name, { id });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    chunks.push(len, q);
  }
  c.socket.write(Buffer.concat(chunks)); // one write: a real pipeline
  const frames = await c.waitFrames(N, 5000);
  c.destroy();
  t.equal(frames.length, N, `all ${N} answered`);
  const ids = frames.map((f) => f.readUInt16BE(0));
  t.same([...ids].sort((a, b) => a - b), [...sent.keys()].sort((a, b) => a - b), 'every ID answered exactly once');
  let mismatch = 0;
  for (const f of frames) {
    const p = decode(f);
    if ((p.questions[0] as { name: string }).name.toLowerCase() !== sent.get(p.header.id)) mismatch++;
  }
  t.equal(mismatch, 0, 'each answer carries the question of the query with its ID');
  const forwardedOk = frames.filter((f) => (decode(f).header.id - 0x1000) % 3 !== 0 && (f[3] & 0x0f) === 0 && (decode(f).answers as { address?: string }[])[0]?.address === '192.0.2.7').length;
  t.equal(forwardedOk, sent.size - Math.ceil(N / 3), `every forwarded query got the upstream's answer (${forwardedOk})`);
  const inOrder = ids.every((id, i) => i === 0 || id > ids[i - 1]);
  t.notOk(inOrder, 'answers arrived out of order (local ones did not wait for slow forwarded ones)');
  t.comment(`tried: ${N} pipelined queries in one write → ${frames.length} answers, first IDs ${ids.slice(0, 6).map((x) => x.toString(16)).join(',')}`);
});

t.test('per-connection in-flight cap: reading pauses, every query still answered', async (t) => {
  const c = await TcpDns.connect(daemon.dnsPort);
  const N = 48;
  upstreamMaxOutstanding = 0;
  const chunks: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    const q = encodeQuery(`d300.cap${i}.example.test`, { id: 0x2000 + i });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    chunks.push(len, q);
  }
  const started = Date.now();
  c.socket.write(Buffer.concat(chunks));
  const frames = await c.waitFrames(N, 5000);
  const ms = Date.now() - started;
  c.destroy();
  t.equal(frames.length, N, `all ${N} answered`);
  t.ok(upstreamMaxOutstanding <= 16, `at most tcp_max_in_flight (16) forwarded at once from one connection: ${upstreamMaxOutstanding}`);
  t.ok(upstreamMaxOutstanding >= 8, `but they do run concurrently: ${upstreamMaxOutstanding}`);
  t.ok(ms >= 3 * 300 - 50, `${N} queries of 300 ms in ≥ 3 rounds: ${ms} ms`);
  t.comment(`tried: ${N} pipelined 300 ms forwards on one connection → ${frames.length} answers in ${ms} ms, max ${upstreamMaxOutstanding} in flight`);
});

t.test('a client that pipelines and never reads is cut off; RSS stays bounded', async (t) => {
  const pid = daemon.proc.pid as number;
  const rssBefore = rssKb(pid);
  const rounds = 8;
  const series: number[] = [];
  let cut = 0;
  let written = 0;
  for (let r = 0; r < rounds; r++) {
    const s = net.connect({ port: daemon.dnsPort, host: '127.0.0.1' });
    await new Promise<void>((res) => s.once('connect', () => res()));
    s.pause(); // never read
    s.on('error', () => {});
    // A small query whose local answer is ~4 KB (250 A records): the answers pile up unread,
    // far past what the kernel's socket buffers absorb.
    const frames: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const q = encodeQuery('big.internal.example', { id: i });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      frames.push(len, q);
    }
    const payload = Buffer.concat(frames);
    // Keep writing the pipeline until the daemon hangs up (or 3 s).
    const closed = new Promise<boolean>((res) => {
      s.once('close', () => res(true));
      setTimeout(() => res(false), 3000);
    });
    let closedFlag = false;
    void closed.then((c) => (closedFlag = c));
    for (let k = 0; k < 40 && !closedFlag && !s.destroyed; k++) {
      s.write(payload);
      written += 1000;
      await sleep(20);
    }
    if (await closed) cut++;
    s.destroy();
    series.push(rssKb(pid));
  }
  await sleep(300);
  const rssAfter = rssKb(pid);
  t.equal(cut, rounds, `every non-reading client was cut off (${cut}/${rounds})`);
  // Bounded, not growing per client: the first rounds warm up the heap, later ones add little.
  const lateGrowth = Math.max(...series.slice(3)) - series[3];
  t.ok(rssAfter - rssBefore < 100_000, `RSS grew by ${rssAfter - rssBefore} KB in total (${rssBefore} → ${rssAfter} KB)`);
  t.ok(lateGrowth < 20_000, `RSS flat over the last ${rounds - 4} clients: +${lateGrowth} KB (per round: ${series.join(', ')})`);
  const m = await metrics(daemon.httpPort as number);
  const slow = metric(m, 'privatelink_dns_dropped_packets_total', 'reason="tcp_slow_reader"');
  t.ok(slow >= 1, `dropped_packets_total{reason="tcp_slow_reader"} = ${slow}`);
  const c = await TcpDns.connect(daemon.dnsPort);
  c.send(encodeQuery('ntp.internal.example', { id: 9 }));
  t.equal((await c.waitFrames(1, 1500)).length, 1, 'daemon still serves');
  c.destroy();
  t.comment(`tried: ${rounds} non-reading clients, ${written} pipelined queries written; cut off ${cut}; RSS ${rssBefore} → ${rssAfter} KB; tcp_slow_reader=${slow}, tcp connections now ${metric(m, 'privatelink_dns_tcp_connections')}`);
});
