/**
 * The provider the daemon and `sync`/`export` share, against the simulator on 127.0.0.1.
 */
import t from 'tap';
import pino from 'pino';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { startSimulator, type SimulatorData } from '../../src/simulator';

const REGION = 'cn-hangzhou';
const DATA: SimulatorData = {
  endpoints: [{
    EndpointId: 'ep-1',
    EndpointName: 'one',
    EndpointDomain: `ep-1.epsrv-bp1svc.${REGION}.privatelink.aliyuncs.com`,
    EndpointStatus: 'Active',
    ConnectionStatus: 'Connected',
    ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-bp1aaa',
    ServiceId: 'epsrv-bp1aaa',
    VpcId: 'vpc-one',
    RegionId: REGION,
    Zones: [],
  }],
};

t.test('one client until a rebuild is asked for; close frees it', async (t) => {
  const sim = await startSimulator({ port: 0, data: DATA });
  t.teardown(() => sim.close());
  const provider = new ApiClientProvider({
    region: REGION,
    privatelink: {
      endpoint: sim.endpoint,
      protocol: 'http',
      credentials: { type: 'access_key', accessKeyId: 'simulator', accessKeySecret: 'simulator' },
      bootstrap: [],
      refresh: '*/30 * * * * *',
      jitterMs: 0,
      timeoutMs: 2000,
      maxStaleMs: 86_400_000,
      maxBackoffMs: 300_000,
    },
  }, pino({ level: 'silent' }));
  t.teardown(() => provider.close());

  const first = provider.provide({ rebuild: false });
  t.equal(provider.provide({ rebuild: false }), first, 'reused between syncs');
  const listed = await first.listVpcEndpoints({ regionId: REGION });
  t.same(listed.body?.endpoints?.map((e) => e.endpointId), ['ep-1'], 'the client is configured from the config (endpoint, signing key)');

  const rebuilt = provider.provide({ rebuild: true });
  t.not(rebuilt, first, 'a rebuild makes a new client');
  t.equal(provider.provide({ rebuild: false }), rebuilt);
  t.same((await rebuilt.listVpcEndpoints({ regionId: REGION })).body?.endpoints?.map((e) => e.endpointId), ['ep-1'], 'the rebuilt client works');

  provider.close();
  t.not(provider.provide({ rebuild: false }), rebuilt, 'after close the next sync gets a new client');
});
