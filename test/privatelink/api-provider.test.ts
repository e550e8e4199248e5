/**
 * The provider the daemon and `sync`/`export` share, against the simulator on 127.0.0.1.
 */
import t from 'tap';
import pino from 'pino';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { DEMO_ENDPOINT_IDS, DEMO_REGION, DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';
import { simulatorApiConfig } from '../helpers/privatelink-fake';

/** The demo data: its endpoints are in this region. */
const REGION = DEMO_REGION;
const CONTROL_PLANE = DEMO_ENDPOINT_IDS.controlPlane;

t.test('one client until a rebuild is asked for; close frees it', async (t) => {
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  const provider = new ApiClientProvider({ region: REGION, privatelink: simulatorApiConfig(sim.endpoint) }, pino({ level: 'silent' }));
  t.teardown(() => provider.close());

  const first = provider.provide({ rebuild: false });
  t.equal(provider.provide({ rebuild: false }), first, 'reused between syncs');
  const listed = await first.listVpcEndpoints({ regionId: REGION, endpointId: CONTROL_PLANE });
  t.same(listed.body?.endpoints?.map((e) => e.endpointId), [CONTROL_PLANE], 'the client is configured from the config (endpoint, signing key)');

  const rebuilt = provider.provide({ rebuild: true });
  t.not(rebuilt, first, 'a rebuild makes a new client');
  t.equal(provider.provide({ rebuild: false }), rebuilt);
  t.same((await rebuilt.listVpcEndpoints({ regionId: REGION, endpointId: CONTROL_PLANE })).body?.endpoints?.map((e) => e.endpointId), [CONTROL_PLANE], 'the rebuilt client works');

  provider.close();
  t.not(provider.provide({ rebuild: false }), rebuilt, 'after close the next sync gets a new client');
});
