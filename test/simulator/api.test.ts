import t from 'tap';
import { handleApiCall } from '../../src/simulator/api';
import { DEMO_REGISTRY_SERVICE_NAME, DEMO_SIMULATOR_DATA, DEMO_ENTRIES, validateSimulatorData } from '../../src/simulator';
import type { SimulatorData } from '../../src/simulator';

const ctx = { requestId: 'REQ', hostId: 'privatelink.cn-hangzhou.aliyuncs.com' };
const data: SimulatorData = {
  endpoints: Array.from({ length: 5 }, (_, i) => ({ EndpointId: `ep-${i}`, ServiceName: i % 2 ? 'odd' : 'even', Zones: [] })),
};
const q = (params: Record<string, string>) => new URLSearchParams(params);

t.test('required parameters and the real error body', async (t) => {
  const r = handleApiCall('ListVpcEndpoints', data, q({}), ctx);
  t.equal(r.status, 400);
  t.same(Object.keys(r.body).sort(), ['Code', 'HostId', 'Message', 'Recommend', 'RequestId']);
  t.match(r.body, { Code: 'MissingRegionId', RequestId: 'REQ', HostId: ctx.hostId });
  t.match(handleApiCall('ListVpcEndpointZones', data, q({ RegionId: 'r' }), ctx).body, { Code: 'MissingEndpointId' });
  t.match(handleApiCall('GetVpcEndpointAttribute', data, q({ RegionId: 'r', EndpointId: 'ep-9' }), ctx), { status: 400, body: { Code: 'EndpointNotFound' } });
});

t.test('MaxResults must be 1..50', async (t) => {
  for (const bad of ['0', '51', '-1', '2.5', 'ten']) {
    t.match(handleApiCall('ListVpcEndpoints', data, q({ RegionId: 'r', MaxResults: bad }), ctx).body, { Code: 'IllegalParam.MaxResults' }, bad);
  }
  t.equal(handleApiCall('ListVpcEndpoints', data, q({ RegionId: 'r', MaxResults: '50' }), ctx).status, 200);
});

t.test('NextToken is opaque and bound to its query', async (t) => {
  const first = handleApiCall('ListVpcEndpoints', data, q({ RegionId: 'r', ServiceName: 'even', MaxResults: '2' }), ctx).body;
  t.same((first.Endpoints as Array<{ EndpointId: string }>).map((e) => e.EndpointId), ['ep-0', 'ep-2']);
  const token = first.NextToken as string;
  t.notMatch(token, /\d:/, 'the offset is not visible in the token');
  const second = handleApiCall('ListVpcEndpoints', data, q({ RegionId: 'r', ServiceName: 'even', MaxResults: '2', NextToken: token }), ctx).body;
  t.same((second.Endpoints as Array<{ EndpointId: string }>).map((e) => e.EndpointId), ['ep-4']);
  t.equal(second.NextToken, '', 'the last page has an empty NextToken');
  t.match(handleApiCall('ListVpcEndpoints', data, q({ RegionId: 'r', ServiceName: 'odd', NextToken: token }), ctx).body, { Code: 'IllegalParam.NextToken' }, 'another filter');
  t.match(handleApiCall('ListVpcEndpoints', data, q({ RegionId: 'r', NextToken: 'garbage' }), ctx).body, { Code: 'IllegalParam.NextToken' });
});

t.test('demo data is valid, private and self-consistent', async (t) => {
  const checked = validateSimulatorData(DEMO_SIMULATOR_DATA);
  const ips = checked.endpoints.flatMap((e) => e.Zones.map((z) => z.EniIp ?? ''));
  t.ok(ips.every((ip) => /^(192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(ip)), 'private, never 100.64/10');
  t.ok(checked.endpoints.every((e) => e.EndpointId.length === 20 && e.EndpointId.startsWith('ep-bp1')));
  t.ok(checked.endpoints.some((e) => e.Zones.some((z) => z.ZoneStatus !== 'Connected')), 'one zone not Connected');
  t.ok(checked.endpoints.some((e) => e.Zones.some((z) => z.ZoneIpv6Address)), 'one zone with IPv6');
  t.ok(checked.endpoints.some((e) => e.ServiceName === DEMO_REGISTRY_SERVICE_NAME));
  for (const entry of DEMO_ENTRIES) {
    const found = 'endpoint' in entry
      ? checked.endpoints.some((e) => e.EndpointId === entry.endpoint)
      : checked.endpoints.some((e) => e.ServiceName === entry.service);
    t.ok(found, `${entry.names[0]} points at demo data`);
  }
  t.ok(DEMO_ENTRIES.some((e) => e.names.includes('*.oss-cn-hangzhou-internal.aliyuncs.com')));
});

t.test('loadSimulatorData reads and validates a file', async (t) => {
  const { loadSimulatorData } = await import('../../src/simulator');
  const dir = t.testdir({
    'good.json': JSON.stringify({ endpoints: [{ EndpointId: 'ep-1', Zones: [{ ZoneId: 'z', EniIp: '10.0.0.1' }] }] }),
    'dup.json': JSON.stringify({ endpoints: [{ EndpointId: 'ep-1' }, { EndpointId: 'ep-1' }] }),
    'bad.json': '{"endpoints": [',
  });
  t.same((await loadSimulatorData(`${dir}/good.json`)).endpoints[0].Zones[0].EniIp, '10.0.0.1');
  await t.rejects(loadSimulatorData(`${dir}/dup.json`), /duplicate ep-1/);
  await t.rejects(loadSimulatorData(`${dir}/bad.json`), /not JSON/);
});
