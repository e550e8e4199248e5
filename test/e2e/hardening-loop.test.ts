import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, CLI, type RunningDaemon } from '../helpers/daemon';
import { startUnbound, type RunningUnbound } from '../helpers/unbound';
import { freePort } from '../helpers/ports';
import { dig } from '../helpers/dig';
import { metric, metrics } from '../helpers/hardening';

/**
 * Issue 6 item 4, whole process: privatelink-dns forwards everything to a real Unbound, which
 * forwards the zone loop.corp (not under test., which Unbound answers itself) back to privatelink-dns. A query in that zone must end in SERVFAIL
 * quickly, counted and logged, without spinning; other names keep working. And `check` rejects an
 * upstream that is one of our own listen addresses.
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
upstream: { servers: ["127.0.0.1:${unbound.port}"], timeout: 2s, max_fails: 1000 }
cache: { size: 0 }
records: { entries: [ { names: ["ntp.internal.example"], addresses: ["10.0.0.123"] } ] }
state_dir: false
`);
});
t.teardown(async () => {
  await daemon?.stop();
  await unbound?.stop();
});

t.test('a zone forwarded back to us: SERVFAIL fast, counted, no spin', async (t) => {
  const http = daemon.httpPort as number;
  const m0 = await metrics(http);
  const times: number[] = [];
  for (const name of ['a.loop.corp', 'b.loop.corp', 'c.loop.corp']) {
    const started = Date.now();
    const r = await dig(daemon.dnsPort, name, 'A');
    times.push(Date.now() - started);
    t.equal(r.status, 'SERVFAIL', `${name}: SERVFAIL (got ${r.status}: ${r.raw.split("\n").filter((l) => /IN/.test(l)).join(" | ")})`);
  }
  t.ok(Math.max(...times) < 1900, `answered before the 2 s upstream timeout (${times.join(', ')} ms)`);
  const m1 = await metrics(http);
  const loops = metric(m1, 'privatelink_dns_loops_detected_total') - metric(m0, 'privatelink_dns_loops_detected_total');
  t.ok(loops >= 3, `loops_detected_total moved: ${loops}`);
  const upstreamQueries = metric(m1, 'privatelink_dns_upstream_requests_total') - metric(m0, 'privatelink_dns_upstream_requests_total');
  t.ok(upstreamQueries <= 3 * 4, `no amplification: ${upstreamQueries} upstream exchanges for 3 client queries`);
  // Let any retries drain, then check the counters are still: no spin.
  await new Promise((r) => setTimeout(r, 1500));
  const m2 = await metrics(http);
  const later = metric(m2, 'privatelink_dns_upstream_requests_total') - metric(m1, 'privatelink_dns_upstream_requests_total');
  t.ok(later <= 2, `nothing keeps circulating afterwards (${later} more upstream exchanges)`);
  t.ok(metric(m2, 'privatelink_dns_event_loop_delay_seconds', 'quantile="1"') < 0.5, 'event loop stayed responsive');
  const warn = daemon.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('forwarding loop'));
  t.ok(warn.length >= 1 && warn.length <= 3, `logged once per name (${warn.length} lines)`);

  const www = await dig(daemon.dnsPort, 'www.example.test', 'A');
  t.same(www.answers.map((a) => a.data), ['192.0.2.10'], 'other names still forwarded normally');
  const ntp = await dig(daemon.dnsPort, 'ntp.internal.example', 'A');
  t.same(ntp.answers.map((a) => a.data), ['10.0.0.123'], 'static names still answered');
  t.comment(`tried: 3 looping names (${times.join('/')} ms); loops_detected_total=${metric(m2, 'privatelink_dns_loops_detected_total')}, upstream exchanges=${upstreamQueries}+${later}, loop log lines=${warn.length}`);
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
