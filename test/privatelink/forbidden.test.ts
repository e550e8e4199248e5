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
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import { DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';
import { captureLogger, simulatorApiConfig } from '../helpers/privatelink-fake';

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

t.test('a denial carrying AccessDeniedDetail names the policy that denied it, in the error, the log and /status (issue 25 item 4)', async (t) => {
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  const client = createPrivateLinkClient({ config: simulatorApiConfig(sim.endpoint), region: 'cn-hangzhou' });
  t.teardown(() => client.close());
  const explicitDeny = {
    PolicyType: 'ControlPolicy', PolicyName: 'deny-privatelink-reads', NoPermissionType: 'ExplicitDeny', AuthAction: 'privatelink:ListVpcEndpoints',
    AuthPrincipalType: 'SubUser', AuthPrincipalDisplayName: 'privatelink-dns', EncodedDiagnosticMessage: 'AQEAAAAA-encoded',
  };
  sim.addFault({ action: 'ListVpcEndpoints', status: 403, code: 'NoPermission', accessDeniedDetail: explicitDeny, remaining: 1 });
  const err = await rejection(client.listVpcEndpoints({ regionId: 'cn-hangzhou' }));
  t.equal(err.code, 'PL_FORBIDDEN');
  t.match(err.message, /ListVpcEndpoints denied: NoPermission \(HTTP 403\) request \S+: an explicit Deny in a ControlPolicy "deny-privatelink-reads" refuses privatelink:ListVpcEndpoints for SubUser privatelink-dns: an Allow cannot override it/);
  t.notMatch(err.message, /lacks/, 'not blamed on a missing Allow');
  t.same(err.details?.accessDenied, {
    policyType: 'ControlPolicy', policyName: 'deny-privatelink-reads', noPermissionType: 'ExplicitDeny', authAction: 'privatelink:ListVpcEndpoints',
    principal: 'SubUser privatelink-dns', encodedDiagnosticMessage: 'AQEAAAAA-encoded',
  });

  // An implicit deny by the identity's own policy: the policy document is the fix.
  sim.addFault({ action: 'ListVpcEndpoints', status: 403, code: 'Forbidden.RAM', accessDeniedDetail: { PolicyType: 'AccountLevelIdentityBasedPolicy', NoPermissionType: 'ImplicitDeny', AuthAction: 'privatelink:ListVpcEndpoints' }, remaining: 1 });
  const implicit = await rejection(client.listVpcEndpoints({ regionId: 'cn-hangzhou' }));
  t.match(implicit.message, /the RAM identity lacks privatelink:ListVpcEndpoints \(AccountLevelIdentityBasedPolicy, ImplicitDeny\) \(policy: docs\/deployment\.md#ram-policy\)/);

  // Through the sync loop: logged with its policy, and /status's backoff.reason carries it.
  const { logger, lines } = captureLogger();
  sim.addFault({ action: 'ListVpcEndpoints', status: 403, code: 'NoPermission', accessDeniedDetail: explicitDeny, remaining: 1 });
  const syncer = new Syncer({
    api: () => client,
    config: { region: 'cn-hangzhou', privatelink: simulatorApiConfig(sim.endpoint), records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries: [{ kind: 'endpoint', names: ['cs-anony-vpc.cn-hangzhou.aliyuncs.com'], endpointId: 'ep-bp1g7k2m9x4q8w3z5' }] } },
    observer: noSyncObserver,
    logger,
    onState: () => {},
  });
  const out = await syncer.syncOnce();
  t.equal(out.errors[0]?.code, 'PL_FORBIDDEN');
  const line = lines.find((l) => l.msg === 'the RAM policy does not allow a PrivateLink call; backing off (the credential is kept)');
  t.match(line, { level: 50, accessDenied: { policyType: 'ControlPolicy', policyName: 'deny-privatelink-reads', noPermissionType: 'ExplicitDeny' } }, 'the log line names the policy');
  t.match(syncer.backoff().reason, { code: 'PL_FORBIDDEN', accessDenied: { policyType: 'ControlPolicy', policyName: 'deny-privatelink-reads', authAction: 'privatelink:ListVpcEndpoints' } }, '/status backoff.reason carries it');
  await syncer.stop();
});
