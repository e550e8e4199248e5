/**
 * The RAM policy in docs/deployment.md is exactly the one the code needs: the actions a real sync
 * calls (counted by the simulator), with the "privatelink" product code, and every shipped config
 * with PrivateLink credentials points at it.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EntryConfig } from '../../src/config/schema';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { RAM_POLICY_DOC, USED_API_ACTIONS, minimalRamPolicy, ramActionFor } from '../../src/privatelink/ram-policy';
import { Syncer, noSyncObserver } from '../../src/privatelink/sync';
import { DEMO_SIMULATOR_DATA, DEMO_ENTRIES, startSimulator } from '../../src/simulator';
import { captureLogger, simulatorApiConfig } from '../helpers/privatelink-fake';

const ROOT = resolve(__dirname, '..', '..');
const deployment = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');

function documentedPolicy(): unknown {
  const section = deployment.slice(deployment.indexOf('### RAM policy'));
  const m = /```json\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('no ```json block under "### RAM policy"');
  return JSON.parse(m[1] as string);
}

t.test('the documented policy is the minimal policy of the code', async (t) => {
  t.same(documentedPolicy(), minimalRamPolicy());
  t.same(minimalRamPolicy().Statement[0]?.Action, ['privatelink:ListVpcEndpoints', 'privatelink:ListVpcEndpointZones']);
  t.equal(RAM_POLICY_DOC, 'docs/deployment.md#ram-policy');
  t.match(deployment, /^### RAM policy$/m, 'the anchor #ram-policy exists');
});

t.test('a real sync calls exactly the actions of the policy', async (t) => {
  const sim = await startSimulator({ port: 0, data: DEMO_SIMULATOR_DATA });
  t.teardown(() => sim.close());
  const entries = DEMO_ENTRIES.map((e): EntryConfig => ('endpoint' in e ? { kind: 'endpoint', names: e.names, endpointId: e.endpoint } : { kind: 'service', names: e.names, serviceName: e.service }));
  const config = { region: 'cn-hangzhou', privatelink: simulatorApiConfig(sim.endpoint), records: { ttl: 30, preferZones: [], onUnavailable: 'servfail' as const, entries } };
  const { logger } = captureLogger();
  const clients = new ApiClientProvider(config, logger);
  t.teardown(() => clients.close());
  const syncer = new Syncer({ api: clients.provide, config, observer: noSyncObserver, logger, onState: () => {} });
  t.equal((await syncer.syncOnce()).result, 'success');
  await syncer.syncOnce();
  const { total: _total, ...byAction } = sim.calls();
  t.same(Object.keys(byAction).sort(), [...USED_API_ACTIONS].sort(), 'every action called is in the policy, and every policy action is called');
  t.same([...(minimalRamPolicy().Statement[0]?.Action ?? [])].sort(), Object.keys(byAction).sort().map(ramActionFor));
});

t.test('every file that configures PrivateLink credentials points at the policy; none names a wrong action', async (t) => {
  const files = [
    ...readdirSync(join(ROOT, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => join('config', f)),
    'deploy/daemonset.yaml',
    'systemd/privatelink-dns.service',
    'README.md',
    ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f)),
  ];
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    t.notMatch(text, /vpc:ListVpcEndpoint|privatelink:GetVpcEndpointAttribute/, `${f}: no wrong or unused RAM action`);
    if (f !== 'docs/deployment.md' && (/^\s*privatelink:\s*$/m.test(text) || (/credentials: /.test(text) && f.startsWith('config/')))) {
      t.match(text, /docs\/deployment\.md#ram-policy/, `${f}: points at the RAM policy`);
    }
  }
});
