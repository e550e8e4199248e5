import t from 'tap';
import { dig } from '../helpers/dig';
import { startDaemon, type RunningDaemon } from '../helpers/daemon';
import { startUnbound, type RunningUnbound } from '../helpers/unbound';
import { metric, metrics, sleep } from '../helpers/hardening';

/**
 * Whole process: forwarded answers come from the cache with decreasing TTLs,
 * NXDOMAIN is cached (RFC 2308, via the SOA), and with the upstream Unbound stopped an expired
 * entry is served stale with TTL 30 (RFC 8767) while an uncached name gets SERVFAIL.
 */
let upstream: RunningUnbound;
let daemon: RunningDaemon;

t.before(async () => {
  upstream = await startUnbound([
    'local-zone: "example.test." static',
    'local-data: "example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300"',
    'local-data: "www.example.test. 300 IN A 192.0.2.10"',
    'local-data: "short.example.test. 1 IN A 192.0.2.11"',
    'local-data: "other.example.test. 300 IN A 192.0.2.12"',
  ]);
  daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.0/8"] }
upstream: { servers: ["127.0.0.1:${upstream.port}"], timeout: 500ms }
cache: { size: 1000, max_ttl: 1h, serve_stale: 1h }
records:
  entries:
    - names: ["ntp.internal.example"]
      addresses: ["10.0.0.123"]
state_dir: false
`);
});

t.teardown(async () => {
  await daemon?.stop();
  await upstream?.stop();
});

t.test('cache hits, NXDOMAIN cached, serve-stale after the upstream dies', async (t) => {
  const port = daemon.dnsPort;
  const http = daemon.httpPort as number;
  const m0 = await metrics(http);

  // Fresh answers: the first from upstream, the second from the cache with a lower TTL.
  const first = await dig(port, 'www.example.test', 'A');
  t.equal(first.status, 'NOERROR');
  t.same(first.answers.map((a) => a.data), ['192.0.2.10']);
  const short = await dig(port, 'short.example.test', 'A');
  t.same(short.answers.map((a) => a.data), ['192.0.2.11'], 'short-TTL name forwarded');
  const nx1 = await dig(port, 'nope.example.test', 'MX');
  t.equal(nx1.status, 'NXDOMAIN');
  await sleep(2200);
  const second = await dig(port, 'www.example.test', 'A');
  t.same(second.answers.map((a) => a.data), ['192.0.2.10']);
  t.ok(second.answers[0].ttl <= first.answers[0].ttl - 2, `TTL counts down in the cache (${first.answers[0].ttl} → ${second.answers[0].ttl})`);
  const nx2 = await dig(port, 'nope.example.test', 'MX');
  t.equal(nx2.status, 'NXDOMAIN', 'NXDOMAIN from the cache');
  t.ok((nx2.authority[0]?.ttl ?? 999) < (nx1.authority[0]?.ttl ?? 0), `negative answer TTL counts down too (${nx1.authority[0]?.ttl} → ${nx2.authority[0]?.ttl})`);
  const m1 = await metrics(http);
  t.equal(metric(m1, 'privatelink_dns_requests_total', 'source="cache"', 'type="A"') - metric(m0, 'privatelink_dns_requests_total', 'source="cache"', 'type="A"'), 1, 'one A answered from the cache');
  t.equal(metric(m1, 'privatelink_dns_requests_total', 'source="cache"', 'type="MX"') - metric(m0, 'privatelink_dns_requests_total', 'source="cache"', 'type="MX"'), 1, 'the NXDOMAIN answered from the cache');
  t.equal(metric(m1, 'privatelink_dns_requests_total', 'source="forward"'), 3, 'three answers forwarded (www, short, nope)');

  // short.example.test has now expired (TTL 1, 2.2 s ago). Kill the upstream.
  await upstream.stop();
  const staleStarted = Date.now();
  const stale = await dig(port, 'short.example.test', 'A');
  t.equal(stale.status, 'NOERROR', 'expired entry answered while the upstream is down');
  t.same(stale.answers.map((a) => a.data), ['192.0.2.11']);
  t.equal(stale.answers[0]?.ttl, 30, 'stale answers carry TTL 30 (RFC 8767)');
  const uncached = await dig(port, 'other.example.test', 'A');
  t.equal(uncached.status, 'SERVFAIL', 'an uncached name fails');
  const stillFresh = await dig(port, 'www.example.test', 'A');
  t.equal(stillFresh.status, 'NOERROR', 'fresh entry still answered from the cache');
  const m2 = await metrics(http);
  const staleAnswers = metric(m2, 'privatelink_dns_stale_answers_total') - metric(m1, 'privatelink_dns_stale_answers_total');
  t.equal(staleAnswers, 1, 'privatelink_dns_stale_answers_total moved by one');
  t.equal(metric(m2, 'privatelink_dns_requests_total', 'source="stale"'), 1, 'requests_total{source="stale"}');
  t.ok(metric(m2, 'privatelink_dns_cache_entries') >= 3, 'cache gauge reports entries');
  t.comment(`tried: 3 forwarded, 2 cache hits, upstream stopped, 1 stale + 1 uncached (${Date.now() - staleStarted} ms); stale_answers_total=${metric(m2, 'privatelink_dns_stale_answers_total')}, upstream failures=${metric(m2, 'privatelink_dns_upstream_requests_total', 'result="error"') + metric(m2, 'privatelink_dns_upstream_requests_total', 'result="timeout"')}`);
});
