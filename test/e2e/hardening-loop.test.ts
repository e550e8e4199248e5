import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, CLI, type RunningDaemon } from '../helpers/daemon';
import { startUnbound, type RunningUnbound } from '../helpers/unbound';
import { freePort } from '../helpers/ports';
import { dig } from '../helpers/dig';
import { metric, metrics, startResponder, answerFor, sleep } from '../helpers/hardening';
import { cpuSeconds, settle } from '../helpers/settle';
import { encodeQuery, decode } from '../helpers/wire';
import dgram from 'node:dgram';

/**
 * Whole process: privatelink-dns forwards everything to a real Unbound, which
 * forwards the zone loop.corp (not under test., which Unbound answers itself) back to privatelink-dns. A query in that zone must end in SERVFAIL
 * within the upstream timeout, counted and logged, without spinning; other names keep working.
 * (Everything here is on loopback, where a query from the upstream's address may also be a local
 * program: the daemon waits for its own forward instead of failing at once; from another host a
 * loop is answered SERVFAIL immediately.) A local client sharing the upstream's address is not
 * mistaken for a loop. And `check` rejects an upstream that is one of our own listen addresses.
 */
let daemon: RunningDaemon;
let unbound: RunningUnbound;

t.before(async () => {
  const dnsPort = await freePort();
  unbound = await startUnbound([
    'local-zone: "example.test." static',
    'local-data: "www.example.test. 300 IN A 192.0.2.10"',
    'domain-insecure: "loop.corp."',
    // Unbound pre-opens random outgoing ports; keep it off the port we picked for the daemon.
    `outgoing-port-avoid: ${dnsPort}`,
  ], ['forward-zone:', '  name: "loop.corp."', `  forward-addr: 127.0.0.1@${dnsPort}`, '']);
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:${dnsPort}"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${unbound.port}"], timeout: 800ms, max_fails: 1000 }
cache: { size: 0 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await unbound?.stop();
});

t.test('a zone forwarded back to us: SERVFAIL within the upstream timeout, counted, no spin', async (t) => {
  const http = daemon.httpPort as number;
  const upstreamExchanges = async (): Promise<number> => metric(await metrics(http), 'privatelink_dns_upstream_requests_total');
  const m0 = await metrics(http);
  const times: number[] = [];
  for (const name of ['a.loop.corp', 'b.loop.corp', 'c.loop.corp']) {
    const started = Date.now();
    const r = await dig(daemon.dnsPort, name, 'A');
    times.push(Date.now() - started);
    t.equal(r.status, 'SERVFAIL', `${name}: SERVFAIL (got ${r.status}: ${r.raw.split("\n").filter((l) => /IN/.test(l)).join(" | ")})`);
  }
  // dig waits 3 s (+time=3, one try): a SERVFAIL before that is the daemon's, sent when its 800 ms forward timed out.
  t.ok(Math.max(...times) < 3000, `answered by the daemon, not dig's timeout (${times.join(', ')} ms)`);
  const m1 = await metrics(http);
  const loops = metric(m1, 'privatelink_dns_loops_detected_total') - metric(m0, 'privatelink_dns_loops_detected_total');
  t.ok(loops >= 3, `loops_detected_total moved: ${loops}`);
  const upstreamQueries = metric(m1, 'privatelink_dns_upstream_requests_total') - metric(m0, 'privatelink_dns_upstream_requests_total');
  t.ok(upstreamQueries <= 3 * 4, `no amplification: ${upstreamQueries} upstream exchanges for 3 client queries`);
  // No spin: Unbound's last retries may still come back after the SERVFAILs (later on a loaded
  // machine), but the exchange counter stops moving, at a small bound per client query, and
  // the daemon spends next to no CPU while it waits.
  const cpu0 = cpuSeconds(daemon.proc.pid as number);
  const quiet = await settle(upstreamExchanges, 2000, 20_000);
  const cpu = cpuSeconds(daemon.proc.pid as number) - cpu0;
  const later = quiet.value - metric(m1, 'privatelink_dns_upstream_requests_total');
  t.ok(quiet.settled, `upstream exchanges stopped (${later} more after the answers, quiet after ${quiet.ms} ms)`);
  t.ok(upstreamQueries + later <= 3 * 6, `bounded per client query: ${upstreamQueries}+${later} exchanges for 3 queries`);
  t.ok(cpu < 0.5, `idle while settling: ${cpu.toFixed(2)} CPU s in ${quiet.ms} ms`);
  const warn = daemon.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('forwarding loop'));
  t.ok(warn.length >= 1 && warn.length <= 3, `logged once per name (${warn.length} lines)`);

  const www = await dig(daemon.dnsPort, 'www.example.test', 'A');
  t.same(www.answers.map((a) => a.data), ['192.0.2.10'], 'other names still forwarded normally');
  const ntp = await dig(daemon.dnsPort, 'ntp.internal.example', 'A');
  t.same(ntp.answers.map((a) => a.data), ['10.0.0.123'], 'static names still answered');
  const m2 = await metrics(http);
  t.comment(`tried: 3 looping names (${times.join('/')} ms); loops_detected_total=${metric(m2, 'privatelink_dns_loops_detected_total')}, upstream exchanges=${upstreamQueries}+${later}, loop log lines=${warn.length}, settle CPU ${cpu.toFixed(2)} s`);
});

t.test('a local client sharing the upstream address is not taken for a loop', async (t) => {
  // A slow upstream on 127.0.0.1; two programs on 127.0.0.1 ask the same name at the same time.
  const slow = await startResponder((query, send) => {
    setTimeout(() => send(answerFor(query, '192.0.2.77')), 300);
  });
  t.teardown(() => slow.close());
  const d = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: ["127.0.0.1:${slow.port}"], timeout: 2s }
cache: { size: 0 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
limits: { lameduck: 0s }
`);
  t.teardown(() => d.stop());
  const m0 = await metrics(d.httpPort as number);
  const ask = (id: number): Promise<Buffer | undefined> => new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); resolve(undefined); }, 3000);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.send(encodeQuery('same.name.example', { id }), d.dnsPort, '127.0.0.1');
  });
  const first = ask(1);
  await sleep(50);
  const replies = await Promise.all([first, ask(2), ask(3)]);
  for (const [i, r] of replies.entries()) {
    t.ok(r, `reply ${i + 1}`);
    if (!r) continue;
    const p = decode(r);
    t.equal(p.header.rcode, 0, `client ${i + 1}: NOERROR, not a loop SERVFAIL`);
    t.same(p.answers.map((a) => (a as { address?: string }).address), ['192.0.2.77'], `client ${i + 1}: the upstream's answer`);
    t.equal(p.header.id, i + 1, 'each client gets its own ID');
  }
  const m1 = await metrics(d.httpPort as number);
  t.equal(metric(m1, 'privatelink_dns_loops_detected_total') - metric(m0, 'privatelink_dns_loops_detected_total'), 0, 'no loop counted');
});

t.test('check rejects an upstream that is our own listen address', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pldns-loopcheck-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:5399"], http: false }
upstream: { servers: ["10.0.0.2:53", "127.0.0.1:5399"] }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', path], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 2, 'exit 2');
  t.match(`${r.stdout}${r.stderr}`, /upstream\.servers\[1\]: .*own listen/, 'names the offending key');
  writeFileSync(path, `
region: cn-hangzhou
listen: { dns: ["127.0.0.1:5399"], http: false }
upstream: { servers: ["10.0.0.2:53", "127.0.0.1:5398"] }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
  t.equal(spawnSync(process.execPath, [CLI, 'check', '--config', path], { encoding: 'utf8', timeout: 20_000 }).status, 0, 'a different port is fine');
});
