import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCredential, CredentialProvider } from '../../src/privatelink/credentials';
import { createPrivateLinkClient } from '../../src/privatelink/client';
import { PldnsError } from '../../src/errors';
import { startSimulator } from '../../src/simulator';

const CHAIN_ENV = [
  'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN',
  'ALIBABA_CLOUD_ROLE_ARN', 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN', 'ALIBABA_CLOUD_OIDC_TOKEN_FILE',
  'ALIBABA_CLOUD_CREDENTIALS_FILE', 'ALIBABA_CLOUD_PROFILE', 'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALIBABA_CLOUD_ECS_METADATA',
];

/** An environment where the default chain finds nothing and never probes the metadata service. */
function emptyChain(t: { teardown(fn: () => void): void }): void {
  const saved = { ...process.env };
  t.teardown(() => { process.env = saved; });
  for (const name of CHAIN_ENV) delete process.env[name];
  process.env.HOME = mkdtempSync(join(tmpdir(), 'pldns-cred-'));
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
}

t.test('builds static access-key and STS credentials', async (t) => {
  const ak = await buildCredential({ type: 'access_key', accessKeyId: 'id', accessKeySecret: 'secret' }).getCredential();
  t.match(ak, { accessKeyId: 'id', accessKeySecret: 'secret', type: 'access_key' });
  const sts = await buildCredential({ type: 'access_key', accessKeyId: 'id', accessKeySecret: 'secret', securityToken: 'tok' }).getCredential();
  t.match(sts, { securityToken: 'tok', type: 'sts' });
});

t.test('an empty default chain is PL_CREDENTIALS, and keys installed later are picked up', async (t) => {
  emptyChain(t);
  const provider = new CredentialProvider({ type: 'default' });
  const first = provider.get();
  const err = await provider.ready().catch((e: unknown) => e);
  t.ok(err instanceof PldnsError && err.code === 'PL_CREDENTIALS', 'PL_CREDENTIALS');

  process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = 'later-id';
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = 'later-secret';
  const credential = await provider.ready();
  t.not(credential, first, 'a new Credential object was built after the failure');
  t.match(await credential.getCredential(), { accessKeyId: 'later-id' });
  t.equal(provider.get(), credential, 'kept while it works');
});

t.test('the client recovers once credentials appear', async (t) => {
  emptyChain(t);
  const sim = await startSimulator({ port: 0 });
  const client = createPrivateLinkClient({
    config: {
      endpoint: sim.endpoint, protocol: 'http', connectTo: null, caPem: null, credentials: { type: 'default' }, bootstrap: [],
      refresh: '*/30 * * * * *', jitterMs: 0, timeoutMs: 2000, maxStaleMs: 1, maxBackoffMs: 1, quotaPerMinute: 1000,
    },
    region: 'cn-hangzhou',
  });
  t.teardown(async () => { client.close(); await sim.close(); });
  const err = await client.listVpcEndpoints({ regionId: 'cn-hangzhou' }).catch((e: unknown) => e);
  t.match(err, { code: 'PL_CREDENTIALS' });
  t.equal(sim.calls().total, 0, 'nothing was sent unsigned');

  process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = 'simulator';
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = 'simulator';
  const res = await client.listVpcEndpoints({ regionId: 'cn-hangzhou' });
  t.equal(res.statusCode, 200);
});

t.test('a PL_AUTH rejection rebuilds the credential (a rotated key is re-read)', async (t) => {
  emptyChain(t);
  process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = 'simulator';
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = 'old-secret';
  let builds = 0;
  const credentials = new CredentialProvider({ type: 'default' }, { build: (c) => { builds += 1; return buildCredential(c); } });
  const sim = await startSimulator({ port: 0 });
  const client = createPrivateLinkClient({
    config: {
      endpoint: sim.endpoint, protocol: 'http', connectTo: null, caPem: null, credentials: { type: 'default' }, bootstrap: [],
      refresh: '*/30 * * * * *', jitterMs: 0, timeoutMs: 2000, maxStaleMs: 1, maxBackoffMs: 1, quotaPerMinute: 1000,
    },
    region: 'cn-hangzhou',
    credentials,
  });
  t.teardown(async () => { client.close(); await sim.close(); });
  t.match(await client.listVpcEndpoints({ regionId: 'cn-hangzhou' }).catch((e: unknown) => e), { code: 'PL_AUTH' });
  process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = 'simulator';
  t.equal((await client.listVpcEndpoints({ regionId: 'cn-hangzhou' })).statusCode, 200);
  t.equal(builds, 2);
});
