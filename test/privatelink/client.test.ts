/**
 * The real client (openapi-core, V3 signing, httpx) against the simulator over HTTP on 127.0.0.1.
 */
import t from 'tap';
import { createSocket, type RemoteInfo } from 'node:dgram';
import type { PrivateLinkConfig } from '../../src/config/schema';
import { PldnsError } from '../../src/errors';
import { createPrivateLinkClient, type PrivateLinkClient } from '../../src/privatelink/client';
import { startSimulator, type RunningSimulator, type SimulatorData, type SimEndpoint } from '../../src/simulator';
import { simulatorApiConfig } from '../helpers/privatelink-fake';
import { freePort } from '../helpers/ports';

const REGION = 'cn-hangzhou';

function ep(id: string, fields: Partial<SimEndpoint> = {}): SimEndpoint {
  return {
    EndpointId: id,
    EndpointName: `name-${id}`,
    EndpointDomain: `${id}.epsrv-bp1svc.${REGION}.privatelink.aliyuncs.com`,
    EndpointStatus: 'Active',
    ConnectionStatus: 'Connected',
    ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1aaa',
    ServiceId: 'epsrv-bp1aaa',
    VpcId: 'vpc-one',
    RegionId: REGION,
    Zones: [],
    ...fields,
  };
}

const DATA: SimulatorData = {
  endpoints: [
    ep('ep-1', {
      Zones: [
        { ZoneId: 'cn-hangzhou-h', EniIp: '192.168.1.1', ZoneStatus: 'Connected', ZoneDomain: 'ep-1-h.example' },
        { ZoneId: 'cn-hangzhou-j', EniIp: '192.168.2.1', ZoneStatus: 'Disconnected' },
        { ZoneId: 'cn-hangzhou-k', EniIp: '192.168.3.1', ZoneIpv6Address: 'fd00::3:1', ZoneStatus: 'Connected' },
      ],
    }),
    ep('ep-2', { ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1bbb', VpcId: 'vpc-two' }),
    ep('ep-3', { EndpointStatus: 'Pending' }),
    ep('ep-4', { ConnectionStatus: 'Disconnected' }),
    ep('ep-5', { EndpointType: 'Reverse' }),
    ep('ep-6', { ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1bbb', VpcId: 'vpc-one' }),
    ep('ep-7'),
    ep('ep-other-region', { RegionId: 'cn-beijing' }),
  ],
};

function config(sim: { endpoint: string }, overrides: Partial<PrivateLinkConfig> = {}): PrivateLinkConfig {
  return simulatorApiConfig(sim.endpoint, overrides);
}

async function rejection(promise: Promise<unknown>): Promise<PldnsError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PldnsError) return err;
    throw new Error(`expected a PldnsError, got ${String(err)}`);
  }
  throw new Error('expected a rejection');
}

async function withSimulator(t: { teardown(fn: () => unknown): void }, data: SimulatorData = DATA): Promise<{ sim: RunningSimulator; client: PrivateLinkClient }> {
  const sim = await startSimulator({ port: 0, data });
  const client = createPrivateLinkClient({ config: config(sim), region: REGION });
  t.teardown(async () => {
    client.close();
    await sim.close();
  });
  return { sim, client };
}

t.test('lists every endpoint of the region across pages of MaxResults 2', async (t) => {
  const { sim, client } = await withSimulator(t);
  const ids: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const res = await client.listVpcEndpoints({ regionId: REGION, maxResults: 2, nextToken });
    t.equal(res.statusCode, 200);
    t.ok(res.body?.requestId, 'each page has a request id');
    t.equal(res.body?.totalCount, 7);
    ids.push(...(res.body?.endpoints ?? []).map((e) => e.endpointId ?? ''));
    nextToken = res.body?.nextToken || undefined;
    pages += 1;
  } while (nextToken !== undefined && pages < 10);
  t.same(ids, ['ep-1', 'ep-2', 'ep-3', 'ep-4', 'ep-5', 'ep-6', 'ep-7']);
  t.equal(pages, 4);
  t.equal(sim.calls().ListVpcEndpoints, 4);
});

t.test('maps the PascalCase body to camelCase models', async (t) => {
  const { client } = await withSimulator(t);
  const res = await client.listVpcEndpoints({ regionId: REGION, endpointId: 'ep-1' });
  t.match(res.body?.endpoints?.[0], {
    endpointId: 'ep-1',
    endpointName: 'name-ep-1',
    endpointDomain: `ep-1.epsrv-bp1svc.${REGION}.privatelink.aliyuncs.com`,
    endpointStatus: 'Active',
    connectionStatus: 'Connected',
    endpointType: 'Interface',
    serviceId: 'epsrv-bp1aaa',
    vpcId: 'vpc-one',
    regionId: REGION,
    zoneAffinityEnabled: false,
  });
});

t.test('applies the real ListVpcEndpoints filters', async (t) => {
  const { client } = await withSimulator(t);
  const idsFor = async (filter: Record<string, string>) =>
    ((await client.listVpcEndpoints({ regionId: REGION, ...filter })).body?.endpoints ?? []).map((e) => e.endpointId);
  t.same(await idsFor({ serviceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1bbb' }), ['ep-2', 'ep-6']);
  t.same(await idsFor({ serviceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1bbb', vpcId: 'vpc-one' }), ['ep-6']);
  t.same(await idsFor({ endpointStatus: 'Pending' }), ['ep-3']);
  t.same(await idsFor({ connectionStatus: 'Disconnected' }), ['ep-4']);
  t.same(await idsFor({ endpointType: 'Reverse' }), ['ep-5']);
  t.same(await idsFor({ endpointName: 'name-ep-7' }), ['ep-7']);
  t.same(await idsFor({ endpointId: 'ep-other-region' }), [], 'another region is not listed');
  const beijing = await client.listVpcEndpoints({ regionId: 'cn-beijing' });
  t.same(beijing.body?.endpoints?.map((e) => e.endpointId), ['ep-other-region']);
});

t.test('pages through zones with MaxResults 1', async (t) => {
  const { client } = await withSimulator(t);
  const zones = [];
  let nextToken: string | undefined;
  for (let i = 0; i < 10; i++) {
    const res = await client.listVpcEndpointZones({ regionId: REGION, endpointId: 'ep-1', maxResults: 1, nextToken });
    zones.push(...(res.body?.zones ?? []));
    nextToken = res.body?.nextToken || undefined;
    if (nextToken === undefined) break;
  }
  t.same(zones.map((z) => [z.zoneId, z.eniIp, z.zoneStatus]), [
    ['cn-hangzhou-h', '192.168.1.1', 'Connected'],
    ['cn-hangzhou-j', '192.168.2.1', 'Disconnected'],
    ['cn-hangzhou-k', '192.168.3.1', 'Connected'],
  ]);
  t.equal(zones[2].zoneIpv6Address, 'fd00::3:1');
  t.equal(zones[0].zoneDomain, 'ep-1-h.example');
  t.equal(zones[0].regionId, REGION);
});

t.test('GetVpcEndpointAttribute returns the endpoint and its attribute fields', async (t) => {
  const { client } = await withSimulator(t);
  const res = await client.getVpcEndpointAttribute({ regionId: REGION, endpointId: 'ep-2' });
  t.match(res.body, { endpointId: 'ep-2', vpcId: 'vpc-two', payer: 'Endpoint', zonePrivateIpAddressCount: 1 });
  t.type(res.body?.requestId, 'string');
});

t.test('EndpointNotFound maps to PL_NOT_FOUND with the api details', async (t) => {
  const { client } = await withSimulator(t);
  const err = await rejection(client.listVpcEndpointZones({ regionId: REGION, endpointId: 'ep-missing' }));
  t.equal(err.code, 'PL_NOT_FOUND');
  t.match(err.details, { apiCode: 'EndpointNotFound', statusCode: 400, action: 'ListVpcEndpointZones' });
  t.match(err.details?.requestId, /^[0-9A-F-]{36}$/);
});

t.test('a wrong secret is PL_AUTH SignatureDoesNotMatch; an unknown key is InvalidAccessKeyId.NotFound', async (t) => {
  const sim = await startSimulator({ port: 0, data: DATA });
  t.teardown(() => sim.close());
  const wrongSecret = createPrivateLinkClient({
    config: config(sim, { credentials: { type: 'access_key', accessKeyId: 'simulator', accessKeySecret: 'wrong' } }),
    region: REGION,
  });
  const unknownKey = createPrivateLinkClient({
    config: config(sim, { credentials: { type: 'access_key', accessKeyId: 'LTAIunknown', accessKeySecret: 'simulator' } }),
    region: REGION,
  });
  t.teardown(() => { wrongSecret.close(); unknownKey.close(); });
  const bad = await rejection(wrongSecret.listVpcEndpoints({ regionId: REGION }));
  t.equal(bad.code, 'PL_AUTH');
  t.match(bad.details, { apiCode: 'SignatureDoesNotMatch', statusCode: 400 });
  const unknown = await rejection(unknownKey.listVpcEndpoints({ regionId: REGION }));
  t.equal(unknown.code, 'PL_AUTH');
  t.match(unknown.details, { apiCode: 'InvalidAccessKeyId.NotFound', statusCode: 404 });
});

t.test('throttling twice, then success', async (t) => {
  const { sim, client } = await withSimulator(t);
  sim.addFault({ action: 'ListVpcEndpointZones', status: 400, code: 'Throttling.User', remaining: 2, retryAfterMs: 1500 });
  for (let i = 0; i < 2; i++) {
    const err = await rejection(client.listVpcEndpointZones({ regionId: REGION, endpointId: 'ep-1' }));
    t.equal(err.code, 'PL_THROTTLED', `call ${i + 1} throttled`);
    t.match(err.details, { apiCode: 'Throttling.User', statusCode: 400, retryAfterMs: 1500 });
  }
  const ok = await client.listVpcEndpointZones({ regionId: REGION, endpointId: 'ep-1' });
  t.equal(ok.body?.zones?.length, 3);
  // Other actions were never throttled.
  t.equal((await client.listVpcEndpoints({ regionId: REGION })).statusCode, 200);
});

t.test('503 maps to PL_SERVER', async (t) => {
  const { sim, client } = await withSimulator(t);
  sim.addFault({ action: '*', status: 503, code: 'ServiceUnavailable', remaining: 1 });
  const err = await rejection(client.getVpcEndpointAttribute({ regionId: REGION, endpointId: 'ep-1' }));
  t.equal(err.code, 'PL_SERVER');
  t.match(err.details, { apiCode: 'ServiceUnavailable', statusCode: 503 });
});

t.test('a reply slower than timeoutMs is a PL_NETWORK timeout', async (t) => {
  const sim = await startSimulator({ port: 0, data: DATA });
  const client = createPrivateLinkClient({ config: config(sim, { timeoutMs: 300 }), region: REGION });
  t.teardown(async () => { client.close(); await sim.close(); });
  sim.addFault({ action: '*', delayMs: 3000, remaining: 1 });
  const started = Date.now();
  const err = await rejection(client.listVpcEndpoints({ regionId: REGION }));
  t.equal(err.code, 'PL_NETWORK');
  t.match(err.details, { timeout: true });
  t.ok(Date.now() - started < 2500, 'gave up at the timeout, not after the delay');
});

t.test('a closed simulator is PL_NETWORK', async (t) => {
  const sim = await startSimulator({ port: 0, data: DATA });
  const client = createPrivateLinkClient({ config: config(sim), region: REGION });
  t.teardown(() => client.close());
  await client.listVpcEndpoints({ regionId: REGION }); // leaves a pooled keep-alive socket behind
  await sim.close();
  const err = await rejection(client.listVpcEndpoints({ regionId: REGION }));
  t.equal(err.code, 'PL_NETWORK');
  t.match(err.details?.errno, /^(ECONNREFUSED|ECONNRESET|EPIPE)$/);
});

t.test('an HTML body is PL_BAD_RESPONSE', async (t) => {
  const { sim, client } = await withSimulator(t);
  sim.addFault({ action: '*', status: 502, body: '<html><body>502 Bad Gateway</body></html>', remaining: 1 });
  const err = await rejection(client.listVpcEndpoints({ regionId: REGION }));
  t.equal(err.code, 'PL_BAD_RESPONSE');
});

/** A one-name DNS server on 127.0.0.1: A for `name` → 127.0.0.1, NXDOMAIN for anything else. */
async function startFakeDns(name: string): Promise<{ port: number; queries: string[]; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const labels: string[] = [];
    let offset = 12;
    while (msg[offset] !== 0) {
      labels.push(msg.subarray(offset + 1, offset + 1 + msg[offset]).toString('ascii'));
      offset += msg[offset] + 1;
    }
    const questionEnd = offset + 5;
    const qname = labels.join('.').toLowerCase();
    const qtype = msg.readUInt16BE(offset + 1);
    queries.push(`${qname}/${qtype}`);
    const known = qname === name;
    const answer = known && qtype === 1;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // QR RD RA, NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, questionEnd)];
    if (answer) parts.push(Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]));
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, queries, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

t.test('the API host name is resolved through the bootstrap resolvers only', async (t) => {
  const dns = await startFakeDns('privatelink.test.internal');
  const sim = await startSimulator({ port: 0, data: DATA });
  const client = createPrivateLinkClient({
    config: config({ endpoint: `privatelink.test.internal:${sim.port}` }, { bootstrap: [{ host: '127.0.0.1', port: dns.port, family: 4 }] }),
    region: REGION,
  });
  t.teardown(async () => { client.close(); await sim.close(); await dns.close(); });
  const res = await client.listVpcEndpoints({ regionId: REGION, endpointId: 'ep-1' });
  t.equal(res.body?.endpoints?.[0]?.endpointId, 'ep-1');
  t.ok(dns.queries.includes('privatelink.test.internal/1'), 'the bootstrap server was asked for A');

  const unknownHost = createPrivateLinkClient({
    config: config({ endpoint: `nothing.test.internal:${sim.port}` }, { bootstrap: [{ host: '127.0.0.1', port: dns.port, family: 4 }] }),
    region: REGION,
  });
  t.teardown(() => unknownHost.close());
  const err = await rejection(unknownHost.listVpcEndpoints({ regionId: REGION }));
  t.equal(err.code, 'PL_NETWORK');
  t.ok(dns.queries.some((q) => q.startsWith('nothing.test.internal/')), 'NXDOMAIN came from the bootstrap server');
});

t.test('an IP endpoint is never looked up', async (t) => {
  const sim = await startSimulator({ port: 0, data: DATA });
  let lookups = 0;
  const client = createPrivateLinkClient({
    config: config(sim),
    region: REGION,
    lookup: ((...args: unknown[]) => {
      lookups += 1;
      (args[2] as (err: Error) => void)(new Error('must not be called'));
    }) as never,
  });
  t.teardown(async () => { client.close(); await sim.close(); });
  await client.listVpcEndpoints({ regionId: REGION });
  t.equal(lookups, 0);
});

t.test('the default credential chain signs with environment keys', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => { process.env = saved; });
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
  process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = 'simulator';
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = 'simulator';
  const sim = await startSimulator({ port: 0, data: DATA });
  const client = createPrivateLinkClient({ config: config(sim, { credentials: { type: 'default' } }), region: REGION });
  t.teardown(async () => { client.close(); await sim.close(); });
  const res = await client.listVpcEndpoints({ regionId: REGION });
  t.equal(res.body?.totalCount, 7);
});

/**
 * An error names its target (action, host:port) and carries no SDK noise such as
 * `undefinedGET https://undefined/`, whatever way the call failed.
 */
t.test('errors name the action and host:port, and nothing from the SDK', async (t) => {
  const noise = /undefined|GET https?:|POST https?:|\bat \w+ \(/;
  const port = await freePort();
  const closed = createPrivateLinkClient({ config: config({ endpoint: `127.0.0.1:${port}` }), region: REGION });
  t.teardown(() => closed.close());
  const refused = await rejection(closed.listVpcEndpoints({ regionId: REGION }));
  t.equal(refused.code, 'PL_NETWORK');
  t.equal(refused.message, `ListVpcEndpoints to 127.0.0.1:${port}: ECONNREFUSED`);
  t.equal(refused.details?.errno, 'ECONNREFUSED');

  const sim = await startSimulator({ port: 0, data: DATA });
  const slow = createPrivateLinkClient({ config: config(sim, { timeoutMs: 300 }), region: REGION });
  t.teardown(async () => { slow.close(); await sim.close(); });
  sim.addFault({ action: '*', delayMs: 3000, remaining: 1 });
  const timeout = await rejection(slow.listVpcEndpoints({ regionId: REGION }));
  t.equal(timeout.code, 'PL_NETWORK');
  t.equal(timeout.message, `ListVpcEndpoints to ${sim.endpoint}: timed out after 300ms`);
  t.notMatch(timeout.message, noise);

  sim.addFault({ action: '*', status: 502, body: '<html><body>502 Bad Gateway</body></html>', remaining: 1 });
  const html = await rejection(slow.listVpcEndpoints({ regionId: REGION }));
  t.equal(html.code, 'PL_BAD_RESPONSE');
  t.match(html.message, new RegExp(`^ListVpcEndpoints to ${sim.endpoint.replace(/\./g, '\\.')}: `));
  t.notMatch(html.message, noise);

  sim.addFault({ action: '*', status: 503, code: 'ServiceUnavailable', remaining: 1 });
  const server = await rejection(slow.listVpcEndpoints({ regionId: REGION }));
  t.match(server.message, new RegExp(`^ListVpcEndpoints to ${sim.endpoint.replace(/\./g, '\\.')} failed: `));
  t.notMatch(server.message, noise);
});
