import t from 'tap';
import dgram from 'node:dgram';
import { dig } from '../helpers/dig';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { STATIC_ONLY_CONFIG } from '../helpers/configs';
import { metricValue } from '../helpers/metrics';
import { startUnbound, type RunningUnbound } from '../helpers/unbound';
import { startSimulator, parseFault, type RunningSimulator, type SimulatorData } from '../../src/simulator';

/**
 * Operating the daemon through the real CLI: readiness before and after the first table,
 * metrics that move with queries, syncs and failures, and SIGTERM with lameduck.
 */

const EP = 'ep-bp1opstest00000000001';
const SIM_DATA: SimulatorData = {
  endpoints: [
    {
      EndpointId: EP,
      EndpointName: 'ops',
      ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1opstest',
      ServiceId: 'epsrv-bp1opstest',
      VpcId: 'vpc-ops',
      EndpointDomain: `${EP}-ops.epsrv-bp1opstest.cn-hangzhou.privatelink.aliyuncs.com`,
      EndpointStatus: 'Active',
      ConnectionStatus: 'Connected',
      Zones: [
        { ZoneId: 'cn-hangzhou-j', ZoneDomain: `${EP}-cn-hangzhou-j.epsrv.cn-hangzhou.privatelink.aliyuncs.com`, EniId: 'eni-j', EniIp: '10.20.1.10', VSwitchId: 'vsw-j', ZoneStatus: 'Connected' },
        { ZoneId: 'cn-hangzhou-k', ZoneDomain: `${EP}-cn-hangzhou-k.epsrv.cn-hangzhou.privatelink.aliyuncs.com`, EniId: 'eni-k', EniIp: '10.20.2.10', VSwitchId: 'vsw-k', ZoneStatus: 'Connected' },
      ],
    },
  ],
};

function privatelinkYaml(sim: RunningSimulator, refresh = '*/1 * * * * *'): string {
  return `privatelink:
  endpoint: "${sim.endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "${refresh}"
  jitter: 0s
  timeout: 5s
  max_backoff: 2s`;
}

async function get(port: number, path: string): Promise<{ status: number; body: string; json: () => Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as Record<string, unknown> };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('readiness: 503 with reasons before the first table, 200 after', async (t) => {
  const sim = await startSimulator({ port: 0, data: SIM_DATA });
  t.teardown(() => sim.close());
  // Every API call takes 2 s: the first sync is still running when the daemon is up.
  sim.addFault(parseFault({ action: '*', delay: '2s', times: 2 }));
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: [] }
${privatelinkYaml(sim, '0 0 * * * *')}
records:
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      endpoint: ${EP}
state_dir: false
`);
  t.teardown(() => daemon.stop());
  const port = daemon.httpPort as number;

  const before = await get(port, '/readyz');
  t.equal(before.status, 503, 'not ready before the first sync finished');
  const doc = before.json();
  t.equal(doc.ready, false);
  t.ok(Array.isArray(doc.reasons) && (doc.reasons as string[]).some((r) => r.includes(EP) && /no usable IP/.test(r)), `reason names the entry: ${before.body}`);
  t.equal((await get(port, '/healthz')).status, 200, 'alive all the same');
  const managed = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.equal(managed.status, 'SERVFAIL', 'no table yet: SERVFAIL, never a forwarded answer');

  const after = await until('readiness', async () => {
    const r = await get(port, '/readyz');
    return r.status === 200 ? r : undefined;
  }, 15_000);
  t.same(after.json(), { ready: true });
  const a = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.same(a.answers.map((x) => x.data).sort(), ['10.20.1.10', '10.20.2.10']);
  const status = (await get(port, '/status')).json();
  t.equal((status.lastSync as { result: string }).result, 'success');
  t.equal((status.endpoints as { source: string }[])[0]?.source, 'sync');
});

t.test('readiness: an endpoint that appears later (PUT /_simulator/state)', async (t) => {
  const sim = await startSimulator({ port: 0, data: { endpoints: [] } });
  t.teardown(() => sim.close());
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: [] }
${privatelinkYaml(sim)}
records:
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      endpoint: ${EP}
state_dir: false
`);
  t.teardown(() => daemon.stop());
  const port = daemon.httpPort as number;
  const missing = await until('a failed sync', async () => {
    const r = await get(port, '/readyz');
    return r.status === 503 && /last error/.test(r.body) ? r : undefined;
  });
  t.match(missing.body, /PL_NOT_FOUND/, 'the reason carries the error code');
  const put = await fetch(`${sim.url}/_simulator/state`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SIM_DATA) });
  t.equal(put.status, 200);
  await until('readiness after the endpoint appeared', async () => ((await get(port, '/readyz')).status === 200 ? true : undefined), 15_000);
  t.pass('ready once the endpoint exists');
});

t.test('readiness: a static-only config is ready at once', async (t) => {
  const daemon = await startDaemon(STATIC_ONLY_CONFIG);
  t.teardown(() => daemon.stop());
  const r = await get(daemon.httpPort as number, '/readyz');
  t.equal(r.status, 200, r.body);
  t.same(r.json(), { ready: true });
});

t.test('metrics move with queries, syncs and failures', async (t) => {
  const sim = await startSimulator({ port: 0, data: SIM_DATA });
  t.teardown(() => sim.close());
  const upstream: RunningUnbound = await startUnbound([
    'local-zone: "example.test." static',
    'local-data: "www.example.test. 300 IN A 192.0.2.10"',
  ]);
  t.teardown(() => upstream.stop());
  const blackhole = dgram.createSocket('udp4');
  await new Promise<void>((r) => blackhole.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => blackhole.close());
  const dead = `127.0.0.1:${blackhole.address().port}`;
  const live = `127.0.0.1:${upstream.port}`;
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.1/32"] }
upstream: { servers: ["${dead}", "${live}"], timeout: 300ms, policy: sequential, max_fails: 1000 }
cache: { size: 100 }
${privatelinkYaml(sim)}
records:
  entries:
    - names: ["cs-anony-vpc.{region}.aliyuncs.com"]
      endpoint: ${EP}
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
state_dir: false
`);
  t.teardown(() => daemon.stop());
  const port = daemon.httpPort as number;
  const scrape = async (): Promise<string> => (await get(port, '/metrics')).body;

  await until('first sync', async () => ((await get(port, '/readyz')).status === 200 ? true : undefined));
  const m0 = await scrape();
  t.match(m0, /^process_cpu_seconds_total /m, 'standard process metrics, unprefixed');
  t.match(m0, /^nodejs_eventloop_lag_p99_seconds /m, 'standard Node.js metrics, unprefixed');
  t.match(m0, /^privatelink_dns_build_info\{version="[^"]+",nodejs_version="v\d+[^"]*"\} 1$/m, 'build info');
  t.match(m0, /^privatelink_dns_event_loop_delay_seconds\{quantile="0.99"\} /m, 'event-loop delay');
  t.ok(metricValue(m0, 'privatelink_dns_sync_attempts_total', { result: 'success' }) >= 1, 'a successful sync counted');
  t.ok(metricValue(m0, 'privatelink_dns_last_successful_sync_timestamp_seconds') > Date.now() / 1000 - 60, 'last success timestamp is recent');
  t.equal(metricValue(m0, 'privatelink_dns_endpoint_usable_ips', { entry: EP }), 2, 'usable IPs per endpoint');

  // Queries: managed (local), forwarded twice (the second from the cache), NXDOMAIN.
  const managed = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.equal(managed.status, 'NOERROR');
  const first = await dig(daemon.dnsPort, 'www.example.test');
  t.same(first.answers.map((a) => a.data), ['192.0.2.10'], 'forwarded past the dead upstream');
  const second = await dig(daemon.dnsPort, 'www.example.test');
  t.same(second.answers.map((a) => a.data), ['192.0.2.10']);
  const nx = await dig(daemon.dnsPort, 'missing.example.test');
  t.equal(nx.status, 'NXDOMAIN');
  // Failures: a datagram too short to be a query, a response sent to us, a refused client.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  sock.send(Buffer.from([1, 2, 3]), daemon.dnsPort, '127.0.0.1');
  const response = Buffer.from('12348180000100000000000003777777076578616d706c6504746573740000010001', 'hex');
  sock.send(response, daemon.dnsPort, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 200));
  sock.close();
  const refused = await dig(daemon.dnsPort, 'www.example.test', 'A', ['-b', '127.0.0.2']);
  t.equal(refused.status, 'REFUSED');

  const m1 = await scrape();
  const d = (name: string, labels: Record<string, string> = {}): number => metricValue(m1, name, labels) - metricValue(m0, name, labels);
  t.equal(d('privatelink_dns_requests_total', { source: 'local', type: 'A', protocol: 'udp' }), 1, 'managed query: source local');
  t.equal(d('privatelink_dns_requests_total', { source: 'forward' }), 2, 'two forwarded (www, missing)');
  t.equal(d('privatelink_dns_requests_total', { source: 'cache' }), 1, 'one from the cache');
  t.ok(d('privatelink_dns_responses_total', { rcode: 'NOERROR' }) >= 3, 'NOERROR responses');
  t.equal(d('privatelink_dns_responses_total', { rcode: 'NXDOMAIN' }), 1, 'NXDOMAIN response');
  t.equal(d('privatelink_dns_responses_total', { rcode: 'REFUSED' }), 1, 'the refused client is a REFUSED response');
  t.equal(d('privatelink_dns_dropped_packets_total', { reason: 'refused' }), 1, 'and counted by reason');
  t.equal(d('privatelink_dns_cache_hits_total', { kind: 'fresh' }), 1, 'cache hit after the repeated query');
  t.equal(d('privatelink_dns_cache_misses_total'), 2, 'cache misses for the two forwarded');
  t.ok(d('privatelink_dns_upstream_requests_total', { server: dead, result: 'timeout' }) >= 2, `upstream failures counted for ${dead}`);
  t.equal(d('privatelink_dns_upstream_requests_total', { server: live, result: 'ok' }), 2, 'upstream successes');
  t.ok(d('privatelink_dns_request_duration_seconds_count', { source: 'forward' }) >= 2, 'duration histogram observed');
  t.ok(d('privatelink_dns_dropped_packets_total', { reason: 'short' }) >= 1, 'short datagram dropped and counted');
  t.ok(d('privatelink_dns_dropped_packets_total', { reason: 'response' }) >= 1, 'response (QR=1) dropped and counted');

  // Sync failures: the API starts throttling.
  sim.addFault(parseFault({ action: '*', status: 400, code: 'Throttling.User' }));
  const m2 = await until('a failed sync in the metrics', async () => {
    const m = await scrape();
    return metricValue(m, 'privatelink_dns_sync_attempts_total', { result: 'failure' }) > metricValue(m1, 'privatelink_dns_sync_attempts_total', { result: 'failure' }) ? m : undefined;
  });
  t.ok(metricValue(m2, 'privatelink_dns_api_calls_total') > metricValue(m1, 'privatelink_dns_api_calls_total'), 'API calls counted');
  t.equal(metricValue(m2, 'privatelink_dns_endpoint_usable_ips', { entry: EP }), 2, 'the previous IPs stay usable');
  const still = await dig(daemon.dnsPort, 'cs-anony-vpc.cn-hangzhou.aliyuncs.com');
  t.same(still.answers.map((a) => a.data).sort(), ['10.20.1.10', '10.20.2.10'], 'still answered from the last good data');
});

t.test('SIGTERM: /readyz 503 during lameduck, then exit 0', async (t) => {
  const daemon: RunningDaemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
upstream: { servers: [] }
records:
  entries:
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
limits: { lameduck: 1500ms }
state_dir: false
`);
  t.teardown(() => daemon.stop('SIGKILL'));
  const port = daemon.httpPort as number;
  t.equal((await get(port, '/readyz')).status, 200);
  const exited = new Promise<{ code: number | null; at: number }>((r) => daemon.proc.once('exit', (code) => r({ code, at: Date.now() })));
  const sentAt = Date.now();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  const during = await get(port, '/readyz');
  t.equal(during.status, 503, 'not ready during lameduck');
  t.match(during.body, /shutting down/);
  t.equal((await get(port, '/healthz')).status, 200, 'still alive during lameduck');
  const answer = await dig(daemon.dnsPort, 'ntp.internal.example');
  t.same(answer.answers.map((a) => a.data), ['10.0.0.123'], 'still answering DNS during lameduck');
  const { code, at } = await exited;
  t.equal(code, 0, 'exit code 0');
  const took = at - sentAt;
  t.ok(took >= 1400, `waited the lameduck delay (${took} ms)`);
  // An upper bound only to tell "exits by itself" from "hangs" (the teardown's SIGKILL would hide a hang); loose for a loaded machine.
  t.ok(took <= 1500 + 5000, `exited on its own after the lameduck (${took} ms)`);
  t.ok(daemon.logs().some((l) => l.msg === 'privatelink-dns stopped'), 'logged the stop');
});
