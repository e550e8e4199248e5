import t from 'tap';
import { createPrivateLinkClient } from '../../src/privatelink/client';
import { DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';

async function call(url: string, method: string, body?: string) {
  const res = await fetch(url, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, requestId: res.headers.get('x-acs-request-id'), json: text ? JSON.parse(text) : undefined };
}

t.test('control API: state, faults, calls', async (t) => {
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  const client = createPrivateLinkClient({
    config: {
      endpoint: sim.endpoint, protocol: 'http', connectTo: null, caPem: null, bootstrap: [], refresh: '* * * * *', jitterMs: 0, timeoutMs: 2000, maxStaleMs: 1, maxBackoffMs: 1, quotaPerMinute: 1000,
      credentials: { type: 'access_key', accessKeyId: 'simulator', accessKeySecret: 'simulator' },
    },
    region: 'cn-hangzhou',
  });
  t.teardown(async () => { client.close(); await sim.close(); });
  const base = `${sim.url}/_simulator`;

  const state = await call(`${base}/state`, 'GET');
  t.equal(state.status, 200);
  t.equal(state.json.endpoints.length, DEMO_SIMULATOR_DATA.endpoints.length);
  t.match(state.requestId, /^[0-9A-F-]{36}$/, 'control replies carry x-acs-request-id too');

  t.equal((await call(`${base}/state`, 'PUT', '{not json')).status, 400, 'bad JSON');
  const badShape = await call(`${base}/state`, 'PUT', JSON.stringify({ endpoints: [{ EndpointId: 'ep-x', Zones: [{ ZoneId: 'z', EniIp: 'nope', EniIP: '1.2.3.4' }] }] }));
  t.equal(badShape.status, 400);
  t.match(badShape.json.problems, [/EniIp: not an IPv4 address/, /EniIP: unknown field/].sort());
  t.equal((await client.listVpcEndpoints({ regionId: 'cn-hangzhou' })).body?.totalCount, 4, 'rejected data did not replace anything');

  const replaced = await call(`${base}/state`, 'PUT', JSON.stringify({ endpoints: [{ EndpointId: 'ep-new', Zones: [{ ZoneId: 'cn-hangzhou-h', EniIp: '10.1.2.3' }] }] }));
  t.same(replaced, { status: 200, requestId: replaced.requestId, json: { endpoints: 1 } });
  const zones = await client.listVpcEndpointZones({ regionId: 'cn-hangzhou', endpointId: 'ep-new' });
  t.same(zones.body?.zones?.map((z) => z.eniIp), ['10.1.2.3']);

  t.equal((await call(`${base}/faults`, 'POST', JSON.stringify({ action: '*', bogus: 1 }))).status, 400, 'unknown fault field');
  t.equal((await call(`${base}/faults`, 'POST', JSON.stringify({ action: '*', delay: 'soon' }))).status, 400, 'bad delay');
  const fault = await call(`${base}/faults`, 'POST', JSON.stringify({ action: 'ListVpcEndpoints', status: 400, code: 'Throttling.User', times: 1 }));
  t.equal(fault.status, 201);
  t.match(await client.listVpcEndpoints({ regionId: 'cn-hangzhou' }).catch((e: unknown) => e), { code: 'PL_THROTTLED' });
  t.equal((await client.listVpcEndpoints({ regionId: 'cn-hangzhou' })).statusCode, 200, 'times: 1 was used up');

  await call(`${base}/faults`, 'POST', JSON.stringify({ action: '*', status: 503 }));
  t.match(await client.listVpcEndpoints({ regionId: 'cn-hangzhou' }).catch((e: unknown) => e), { code: 'PL_SERVER', details: { apiCode: 'ServiceUnavailable' } });
  t.same((await call(`${base}/faults`, 'DELETE')).json, { faults: [] });
  t.equal((await client.listVpcEndpoints({ regionId: 'cn-hangzhou' })).statusCode, 200, 'DELETE cleared the unlimited fault');

  const calls = await call(`${base}/calls`, 'GET');
  t.same(calls.json, { total: 6, ListVpcEndpoints: 5, ListVpcEndpointZones: 1 });
  t.same((await call(`${base}/calls`, 'DELETE')).json, { total: 0 });

  t.equal((await call(`${base}/nothing`, 'GET')).status, 404);
  t.equal((await call(`${base}/calls`, 'POST', '{}')).status, 405);
});
