import t from 'tap';
import { PldnsError } from '../../src/errors';
import { Metrics, syncObserver } from '../../src/metrics';
import type { ApiResponse, ListVpcEndpointZonesResponseBody } from '../../src/privatelink/api-types';
import { MAX_PAGES, fetchEntry, type FetchContext } from '../../src/privatelink/fetch';
import { FakeApi, endpoint, zone } from '../helpers/privatelink-fake';

const region = 'cn-hangzhou';
const epEntry = { kind: 'endpoint' as const, names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-a' };

function setup(): { api: FakeApi; ctx: FetchContext; metrics: Metrics } {
  const api = new FakeApi();
  const metrics = new Metrics({ processMetrics: false });
  return { api, metrics, ctx: { api, regionId: region, observer: syncObserver(metrics), now: () => 42 } };
}

async function apiCalls(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.apiCalls.get()).values) out[`${v.labels.action}:${v.labels.result}`] = v.value;
  return out;
}

t.test('endpoint entry: statuses, domain and zones', async (t) => {
  const { api, ctx, metrics } = setup();
  api.endpoints = [endpoint('ep-a', [zone('k', '10.0.0.1', { zoneIpv6Address: 'fd00::1' }), zone('j', '10.0.0.2', { zoneStatus: 'Disconnected' })]), endpoint('ep-b', [zone('k', '10.9.9.9')])];
  const state = await fetchEntry(ctx, epEntry);
  t.same(state.endpoint, {
    endpointId: 'ep-a',
    endpointName: 'name-ep-a',
    serviceName: 'com.example.ep-a',
    endpointDomain: 'ep-a.epsrv.cn-hangzhou.privatelink.aliyuncs.com',
    endpointStatus: 'Active',
    connectionStatus: 'Connected',
    vpcId: 'vpc-1',
  });
  t.same(state.zones, [
    { zoneId: 'k', zoneDomain: 'k.ep.example.com', eniId: 'eni-k', eniIp: '10.0.0.1', ipv6: 'fd00::1', vSwitchId: 'vsw-k', status: 'Connected' },
    { zoneId: 'j', zoneDomain: 'j.ep.example.com', eniId: 'eni-j', eniIp: '10.0.0.2', ipv6: '', vSwitchId: 'vsw-j', status: 'Disconnected' },
  ]);
  t.match(state, { id: 'ep-a', kind: 'endpoint', names: epEntry.names, source: 'sync', fetchedAtMs: 42, stale: false });
  t.match(api.calls[0]?.request, { regionId: region, endpointId: 'ep-a' });
  t.match(api.calls[1], { action: 'listVpcEndpointZones', request: { regionId: region, endpointId: 'ep-a', maxResults: 50 } });
  t.same(await apiCalls(metrics), { 'ListVpcEndpoints:ok': 1, 'ListVpcEndpointZones:ok': 1 });
});

t.test('zones paged over 3 pages with NextToken', async (t) => {
  const { api, ctx, metrics } = setup();
  api.pageSize = 2;
  api.endpoints = [endpoint('ep-a', ['a', 'b', 'c', 'd', 'e'].map((id, i) => zone(id, `10.0.0.${i + 1}`)))];
  const state = await fetchEntry(ctx, epEntry);
  t.same(state.zones.map((z) => z.zoneId), ['a', 'b', 'c', 'd', 'e'], 'every page collected');
  const zoneCalls = api.calls.filter((c) => c.action === 'listVpcEndpointZones').map((c) => (c.request as { nextToken?: string }).nextToken);
  t.same(zoneCalls, [undefined, '2', '4'], 'first call without a token, then each returned token');
  t.equal((await apiCalls(metrics))['ListVpcEndpointZones:ok'], 3);
});

/** Replaces the zone listing with a scripted sequence of pages. */
function scriptZones(api: FakeApi, pages: ListVpcEndpointZonesResponseBody[]): { calls: number } {
  const seen = { calls: 0 };
  api.listVpcEndpointZones = async (): Promise<ApiResponse<ListVpcEndpointZonesResponseBody>> => {
    const body = pages[Math.min(seen.calls, pages.length - 1)] as ListVpcEndpointZonesResponseBody;
    seen.calls++;
    return { statusCode: 200, body };
  };
  return seen;
}

t.test('a 200 without Zones is an empty page, not the end', async (t) => {
  const { api, ctx } = setup();
  api.endpoints = [endpoint('ep-a', [])];
  const seen = scriptZones(api, [{ zones: [zone('a', '10.0.0.1')], nextToken: 't1' }, { nextToken: 't2' }, { zones: [zone('c', '10.0.0.3')], nextToken: '' }]);
  const state = await fetchEntry(ctx, epEntry);
  t.equal(seen.calls, 3);
  t.same(state.zones.map((z) => z.zoneId), ['a', 'c']);
});

t.test('a repeated NextToken is an error, not a loop', async (t) => {
  const { api, ctx, metrics } = setup();
  api.endpoints = [endpoint('ep-a', [])];
  const seen = scriptZones(api, [{ zones: [zone('a', '10.0.0.1')], nextToken: 't1' }, { zones: [zone('b', '10.0.0.2')], nextToken: 't2' }, { zones: [], nextToken: 't1' }]);
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_BAD_RESPONSE', message: /NextToken "t1" repeated/ });
  t.equal(seen.calls, 3);
  t.equal((await apiCalls(metrics))['ListVpcEndpointZones:ok'], 3, 'the calls themselves succeeded');
});

t.test('endless distinct tokens stop at the page limit', async (t) => {
  const { api, ctx } = setup();
  api.endpoints = [endpoint('ep-a', [])];
  let n = 0;
  api.listVpcEndpointZones = async () => ({ statusCode: 200, body: { zones: [], nextToken: `t${n++}` } });
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_BAD_RESPONSE', message: /more than 100 pages/ });
  t.equal(n, MAX_PAGES);
});

t.test('malformed bodies are bad responses', async (t) => {
  const { api, ctx } = setup();
  api.endpoints = [endpoint('ep-a', [])];
  scriptZones(api, [{ zones: 'nope' as never }]);
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_BAD_RESPONSE' });
  api.listVpcEndpointZones = async () => ({ statusCode: 200 });
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_BAD_RESPONSE', message: /no body/ });
  scriptZones(api, [{ zones: [], nextToken: 7 as never }]);
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_BAD_RESPONSE', message: /NextToken/ });
});

t.test('endpoint not found', async (t) => {
  const { api, ctx } = setup();
  api.endpoints = [endpoint('ep-b', [])];
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_NOT_FOUND', message: /ep-a/ });
  t.equal(api.count('listVpcEndpointZones'), 0, 'no zone listing for a missing endpoint');
  // A server that ignores the EndpointId filter must not make us take another endpoint's IPs.
  api.listVpcEndpoints = async () => ({ statusCode: 200, body: { endpoints: [{ endpointId: 'ep-b', endpointStatus: 'Active' }] } });
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_NOT_FOUND' });
});

t.test('service entry: finds the endpoint by service name, pages, picks deterministically', async (t) => {
  const { api, ctx } = setup();
  api.pageSize = 1;
  const svc = 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-1';
  api.endpoints = [
    endpoint('ep-3', [zone('k', '10.0.0.3')], { serviceName: svc, connectionStatus: 'Disconnected' }),
    endpoint('ep-2', [zone('k', '10.0.0.2')], { serviceName: svc }),
    endpoint('ep-1', [zone('k', '10.0.0.1')], { serviceName: svc, endpointStatus: 'Pending' }),
    endpoint('ep-0', [zone('k', '10.0.0.0')], { serviceName: svc, vpcId: 'vpc-other' }),
    endpoint('ep-9', [zone('k', '10.0.0.9')], { serviceName: 'another' }),
  ];
  const entry = { kind: 'service' as const, names: ['registry-cn-hangzhou-vpc.ack.aliyuncs.com'], serviceName: svc, vpcId: 'vpc-1' };
  const state = await fetchEntry(ctx, entry);
  t.equal(state.endpoint?.endpointId, 'ep-2', 'the Active+Connected one wins over smaller ids');
  t.equal(state.id, `service:${svc}@vpc-1`);
  t.same(state.zones.map((z) => z.eniIp), ['10.0.0.2']);
  const listCalls = api.calls.filter((c) => c.action === 'listVpcEndpoints');
  t.equal(listCalls.length, 3, 'paged through every endpoint of the service in the VPC');
  t.match(listCalls[0]?.request, { serviceName: svc, vpcId: 'vpc-1', maxResults: 50 });

  // Without a usable one, the smallest id: the same answer on every replica.
  api.endpoints = api.endpoints.map((e) => ({ ...e, connectionStatus: 'Disconnected' }));
  api.endpoints.reverse();
  t.equal((await fetchEntry(ctx, { kind: 'service', names: ['x.example.com'], serviceName: svc })).endpoint?.endpointId, 'ep-0');

  await t.rejects(fetchEntry(ctx, { kind: 'service', names: ['x.example.com'], serviceName: 'nobody' }), { code: 'PL_NOT_FOUND' });
});

t.test('errors keep their code and are counted', async (t) => {
  const { api, ctx, metrics } = setup();
  api.endpoints = [endpoint('ep-a', [zone('k', '10.0.0.1')])];
  api.failNext('listVpcEndpointZones', new PldnsError('PL_THROTTLED', 'Throttling.User', { details: { retryAfterMs: 2000 } }));
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_THROTTLED', details: { retryAfterMs: 2000 } });
  api.failNext('listVpcEndpoints', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_NETWORK' });
  api.failNext('listVpcEndpoints', new SyntaxError('Unexpected token <'));
  await t.rejects(fetchEntry(ctx, epEntry), { code: 'PL_BAD_RESPONSE' });
  t.same(await apiCalls(metrics), {
    'ListVpcEndpoints:ok': 1,
    'ListVpcEndpointZones:PL_THROTTLED': 1,
    'ListVpcEndpoints:PL_NETWORK': 1,
    'ListVpcEndpoints:PL_BAD_RESPONSE': 1,
  });
});
