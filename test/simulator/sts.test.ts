/**
 * The simulator's STS stand-in: AssumeRoleWithOIDC checks role, provider and token, and the keys
 * it issues are accepted only with their own security token, as the real gateway does.
 */
import t from 'tap';
import { PldnsError } from '../../src/errors';
import { createPrivateLinkClient } from '../../src/privatelink/client';
import { startSimulator } from '../../src/simulator';
import { simulatorApiConfig } from '../helpers/privatelink-fake';

const ROLE = 'acs:ram::1:role/r';
const PROVIDER = 'acs:ram::1:oidc-provider/p';

t.test('AssumeRoleWithOIDC, then the key needs its token', async (t) => {
  const sim = await startSimulator({ port: 0, sts: { roleArn: ROLE, oidcProviderArn: PROVIDER, oidcToken: 'tok' } });
  t.teardown(() => sim.close());
  const assume = async (fields: Record<string, string>) => {
    const res = await fetch(`${sim.url}/?Action=AssumeRoleWithOIDC&Version=2015-04-01&Format=JSON`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ OIDCProviderArn: PROVIDER, RoleArn: ROLE, OIDCToken: 'tok', RoleSessionName: 's', ...fields }).toString(),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  t.match(await assume({ OIDCToken: 'other' }), { status: 400, body: { Code: 'AuthenticationFail.OIDCToken.Invalid' } });
  t.match(await assume({ RoleArn: 'acs:ram::1:role/other' }), { status: 404, body: { Code: 'EntityNotExist.Role' } });
  t.match(await assume({ OIDCProviderArn: 'acs:ram::1:oidc-provider/x' }), { status: 404, body: { Code: 'EntityNotExist.OIDCProvider' } });
  const ok = await assume({});
  t.equal(ok.status, 200);
  const { AccessKeyId, AccessKeySecret, SecurityToken } = ok.body.Credentials;
  t.match(AccessKeyId, /^STS\./);

  const call = async (securityToken?: string): Promise<string> => {
    const client = createPrivateLinkClient({
      config: simulatorApiConfig(sim.endpoint, { credentials: { type: 'access_key', accessKeyId: AccessKeyId, accessKeySecret: AccessKeySecret, ...(securityToken ? { securityToken } : {}) } }),
      region: 'cn-hangzhou',
    });
    try {
      await client.listVpcEndpoints({ regionId: 'cn-hangzhou' });
      return 'ok';
    } catch (err) {
      return err instanceof PldnsError ? String(err.details?.apiCode) : String(err);
    } finally {
      client.close();
    }
  };
  t.equal(await call(SecurityToken), 'ok', 'key + its token');
  t.equal(await call(), 'MissingSecurityToken', 'key without a token');
  t.equal(await call('another-token'), 'InvalidSecurityToken.MismatchWithAccessKey', 'key with another token');
});
