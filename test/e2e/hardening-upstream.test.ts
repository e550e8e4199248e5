import t from 'tap';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { encodeQuery, decode } from '../helpers/wire';
import { answerFor, encodeName, metric, metrics, questionOf, sleep, startResponder, status, udpAsk, type Responder } from '../helpers/hardening';

/**
 * Upstream side, whole process: a dead first upstream is marked down after
 * max_fails and skipped, a probe brings it back when something answers on its port again; and
 * upstreams that answer garbage, with the wrong ID, the wrong question or from the wrong port are
 * ignored and counted while the query goes on to the genuine reply or the next upstream.
 */

const A = (buf: Buffer | undefined): string[] =>
  buf ? (decode(buf).answers as { type: number; address?: string }[]).filter((a) => a.type === 1).map((a) => a.address ?? '') : [];
const rcode = (buf: Buffer | undefined): number => (buf ? buf[3] & 0x0f : -1);
let nextId = 1;
const q = (name: string): Buffer => encodeQuery(name, { id: nextId++ & 0xffff });

t.test('upstream health: marked down after max_fails, skipped, probed back', async (t) => {
  const dead = dgram.createSocket('udp4');
  let deadSeen = 0;
  const deadNames: string[] = [];
  dead.on('message', (m) => {
    deadSeen++;
    deadNames.push(questionOf(m).name);
  });
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', () => r()));
  const deadPort = dead.address().port;
  const good = await startResponder((m, send) => send(answerFor(m, '192.0.2.1', { ttl: 0 })));
  let revived: Responder | undefined;
  let daemon: RunningDaemon | undefined;
  t.teardown(async () => {
    await daemon?.stop();
    await good.close();
    await revived?.close();
    try { dead.close(); } catch { /* already closed */ }
  });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${deadPort}", "127.0.0.1:${good.port}"], timeout: 600ms, policy: sequential, max_fails: 2, health_check: 200ms }
cache: { size: 0 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  const http = daemon.httpPort as number;
  const deadLabel = `server="127.0.0.1:${deadPort}"`;
  t.equal(metric(await metrics(http), 'privatelink_dns_upstream_healthy', deadLabel), 1, 'starts healthy');

  const slow: number[] = [];
  for (let i = 0; i < 2; i++) {
    const started = Date.now();
    const r = await udpAsk(daemon.dnsPort, q(`slow${i}.example.test`), 3000);
    slow.push(Date.now() - started);
    t.same(A(r), ['192.0.2.1'], `query ${i} answered by the second upstream after the first timed out`);
  }
  t.ok(slow.every((ms) => ms >= 550), `the first queries waited for the dead upstream's timeout (${slow.join(', ')} ms)`);
  const m1 = await metrics(http);
  t.equal(metric(m1, 'privatelink_dns_upstream_healthy', deadLabel), 0, 'privatelink_dns_upstream_healthy 0 for the dead upstream');
  t.equal(metric(m1, 'privatelink_dns_upstream_healthy', `server="127.0.0.1:${good.port}"`), 1, 'the good one stays 1');
  const s1 = await status(http);
  const deadStatus = (s1.upstreams as { server: string; healthy: boolean; consecutiveFailures: number }[]).find((u) => u.server === `127.0.0.1:${deadPort}`);
  t.equal(deadStatus?.healthy, false, '/status shows the dead upstream down');
  t.ok((deadStatus?.consecutiveFailures ?? 0) >= 2, '/status counts its failures');

  const seenBefore = deadSeen;
  const fast: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = Date.now();
    const r = await udpAsk(daemon.dnsPort, q(`fast${i}.example.test`), 3000);
    fast.push(Date.now() - started);
    t.same(A(r), ['192.0.2.1']);
  }
  // Counted, not timed: after it was marked down, the dead upstream saw only health probes (". NS"), no client query.
  const sinceDown = deadNames.slice(seenBefore);
  t.ok(sinceDown.every((n) => n === ''), `queries go straight to the healthy upstream (${fast.join(', ')} ms); the dead one saw ${sinceDown.length} probes only`);

  // Bring the dead one back: a real responder on its port; the prober must notice.
  dead.close();
  revived = await startResponder((m, send) => send(answerFor(m, '192.0.2.99', { ttl: 0 })), deadPort);
  let healthy = 0;
  const until = Date.now() + 15_000;
  while (Date.now() < until && healthy !== 1) {
    await sleep(100);
    healthy = metric(await metrics(http), 'privatelink_dns_upstream_healthy', deadLabel);
  }
  t.equal(healthy, 1, 'probe marked the revived upstream healthy');
  t.ok(revived.seen >= 1, 'the probe reached it');
  const back = await udpAsk(daemon.dnsPort, q('back.example.test'), 3000);
  t.same(A(back), ['192.0.2.99'], 'sequential policy uses the first upstream again');
  const s2 = await status(http);
  t.equal((s2.upstreams as { server: string; healthy: boolean }[]).find((u) => u.server === `127.0.0.1:${deadPort}`)?.healthy, true, '/status shows it healthy again');
  await daemon.waitForLog((l) => l.msg === 'upstream marked down', 1000);
  await daemon.waitForLog((l) => typeof l.msg === 'string' && /marked healthy|healthy again/.test(l.msg), 1000);
  t.comment(`tried: 2 queries with the first upstream dead (${slow.join('/')} ms), 5 after it was marked down (max ${Math.max(...fast)} ms), revived it; dead saw ${deadSeen} packets, revived saw ${revived.seen}`);
});

t.test('forged and broken upstream replies are ignored and counted', async (t) => {
  // The "bad" upstream is listed first. For NAME = MODE.real.test it sends a forged reply and then
  // the genuine one; for MODE.next.test only the forged one (the query must move on).
  const wrongPort = dgram.createSocket('udp4');
  await new Promise<void>((r) => wrongPort.bind(0, '127.0.0.1', () => r()));
  const sent: Record<string, number> = {};
  const bad = await startResponder((m, send, rinfo) => {
    const { name, question } = questionOf(m);
    const [mode, kind] = name.split('.');
    sent[mode] = (sent[mode] ?? 0) + 1;
    const id = m.readUInt16BE(0);
    let forged: Buffer;
    switch (mode) {
      case 'garbage': forged = randomBytes(40 + (id % 200)); forged[2] |= 0x80; break;
      case 'wrongid': forged = answerFor(m, '6.6.6.6', { id: (id + 1) & 0xffff }); break;
      case 'wrongq': forged = answerFor(m, '6.6.6.6', { question: Buffer.concat([encodeName('evil.example.test'), question.subarray(question.length - 4)]) }); break;
      case 'wrongport': forged = answerFor(m, '6.6.6.6'); break;
      case 'short': forged = m.subarray(0, 6); break;
      case 'malformed': {
        // Right ID and question, then an answer record cut in the middle.
        const full = answerFor(m, '6.6.6.6');
        forged = full.subarray(0, full.length - 7);
        break;
      }
      default: forged = answerFor(m, '192.0.2.50');
    }
    if (mode === 'slow') {
      // A genuine reply, but after the 400 ms timeout: the exchange has moved on.
      setTimeout(() => send(answerFor(m, '6.6.6.6', { ttl: 0 })), 700);
      return;
    }
    if (mode === 'wrongport') wrongPort.send(forged, rinfo.port, rinfo.address);
    else send(forged);
    if (kind === 'real') setTimeout(() => send(answerFor(m, '192.0.2.50', { ttl: 0 })), 30);
  });
  const good = await startResponder((m, send) => send(answerFor(m, '192.0.2.1', { ttl: 0 })));
  let daemon: RunningDaemon | undefined;
  t.teardown(async () => {
    await daemon?.stop();
    await bad.close();
    await good.close();
    wrongPort.close();
  });
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${bad.port}", "127.0.0.1:${good.port}"], timeout: 400ms, policy: sequential, max_fails: 1000 }
cache: { size: 0 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  const http = daemon.httpPort as number;
  const badLabel = `server="127.0.0.1:${bad.port}"`;
  const modes = ['garbage', 'wrongid', 'wrongq', 'wrongport', 'short'];
  const survived: string[] = [];
  for (const mode of modes) {
    const before = await metrics(http);
    const real = await udpAsk(daemon.dnsPort, q(`${mode}.real.test`), 3000);
    t.same(A(real), ['192.0.2.50'], `${mode}: the forged reply is ignored, the genuine one that follows is taken`);
    const next = await udpAsk(daemon.dnsPort, q(`${mode}.next.test`), 3000);
    t.same(A(next), ['192.0.2.1'], `${mode}: with only a forged reply the query moves on to the next upstream`);
    const after = await metrics(http);
    const mismatches = metric(after, 'privatelink_dns_upstream_requests_total', badLabel, 'result="mismatch"') - metric(before, 'privatelink_dns_upstream_requests_total', badLabel, 'result="mismatch"');
    // The upstream socket is connected (the addon's exchanges, as CI builds it): the kernel drops a
    // datagram from any other port before the daemon sees it, so there is nothing to count.
    const counted = mode === 'wrongport' ? 0 : 2;
    t.equal(mismatches, counted, `${mode}: ${counted === 2 ? 'both forged replies counted as mismatches' : 'dropped by the kernel, never seen'}`);
    t.ok(metric(after, 'privatelink_dns_upstream_requests_total', badLabel, 'result="timeout"') > metric(before, 'privatelink_dns_upstream_requests_total', badLabel, 'result="timeout"'), `${mode}: the forged-only exchange counted as a timeout`);
    if (!A(real).includes('6.6.6.6') && !A(next).includes('6.6.6.6')) survived.push(mode);
  }
  // Right ID and question but a broken body: not a usable answer; the next upstream answers.
  const before = await metrics(http);
  const mal = await udpAsk(daemon.dnsPort, q('malformed.next.test'), 3000);
  t.equal(rcode(mal), 0, 'malformed reply: not passed on as SERVFAIL or as broken bytes');
  t.same(A(mal), ['192.0.2.1'], 'malformed reply: the next upstream answers');
  const after = await metrics(http);
  t.ok(metric(after, 'privatelink_dns_upstream_requests_total', badLabel, 'result="malformed"') > metric(before, 'privatelink_dns_upstream_requests_total', badLabel, 'result="malformed"'), 'malformed reply counted');
  // Slow: the reply comes after the timeout; the next upstream answers in about one timeout.
  const slowBefore = await metrics(http);
  const slowStarted = Date.now();
  const slow = await udpAsk(daemon.dnsPort, q('slow.next.test'), 3000);
  const slowMs = Date.now() - slowStarted;
  const slowAfter = await metrics(http);
  const timedOut = (m: Map<string, number>): number => metric(m, 'privatelink_dns_upstream_requests_total', badLabel, 'result="timeout"');
  // The late reply (6.6.6.6 at 700 ms) would be the answer if the exchange waited past its timeout.
  t.same(A(slow), ['192.0.2.1'], 'slow upstream: the next upstream answers');
  t.ok(slowMs >= 380, `slow upstream: waited for the 400 ms timeout (${slowMs} ms)`);
  t.equal(timedOut(slowAfter) - timedOut(slowBefore), 1, 'slow upstream: one exchange counted as a timeout, then moved on');
  await sleep(400); // the late reply arrives on a closed socket
  const ok = await udpAsk(daemon.dnsPort, q('plain.real.test'), 3000);
  t.same(A(ok), ['192.0.2.50'], 'daemon still answers normally');
  t.comment(`tried: ${JSON.stringify(sent)} forged kinds; survived (no forged data reached a client): ${survived.join(', ')}; mismatches total=${metric(after, 'privatelink_dns_upstream_requests_total', 'result="mismatch"')}, timeouts=${metric(after, 'privatelink_dns_upstream_requests_total', 'result="timeout"')}, malformed=${metric(after, 'privatelink_dns_upstream_requests_total', 'result="malformed"')}`);
});
