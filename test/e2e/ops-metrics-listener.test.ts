import t from 'tap';
import { startDaemon } from '../helpers/daemon';

/** listen.metrics: a scrape-only address beside listen.http, so /status is not exposed with it. */

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

t.test('the metrics address serves /metrics and nothing else; listen.http is unchanged', async (t) => {
  const daemon = await startDaemon(`
region: cn-hangzhou
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0", metrics: "127.0.0.1:0" }
upstream: { servers: [] }
records: { entries: [{ names: ["ntp.internal.example"], addresses: ["10.0.0.123"] }] }
state_dir: false
`);
  t.teardown(() => daemon.stop());
  const started = daemon.logs().find((l) => l.msg === 'privatelink-dns started') as { metrics?: { port: number } };
  const port = started.metrics?.port as number;
  t.ok(port > 0 && port !== daemon.httpPort, `its own port (${port})`);
  const scrape = await get(port, '/metrics');
  t.equal(scrape.status, 200);
  t.match(scrape.body, /^privatelink_dns_build_info\{/m);
  t.match(scrape.body, /^process_resident_memory_bytes /m);
  for (const path of ['/status', '/readyz', '/healthz']) t.equal((await get(port, path)).status, 404, `${path} is not served there`);
  t.equal((await get(daemon.httpPort as number, '/status')).status, 200, 'listen.http still serves /status');
  t.equal((await get(daemon.httpPort as number, '/metrics')).status, 200, 'and /metrics');
});
