/**
 * Forbidden.RAM from the simulator through the real client: a policy problem, not a key problem.
 * The error names the RAM action that grants the call, and the Credential object is kept; a
 * rejected key (SignatureDoesNotMatch) still drops it so a rotated key is read again.
 */
import t from 'tap';
import Credential, { Config as CredentialConfig } from '@alicloud/credentials';
import { PldnsError } from '../../src/errors';
import { createPrivateLinkClient } from '../../src/privatelink/client';
import { CredentialProvider } from '../../src/privatelink/credentials';
import { startSimulator } from '../../src/simulator';
import { simulatorApiConfig } from '../helpers/privatelink-fake';

async function rejection(p: Promise<unknown>): Promise<PldnsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PldnsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('Forbidden.RAM: PL_FORBIDDEN with the RAM action, credential kept', async (t) => {
  const sim = await startSimulator({ port: 0 });
  t.teardown(() => sim.close());
  let builds = 0;
  const credentials = new CredentialProvider({ type: 'access_key', accessKeyId: 'simulator', accessKeySecret: 'simulator' }, {
    build: () => {
      builds++;
      return new Credential(new CredentialConfig({ type: 'access_key', accessKeyId: 'simulator', accessKeySecret: 'simulator' }));
    },
  });
  const client = createPrivateLinkClient({ config: simulatorApiConfig(sim.endpoint), region: 'cn-hangzhou', credentials });
  t.teardown(() => client.close());

  sim.addFault({ action: 'ListVpcEndpointZones', status: 403, code: 'Forbidden.RAM', remaining: 2 });
  for (let i = 0; i < 2; i++) {
    const err = await rejection(client.listVpcEndpointZones({ regionId: 'cn-hangzhou', endpointId: 'ep-x' }));
    t.equal(err.code, 'PL_FORBIDDEN');
    t.match(err.details, { action: 'ListVpcEndpointZones', apiCode: 'Forbidden.RAM', statusCode: 403, ramAction: 'privatelink:ListVpcEndpointZones' });
    t.match(err.message, /lacks privatelink:ListVpcEndpointZones \(policy: docs\/deployment\.md#ram-policy\)/);
  }
  t.equal(builds, 1, 'one Credential for both denied calls');

  sim.addFault({ action: 'ListVpcEndpoints', status: 400, code: 'SignatureDoesNotMatch', remaining: 1 });
  t.equal((await rejection(client.listVpcEndpoints({ regionId: 'cn-hangzhou' }))).code, 'PL_AUTH');
  await client.listVpcEndpoints({ regionId: 'cn-hangzhou' });
  t.equal(builds, 2, 'a rejected signature drops the Credential: the next call builds a new one');
});
