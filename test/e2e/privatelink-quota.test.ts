/**
 * The daemon against the simulator: /status shows the API calls of the last minute and of the
 * last sync (equal to what the simulator counted), /metrics counts them by action and result, and
 * a missing RAM policy (Forbidden.RAM) backs off instead of asking every refresh.
 */
import t from 'tap';
import { startSimulator, type SimEndpoint } from '../../src/simulator';
import { startDaemon } from '../helpers/daemon';

const REGION = 'cn-hangzhou';
const ep = (id: string): SimEndpoint => ({
  EndpointId: id,
  EndpointStatus: 'Active',
  ConnectionStatus: 'Connected',
  ServiceName: `com.aliyuncs.privatelink.${REGION}.epsrv-${id}`,
  VpcId: 'vpc-1',
  RegionId: REGION,
  Zones: [{ ZoneId: 'cn-hangzhou-k', EniIp: `192.168.7.${id.length}`, ZoneStatus: 'Connected' }],
});

const yaml = (endpoint: string, ids: string[]): string => `
region: ${REGION}
listen: { dns: ["127.0.0.1:0"], http: "127.0.0.1:0" }
access: { allow: ["127.0.0.1/32"] }
privatelink:
  endpoint: "${endpoint}"
  protocol: http
  credentials: { type: access_key, access_key_id: simulator, access_key_secret: simulator }
  refresh: "* * * * * *"
  jitter: 0s
  max_backoff: 10m
records:
  entries: ${JSON.stringify(ids.map((id) => ({ names: [`${id}.pl.test`], endpoint: id, vpc: 'vpc-1' })))}
limits: { lameduck: 0s }
state_dir: false
`;

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}`);
}

t.test('/status and /metrics count the calls; Forbidden.RAM backs off and names the RAM action', async (t) => {
  const ids = ['ep-q1', 'ep-q22', 'ep-q333'];
  const sim = await startSimulator({ port: 0, data: { endpoints: ids.map(ep) } });
  t.teardown(() => sim.close());
  const daemon = await startDaemon(yaml(sim.endpoint, ids));
  t.teardown(() => daemon.stop());
  const base = `http://127.0.0.1:${daemon.httpPort}`;

  // Several syncs (every second): each one listing of vpc-1 and three zone listings.
  const status = await until('three syncs', async () => {
    const s = await getJson(`${base}/status`);
    return s.apiCalls?.lastMinute.ListVpcEndpoints >= 3 ? s : undefined;
  });
  t.same(status.apiCalls.lastSync, { total: 4, ListVpcEndpoints: 1, ListVpcEndpointZones: 3 }, 'one sync: 1 + 3 calls');
  const simCalls = sim.calls();
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const metric = (action: string): number => Number(new RegExp(`privatelink_dns_api_calls_total\\{action="${action}",result="ok"\\} (\\d+)`).exec(metrics)?.[1]);
  t.ok(metric('ListVpcEndpoints') >= status.apiCalls.lastMinute.ListVpcEndpoints, 'metrics count at least what /status saw earlier');
  t.ok(simCalls.ListVpcEndpoints >= metric('ListVpcEndpoints') && simCalls.ListVpcEndpoints <= metric('ListVpcEndpoints') + 1, `the simulator saw the same calls (${simCalls.ListVpcEndpoints} vs ${metric('ListVpcEndpoints')})`);
  t.equal(metric('ListVpcEndpointZones'), 3 * metric('ListVpcEndpoints'), 'three zone listings per VPC listing');

  // The RAM policy is removed: every call answers 403 Forbidden.RAM.
  sim.addFault({ action: '*', status: 403, code: 'Forbidden.RAM', message: 'User not authorized to operate on the specified resource.' });
  const denied = await until('a denied sync', async () => {
    const s = await getJson(`${base}/status`);
    return s.backoff?.reason?.code === 'PL_FORBIDDEN' ? s : undefined;
  });
  t.match(denied.backoff.reason.message, /ListVpcEndpoints denied: Forbidden\.RAM \(HTTP 403\).*lacks privatelink:ListVpcEndpoints \(policy: docs\/deployment\.md#ram-policy\)/);
  t.ok(Date.parse(denied.backoff.until) - Date.now() >= 25_000, `backs off at least ~30 s, not every refresh (until ${denied.backoff.until})`);
  t.match(denied.endpoints[0].lastError, { code: 'PL_FORBIDDEN' });
  t.same(denied.endpoints.map((e: any) => e.answers.ipv4.length), [1, 1, 1], 'the previous data keeps answering');
  // /status can show the backoff before the daemon's log line has reached this process's pipe.
  const log = await daemon.waitForLog((l) => l.msg === 'the RAM policy does not allow a PrivateLink call; backing off (the credential is kept)', 10_000).catch(() => undefined);
  t.equal(log?.ramAction, 'privatelink:ListVpcEndpoints', 'the log names the RAM action');
  t.notOk(daemon.logs().some((l) => l.msg === 'credentials will be rebuilt on the next call'), 'the credential is not dropped');

  const after = sim.calls().total;
  await new Promise((r) => setTimeout(r, 3000));
  t.equal(sim.calls().total, after, 'no call during the backoff although refresh is every second');
});
