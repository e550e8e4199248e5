/**
 * Issue 25 item 2: what the config file says about the STS host wins over the environment, and
 * the environment fills only what the file leaves out. Every combination runs the real
 * credentials library (ram_role_arn: a signed AssumeRole) against the simulator's STS stand-in,
 * and asserts the Host the stand-in saw. The built host names have no port (443), so the test's
 * HTTPS agent sends every connection to the stand-in's port on 127.0.0.1, keeping SNI and Host.
 */
import t from 'tap';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { readFileSync, rmSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { parseConfigText } from '../../src/config/load';
import { runWithAgents } from '../../src/privatelink/agent-scope';
import { trustStoreWith } from '../../src/privatelink/trust-store';
import { createPrivateLinkClient } from '../../src/privatelink/client';
import { buildCredential } from '../../src/privatelink/credentials';
import { resolveStsHost, type Env } from '../../src/privatelink/sts-host';
import { syncStatus } from '../../src/privatelink/sync-status';
import { startSimulator } from '../../src/simulator';
import { captureLogger } from '../helpers/privatelink-fake';
import { makeTestCa } from '../helpers/test-ca';

const ROLE_ARN = 'acs:ram::1234567890123456:role/privatelink-dns-reader';
const STS_VARS = ['ALIBABA_CLOUD_STS_ENDPOINT', 'ALIBABA_CLOUD_STS_REGION', 'ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED'];
const HOSTS = [
  'sts.aliyuncs.com', 'sts.cn-hangzhou.aliyuncs.com', 'sts-vpc.cn-hangzhou.aliyuncs.com', 'sts.cn-beijing.aliyuncs.com',
  'sts-vpc.cn-beijing.aliyuncs.com', 'sts-env.example', 'sts-file.example',
];

/** [what the file sets, the environment, the host STS must be asked at, the source named] */
const CASES: [string, Env, string, RegExp][] = [
  ['', {}, 'sts.aliyuncs.com', /^default$/],
  ['', { ALIBABA_CLOUD_STS_ENDPOINT: 'https://sts-env.example' }, 'sts-env.example', /^env ALIBABA_CLOUD_STS_ENDPOINT$/],
  ['', { ALIBABA_CLOUD_STS_REGION: 'cn-beijing', ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED: 'true' }, 'sts-vpc.cn-beijing.aliyuncs.com', /env ALIBABA_CLOUD_STS_REGION \+ env ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true/],
  // The issue's case: the webhook's endpoint variable no longer beats sts_region + sts_vpc.
  ['sts_region: cn-hangzhou, sts_vpc: true', { ALIBABA_CLOUD_STS_ENDPOINT: 'sts-env.example' }, 'sts-vpc.cn-hangzhou.aliyuncs.com', /^config sts_region \+ config sts_vpc: true$/],
  // sts_vpc: false switches the VPC variable off (the library would re-read it).
  ['sts_region: cn-hangzhou, sts_vpc: false', { ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED: 'true' }, 'sts.cn-hangzhou.aliyuncs.com', /config sts_vpc: false/],
  ['sts_vpc: false', { ALIBABA_CLOUD_STS_REGION: 'cn-beijing', ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED: 'true' }, 'sts.cn-beijing.aliyuncs.com', /env ALIBABA_CLOUD_STS_REGION \+ config sts_vpc: false/],
  // What the file leaves out is filled from the environment.
  ['sts_region: cn-hangzhou', { ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED: 'true', ALIBABA_CLOUD_STS_ENDPOINT: 'sts-env.example' }, 'sts-vpc.cn-hangzhou.aliyuncs.com', /config sts_region \+ env ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true/],
  ['sts_vpc: true', { ALIBABA_CLOUD_STS_REGION: 'cn-beijing', ALIBABA_CLOUD_STS_ENDPOINT: 'sts-env.example' }, 'sts-vpc.cn-beijing.aliyuncs.com', /env ALIBABA_CLOUD_STS_REGION \+ config sts_vpc: true/],
  ['sts_region: cn-hangzhou', { ALIBABA_CLOUD_STS_REGION: 'cn-beijing' }, 'sts.cn-hangzhou.aliyuncs.com', /^config sts_region$/],
  // sts_endpoint beats everything.
  ['sts_endpoint: sts-file.example, sts_region: cn-beijing', { ALIBABA_CLOUD_STS_ENDPOINT: 'sts-env.example', ALIBABA_CLOUD_STS_REGION: 'cn-beijing', ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED: 'true' }, 'sts-file.example', /^config sts_endpoint$/],
];

/** Every connection to the stand-in's port on loopback; SNI and Host keep the STS host name. */
class ToStandIn extends HttpsAgent {
  constructor(private readonly port: number) {
    super({ keepAlive: false });
  }

  override createConnection(options: Record<string, unknown>, callback?: unknown): Duplex {
    const servername = typeof options.servername === 'string' && options.servername !== '' ? options.servername : String(options.host);
    const create = HttpsAgent.prototype.createConnection as unknown as (this: HttpsAgent, o: unknown, cb?: unknown) => Duplex;
    return create.call(this, { ...options, host: '127.0.0.1', port: this.port, servername }, callback);
  }
}

t.test('config beats the environment for every STS and VPC setting: the host the stand-in saw', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => { process.env = saved; });
  const ca = makeTestCa(HOSTS);
  t.teardown(() => rmSync(ca.dir, { recursive: true, force: true }));
  const sim = await startSimulator({ port: 0, tls: { key: ca.key, cert: ca.cert }, sts: { roleArn: ROLE_ARN } });
  t.teardown(() => sim.close());
  const agents = { http: new HttpAgent(), https: new ToStandIn(sim.port), secureContext: trustStoreWith(readFileSync(ca.caFile, 'utf8')) };
  t.teardown(() => { agents.http.destroy(); agents.https.destroy(); });

  for (const [file, env, expected, source] of CASES) {
    const label = `{ ${file} } with ${JSON.stringify(env)}`;
    const text = `region: cn-hangzhou\nprivatelink:\n  credentials: { type: ram_role_arn, access_key_id: simulator, access_key_secret: simulator, role_arn: "${ROLE_ARN}"${file ? `, ${file}` : ''} }\n`;
    const { config, problems } = parseConfigText(text);
    if (!config) throw new Error(JSON.stringify(problems));
    // The library reads process.env itself: the variables are really there.
    for (const name of STS_VARS) delete process.env[name];
    Object.assign(process.env, env);

    const resolved = resolveStsHost(config.privatelink.credentials as Parameters<typeof resolveStsHost>[0], env);
    t.equal(resolved.host, expected, `${label}: resolved host`);
    t.match(resolved.source, source, `${label}: source "${resolved.source}"`);

    const before = sim.requests().filter((r) => r.action === 'AssumeRole').length;
    const credential = buildCredential(config.privatelink.credentials, env);
    const model = await runWithAgents(agents, () => credential.getCredential());
    t.match(model.accessKeyId, /^STS\./, `${label}: temporary key issued`);
    const seen = sim.requests().filter((r) => r.action === 'AssumeRole');
    t.equal(seen.length, before + 1, `${label}: one AssumeRole`);
    t.equal(seen.at(-1)?.host, expected, `${label}: the stand-in was asked as ${expected}`);
    t.equal(seen.at(-1)?.servername, expected, `${label}: SNI too`);

    const status = syncStatus(statusInputs(config, env));
    t.same(status.credentials, { type: 'ram_role_arn', stsHost: expected, stsHostSource: resolved.source }, `${label}: /status names the host and why`);
  }
});

t.test('kinds that never call STS show no STS host', async (t) => {
  const { config } = parseConfigText('region: cn-hangzhou\nprivatelink: { credentials: { type: access_key, access_key_id: a, access_key_secret: b } }\n');
  if (!config) throw new Error('config');
  t.same(syncStatus(statusInputs(config, { ALIBABA_CLOUD_STS_ENDPOINT: 'sts-env.example' })).credentials, { type: 'access_key', stsHost: null, stsHostSource: null });
  const { config: rrsa } = parseConfigText('region: cn-hangzhou\n');
  if (!rrsa) throw new Error('config');
  const webhook = { ALIBABA_CLOUD_ROLE_ARN: ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'p', ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/t', ALIBABA_CLOUD_STS_ENDPOINT: 'sts-env.example' };
  t.same(syncStatus(statusInputs(rrsa, webhook)).credentials, { type: 'default', stsHost: 'sts-env.example', stsHostSource: 'env ALIBABA_CLOUD_STS_ENDPOINT' }, 'default with the webhook variables: RRSA');
});

function statusInputs(config: NonNullable<ReturnType<typeof parseConfigText>['config']>, env: Env): Parameters<typeof syncStatus>[0] {
  return { state: undefined, table: { inputs: [], version: 0, size: 0, builtAt: 0 } as never, config, nowMs: 0, backoff: undefined, apiCalls: undefined, env };
}

t.test('the client logs the STS host in use and where it came from', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => { process.env = saved; });
  process.env.ALIBABA_CLOUD_STS_ENDPOINT = 'sts-env.example';
  const { config } = parseConfigText(`region: cn-hangzhou\nprivatelink:\n  endpoint: privatelink-vpc.cn-hangzhou.aliyuncs.com\n  credentials: { type: ram_role_arn, access_key_id: a, access_key_secret: b, role_arn: "${ROLE_ARN}", sts_region: cn-hangzhou, sts_vpc: true }\n`);
  if (!config) throw new Error('config');
  const { logger, lines } = captureLogger();
  const client = createPrivateLinkClient({ config: config.privatelink, region: 'cn-hangzhou', logger });
  client.close();
  t.match(lines.find((l) => l.msg === 'privatelink client created'), {
    level: 30, endpoint: 'privatelink-vpc.cn-hangzhou.aliyuncs.com', credentials: 'ram_role_arn', stsHost: 'sts-vpc.cn-hangzhou.aliyuncs.com', stsHostSource: 'config sts_region + config sts_vpc: true',
  });
});
