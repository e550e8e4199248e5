/**
 * The credential sources of the two real places the daemon runs, against the simulator with the
 * real client and credentials library:
 * - systemd LoadCredential=: AccessKey files named relative to $CREDENTIALS_DIRECTORY;
 * - RRSA in ACK: `type: oidc_role_arn`, and the pod-identity webhook's variables under
 *   `credentials: default`, exchanging the token with STS AssumeRoleWithOIDC at sts_endpoint
 *   (the simulator's STS stand-in over HTTPS, trusted through ca_file); the PrivateLink calls are
 *   then signed with the temporary key and its security token, which the simulator checks.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema';
import { parseConfigText } from '../../src/config/load';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { buildCredential } from '../../src/privatelink/credentials';
import { credentialFiles } from '../../src/privatelink/secret-files';
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import { DEMO_SIMULATOR_DATA, startSimulator } from '../../src/simulator';
import { captureLogger } from '../helpers/privatelink-fake';
import { makeTestCa } from '../helpers/test-ca';

const API_HOST = 'privatelink-vpc.cn-hangzhou.aliyuncs.com';
const ROLE_ARN = 'acs:ram::1234567890123456:role/privatelink-dns-reader';
const PROVIDER_ARN = 'acs:ram::1234567890123456:oidc-provider/ack-rrsa-c0123456789';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.signature';
const CHAIN_ENV = ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN', 'ALIBABA_CLOUD_ROLE_ARN',
  'ALIBABA_CLOUD_OIDC_PROVIDER_ARN', 'ALIBABA_CLOUD_OIDC_TOKEN_FILE', 'ALIBABA_CLOUD_STS_ENDPOINT', 'ALIBABA_CLOUD_STS_REGION',
  'ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED', 'CREDENTIALS_DIRECTORY'];

function cleanEnv(t: { teardown(fn: () => void): void }): void {
  const saved = { ...process.env };
  t.teardown(() => { process.env = saved; });
  for (const name of CHAIN_ENV) delete process.env[name];
  process.env.HOME = mkdtempSync(join(tmpdir(), 'pldns-home-'));
  process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
}

function config(privatelink: string, baseDir: string): Config {
  const text = `region: cn-hangzhou\nprivatelink:\n${privatelink}\n  timeout: 2s\nrecords:\n  entries:\n    - { names: ["cs-anony-vpc.cn-hangzhou.aliyuncs.com"], endpoint: ep-bp1g7k2m9x4q8w3z5 }\nstate_dir: false\n`;
  const { config: c, problems } = parseConfigText(text, { files: { baseDir, readText: (p) => readFileSync(p, 'utf8') } });
  if (!c) throw new Error(JSON.stringify(problems));
  return c;
}

async function sync(c: Config, times = 1) {
  const { logger } = captureLogger();
  const clients = new ApiClientProvider(c, logger);
  try {
    const syncer = new Syncer({ api: clients.provide, config: c, observer: noSyncObserver, logger, onState: () => {} });
    let out = await syncer.syncOnce();
    for (let i = 1; i < times; i++) out = await syncer.syncOnce();
    return out;
  } finally {
    clients.close();
  }
}

t.test('systemd LoadCredential: key files relative to $CREDENTIALS_DIRECTORY', async (t) => {
  cleanEnv(t);
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  const credDir = mkdtempSync(join(tmpdir(), 'pldns-creds-'));
  writeFileSync(join(credDir, 'alibaba-cloud-access-key-id'), 'simulator\n');
  writeFileSync(join(credDir, 'alibaba-cloud-access-key-secret'), 'simulator\n');
  const c = config(`  endpoint: "${sim.endpoint}"\n  protocol: http\n  credentials: { type: access_key, access_key_id_file: alibaba-cloud-access-key-id, access_key_secret_file: alibaba-cloud-access-key-secret }`, credDir);
  t.same(c.privatelink.credentials, { type: 'access_key', accessKeyId: '', accessKeySecret: '', accessKeyIdFile: 'alibaba-cloud-access-key-id', accessKeySecretFile: 'alibaba-cloud-access-key-secret' });

  const without = await sync(c);
  t.equal(without.errors[0]?.code, 'PL_CREDENTIALS', 'outside the unit there is no $CREDENTIALS_DIRECTORY');
  t.match(without.errors[0]?.message, /"alibaba-cloud-access-key-id" is a systemd credential name \(no "\/"\) but \$CREDENTIALS_DIRECTORY is not set \(LoadCredential= in the unit/);

  process.env.CREDENTIALS_DIRECTORY = credDir;
  const out = await sync(c);
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  t.equal(sim.calls().ListVpcEndpoints, 1, 'the signed call went through (a wrong key would be refused)');

  writeFileSync(join(credDir, 'alibaba-cloud-access-key-secret'), 'not-the-secret\n');
  t.equal((await sync(c)).errors[0]?.code, 'PL_AUTH', 'the file is read when the credential is built: a changed secret is used');
  t.throws(() => buildCredential(c.privatelink.credentials, { CREDENTIALS_DIRECTORY: join(credDir, 'missing') }), /cannot read .*ENOENT/);
});

t.test('RRSA: oidc_role_arn exchanges the token at sts_endpoint, then signs with the STS key and token', async (t) => {
  cleanEnv(t);
  const ca = makeTestCa([API_HOST, '127.0.0.1']);
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA, tls: { key: ca.key, cert: ca.cert }, sts: { roleArn: ROLE_ARN, oidcProviderArn: PROVIDER_ARN, oidcToken: TOKEN } });
  t.teardown(() => sim.close());
  const tokenFile = join(ca.dir, 'token');
  writeFileSync(tokenFile, TOKEN);
  const pl = (credentials: string): string =>
    `  endpoint: "${API_HOST}:${sim.port}"\n  connect_to: 127.0.0.1\n  ca_file: ca.pem\n  credentials: ${credentials}`;

  const explicit = config(pl(`{ type: oidc_role_arn, role_arn: "${ROLE_ARN}", oidc_provider_arn: "${PROVIDER_ARN}", oidc_token_file: "${tokenFile}", sts_endpoint: "127.0.0.1:${sim.port}" }`), ca.dir);
  const out = await sync(explicit, 2);
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  t.same(out.inputs[0]?.ipv4, ['192.168.10.21', '192.168.20.21', '192.168.30.21']);
  t.equal(sim.calls().AssumeRoleWithOIDC, 1, 'one token exchange, reused by the second sync');
  t.equal(sim.calls().ListVpcEndpoints, 2);
  const sts = sim.requests().find((r) => r.action === 'AssumeRoleWithOIDC');
  t.equal(sts?.host, `127.0.0.1:${sim.port}`, 'STS was asked at sts_endpoint, not sts.aliyuncs.com');

  writeFileSync(tokenFile, 'a-token-the-provider-did-not-issue');
  const refused = await sync(explicit);
  t.equal(refused.errors[0]?.code, 'PL_CREDENTIALS', 'a token STS refuses: no credentials');
  t.match(refused.errors[0]?.message, /AuthenticationFail\.OIDCToken\.Invalid/);
  writeFileSync(tokenFile, TOKEN);

  // The ACK pod-identity webhook's variables with `credentials: default`, STS endpoint included.
  process.env.ALIBABA_CLOUD_ROLE_ARN = ROLE_ARN;
  process.env.ALIBABA_CLOUD_OIDC_PROVIDER_ARN = PROVIDER_ARN;
  process.env.ALIBABA_CLOUD_OIDC_TOKEN_FILE = tokenFile;
  process.env.ALIBABA_CLOUD_STS_ENDPOINT = `127.0.0.1:${sim.port}`;
  const before = sim.calls().AssumeRoleWithOIDC ?? 0;
  const viaEnv = await sync(config(pl('default'), ca.dir));
  t.equal(viaEnv.result, 'success', JSON.stringify(viaEnv.errors));
  t.equal((sim.calls().AssumeRoleWithOIDC ?? 0) - before, 1, 'the webhook variables were used');
});

t.test('ram_role_arn: AssumeRole signed with the AccessKey, at sts_endpoint', async (t) => {
  cleanEnv(t);
  const ca = makeTestCa([API_HOST, '127.0.0.1']);
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA, tls: { key: ca.key, cert: ca.cert }, sts: { roleArn: ROLE_ARN } });
  t.teardown(() => sim.close());
  const pl = (role: string, secret = 'simulator'): string =>
    `  endpoint: "${API_HOST}:${sim.port}"\n  connect_to: 127.0.0.1\n  ca_file: ca.pem\n` +
    `  credentials: { type: ram_role_arn, access_key_id: simulator, access_key_secret: ${secret}, role_arn: "${role}", sts_endpoint: "127.0.0.1:${sim.port}" }`;
  const out = await sync(config(pl(ROLE_ARN), ca.dir), 2);
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  t.equal(sim.calls().AssumeRole, 1, 'one AssumeRole (its signature checked), the session reused');
  const wrong = await sync(config(pl('acs:ram::1234567890123456:role/another'), ca.dir));
  t.equal(wrong.errors[0]?.code, 'PL_CREDENTIALS');
  t.match(wrong.errors[0]?.message, /EntityNotExist\.Role/);
  const badKey = await sync(config(pl(ROLE_ARN, 'wrong-secret'), ca.dir));
  // The library compares our SignatureDoesNotMatch's string-to-sign with its own and, equal, blames the secret.
  t.match(badKey.errors[0]?.message, /the access key secret is invalid/, 'the AssumeRole signature is verified');
});

t.test('a relative path with a "/" is relative to the config file, with or without $CREDENTIALS_DIRECTORY', async (t) => {
  cleanEnv(t);
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  const configDir = mkdtempSync(join(tmpdir(), 'pldns-conf-'));
  const credDir = mkdtempSync(join(tmpdir(), 'pldns-creds-'));
  t.teardown(() => { rmSync(configDir, { recursive: true }); rmSync(credDir, { recursive: true }); });
  mkdirSync(join(configDir, 'keys'));
  writeFileSync(join(configDir, 'keys', 'id'), 'simulator\n');
  writeFileSync(join(configDir, 'keys', 'secret'), 'simulator\n');
  // A decoy of the same relative name under $CREDENTIALS_DIRECTORY must not be the one read.
  mkdirSync(join(credDir, 'keys'));
  writeFileSync(join(credDir, 'keys', 'id'), 'simulator\n');
  writeFileSync(join(credDir, 'keys', 'secret'), 'not-the-secret\n');
  const c = config(`  endpoint: "${sim.endpoint}"\n  protocol: http\n  credentials: { type: access_key, access_key_id_file: keys/id, access_key_secret_file: ./keys/secret }`, configDir);
  t.same(c.privatelink.credentials, {
    type: 'access_key', accessKeyId: '', accessKeySecret: '', accessKeyIdFile: join(configDir, 'keys', 'id'), accessKeySecretFile: join(configDir, 'keys', 'secret'),
  }, 'made absolute against the config file directory at validation');
  t.same(credentialFiles(c.privatelink.credentials, {}).map((f) => f.path), [join(configDir, 'keys', 'id'), join(configDir, 'keys', 'secret')], 'the paths check prints');

  const without = await sync(c);
  t.equal(without.result, 'success', `no $CREDENTIALS_DIRECTORY needed: ${JSON.stringify(without.errors)}`);
  process.env.CREDENTIALS_DIRECTORY = credDir;
  const withDir = await sync(c);
  t.equal(withDir.result, 'success', `$CREDENTIALS_DIRECTORY set: still the config-relative file (the decoy secret would be refused): ${JSON.stringify(withDir.errors)}`);

  const bare = config(`  endpoint: "${sim.endpoint}"\n  protocol: http\n  credentials: { type: access_key, access_key_id_file: id, access_key_secret_file: secret }`, configDir);
  t.same(credentialFiles(bare.privatelink.credentials, { CREDENTIALS_DIRECTORY: credDir }).map((f) => f.path), [join(credDir, 'id'), join(credDir, 'secret')], 'a bare name: $CREDENTIALS_DIRECTORY');
  t.match(credentialFiles(bare.privatelink.credentials, {})[0]?.problem, /is a systemd credential name \(no "\/"\) but \$CREDENTIALS_DIRECTORY is not set/);
});

t.test('credential config problems', async (t) => {
  const lines = (cred: string): string[] => parseConfigText(`region: cn-hangzhou\nprivatelink: { credentials: ${cred} }\n`).problems.map((p) => `${p.path}: ${p.problem}`);
  t.same(lines('{ type: access_key, access_key_id: a, access_key_id_file: b, access_key_secret: c }'), ['privatelink.credentials.access_key_id: give access_key_id or access_key_id_file, not both']);
  t.same(lines('{ type: oidc_role_arn, access_key_id: a }'), ['privatelink.credentials.access_key_id: does not apply to type oidc_role_arn']);
  t.same(lines('{ type: ram_role_arn, access_key_id: a, access_key_secret: b, role_arn: r, sts_endpoint: "https://sts.example" }'), ['privatelink.credentials.sts_endpoint: must be host[:port] without a scheme']);
  t.same(lines('{ type: oidc_role_arn }'), [], 'every oidc key may come from the webhook variables');
});

t.test('ram_role_arn with external_id, session_duration and policy: what the stand-in received (issue 25 item 5)', async (t) => {
  cleanEnv(t);
  const ca = makeTestCa([API_HOST, '127.0.0.1']);
  t.teardown(() => rmSync(ca.dir, { recursive: true, force: true }));
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA, tls: { key: ca.key, cert: ca.cert }, sts: { roleArn: ROLE_ARN, externalId: 'pldns-ext-7f3a' } });
  t.teardown(() => sim.close());
  const policy = '{"Version":"1","Statement":[{"Effect":"Allow","Action":["privatelink:ListVpcEndpoints","privatelink:ListVpcEndpointZones"],"Resource":"*"}]}';
  const pl = (extra: string): string =>
    `  endpoint: "${API_HOST}:${sim.port}"\n  connect_to: 127.0.0.1\n  ca_file: ca.pem\n` +
    `  credentials: { type: ram_role_arn, access_key_id: simulator, access_key_secret: simulator, role_arn: "${ROLE_ARN}", sts_endpoint: "127.0.0.1:${sim.port}"${extra} }`;

  const c = config(pl(`, external_id: pldns-ext-7f3a, session_duration: 2h, policy: '${policy}'`), ca.dir);
  t.match(c.privatelink.credentials, { externalId: 'pldns-ext-7f3a', sessionDurationS: 7200, policy });
  const out = await sync(c);
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  const assumed = sim.requests().filter((r) => r.action === 'AssumeRole');
  t.equal(assumed.length, 1);
  t.same(assumed[0]?.sts, { roleArn: ROLE_ARN, roleSessionName: 'privatelink-dns', externalId: 'pldns-ext-7f3a', durationSeconds: 7200, policy }, 'ExternalId, DurationSeconds and Policy reached STS');

  const without = await sync(config(pl(''), ca.dir));
  t.equal(without.errors[0]?.code, 'PL_CREDENTIALS', 'a role that requires an ExternalId refuses a call without it');
  t.match(without.errors[0]?.message, /NoPermission/);
  t.equal(sim.requests().filter((r) => r.action === 'AssumeRole').at(-1)?.sts?.externalId, null);
});

t.test('credentials_uri: temporary keys from a local HTTP service sign the calls', async (t) => {
  cleanEnv(t);
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  let secret = 'simulator';
  let asked = 0;
  const uri = createServer((_req, res) => {
    asked++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ Code: 'Success', AccessKeyId: 'simulator', AccessKeySecret: secret, SecurityToken: 'token-from-uri', Expiration: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z') }));
  });
  await new Promise<void>((resolve) => uri.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => uri.close(() => resolve())));
  const url = `http://127.0.0.1:${(uri.address() as AddressInfo).port}/credentials`;

  const c = config(`  endpoint: "${sim.endpoint}"\n  protocol: http\n  credentials: { type: credentials_uri, credentials_uri: "${url}" }`, tmpdir());
  t.same(c.privatelink.credentials, { type: 'credentials_uri', credentialsUri: url });
  const out = await sync(c);
  t.equal(out.result, 'success', JSON.stringify(out.errors));
  t.ok(asked >= 1, 'the URI was asked');

  secret = 'not-the-secret';
  process.env.ALIBABA_CLOUD_CREDENTIALS_URI = url;
  const fromEnv = await sync(config(`  endpoint: "${sim.endpoint}"\n  protocol: http\n  credentials: { type: credentials_uri }`, tmpdir()));
  t.equal(fromEnv.errors[0]?.code, 'PL_AUTH', 'the URI from ALIBABA_CLOUD_CREDENTIALS_URI: its (now wrong) key was the one used');
  t.same(parseConfigText('region: cn-hangzhou\nprivatelink: { credentials: { type: credentials_uri, credentials_uri: "ftp://x" } }\n').problems.map((p) => p.path), ['privatelink.credentials.credentials_uri']);
});

t.test('new credential settings: problems', async (t) => {
  const lines = (cred: string): string[] => parseConfigText(`region: cn-hangzhou\nprivatelink: { credentials: ${cred} }\n`).problems.map((p) => `${p.path}: ${p.problem}`);
  const rra = 'type: ram_role_arn, access_key_id: a, access_key_secret: b, role_arn: r';
  t.match(lines(`{ ${rra}, session_duration: 5m }`), [/^privatelink\.credentials\.session_duration: must be between/], 'under 15 minutes');
  t.match(lines(`{ ${rra}, policy: "not json" }`), ['privatelink.credentials.policy: must be JSON text (a RAM policy document)']);
  t.match(lines(`{ ${rra}, policy: '{"Version":"1"}' }`), ['privatelink.credentials.policy: must be a RAM policy document (JSON with "Statement")']);
  t.same(lines('{ type: oidc_role_arn, external_id: x }'), ['privatelink.credentials.external_id: does not apply to type oidc_role_arn']);
  t.same(lines('{ type: credentials_uri, role_arn: r }'), ['privatelink.credentials.role_arn: does not apply to type credentials_uri']);
  t.same(lines(`{ ${rra}, external_id: x, session_duration: 1h, policy: '{"Version":"1","Statement":[]}' }`), []);
});
