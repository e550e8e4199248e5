/**
 * API calls per sync, counted by the simulator (/_simulator/calls) while the real client signs
 * every request: one ListVpcEndpoints listing per VPC for all its entries, ListVpcEndpointZones
 * only for Active endpoints, and /status-style counts of the last minute and the last sync.
 */
import t from 'tap';
import type { EntryConfig } from '../../src/config/schema';
import { Metrics, syncObserver } from '../../src/metrics';
import { ApiClientProvider } from '../../src/privatelink/api-provider';
import { CallWindow } from '../../src/privatelink/call-window';
import { planListings } from '../../src/privatelink/fetch';
import { Syncer, type SyncerConfig } from '../../src/privatelink/sync';
import { startSimulator, type RunningSimulator, type SimEndpoint } from '../../src/simulator';
import { captureLogger, simulatorApiConfig } from '../helpers/privatelink-fake';

const REGION = 'cn-hangzhou';

function ep(id: string, vpc: string, fields: Partial<SimEndpoint> = {}): SimEndpoint {
  return {
    EndpointId: id,
    EndpointDomain: `${id}.epsrv-x.${REGION}.privatelink.aliyuncs.com`,
    EndpointStatus: 'Active',
    ConnectionStatus: 'Connected',
    ServiceName: `com.aliyuncs.privatelink.${REGION}.epsrv-${id}`,
    VpcId: vpc,
    RegionId: REGION,
    Zones: [{ ZoneId: 'cn-hangzhou-k', EniIp: `192.168.0.${Number(id.replace(/\D/g, '')) % 250}`, ZoneStatus: 'Connected' }],
    ...fields,
  };
}

/** The simulator's call counters over HTTP, then (with `reset`) zeroed for the next sync. */
async function calls(sim: RunningSimulator, reset = false): Promise<Record<string, number>> {
  const counts = (await (await fetch(`${sim.url}/_simulator/calls`)).json()) as Record<string, number>;
  if (reset) await fetch(`${sim.url}/_simulator/calls`, { method: 'DELETE' });
  return counts;
}

async function apiCallMetrics(m: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.apiCalls.get()).values) out[`${v.labels.action}:${v.labels.result}`] = v.value;
  return out;
}

function syncer(sim: RunningSimulator, entries: EntryConfig[], metrics = new Metrics({ processMetrics: false })): { syncer: Syncer; close: () => void; metrics: Metrics } {
  const config: SyncerConfig = {
    region: REGION,
    privatelink: simulatorApiConfig(sim.endpoint),
    records: { ttl: 30, preferZones: [], onUnavailable: 'servfail', entries },
  };
  const { logger } = captureLogger();
  const clients = new ApiClientProvider(config, logger);
  const s = new Syncer({ api: clients.provide, config, observer: syncObserver(metrics), logger, onState: () => {} });
  return { syncer: s, close: () => clients.close(), metrics };
}

const N = 10;
const idsIn = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `ep-${prefix}${i + 1}`);

t.test(`${N} endpoint entries in one VPC: 1 listing + ${N} zone listings per sync once the VPC is known`, async (t) => {
  const ids = idsIn('a', N);
  const sim = await startSimulator({ port: 0, data: { endpoints: ids.map((id) => ep(id, 'vpc-1')) } });
  t.teardown(() => sim.close());
  const entries: EntryConfig[] = ids.map((id) => ({ kind: 'endpoint', names: [`${id}.pl.test`], endpointId: id }));
  const s = syncer(sim, entries);
  t.teardown(s.close);

  const first = await s.syncer.syncOnce();
  t.equal(first.result, 'success');
  t.same(await calls(sim, true), { total: 2 * N, ListVpcEndpoints: N, ListVpcEndpointZones: N }, 'first sync: each endpoint by id (its VPC is not known yet)');
  t.same(s.syncer.apiCalls().lastSync, { total: 2 * N, ListVpcEndpoints: N, ListVpcEndpointZones: N }, 'the syncer counted the same calls');

  for (let round = 0; round < 2; round++) {
    const next = await s.syncer.syncOnce();
    t.equal(next.result, 'success');
    t.same(await calls(sim, true), { total: 1 + N, ListVpcEndpoints: 1, ListVpcEndpointZones: N }, `sync ${round + 2}: one listing of vpc-1 serves all ${N}`);
  }
  t.same(s.syncer.apiCalls().lastSync, { total: 1 + N, ListVpcEndpoints: 1, ListVpcEndpointZones: N });
  t.same(s.syncer.apiCalls().lastMinute, { total: 2 * N + 2 * (1 + N), ListVpcEndpoints: N + 2, ListVpcEndpointZones: 3 * N }, 'last minute: all three syncs');
  t.same(await apiCallMetrics(s.metrics), { 'ListVpcEndpoints:ok': N + 2, 'ListVpcEndpointZones:ok': 3 * N }, 'privatelink_dns_api_calls_total by action and result');
  t.same(s.syncer.current().inputs.map((i) => i.ipv4.length), ids.map(() => 1), 'every entry answers');
});

t.test('with vpc: configured, the first sync is already one listing; pages, services and non-Active endpoints', async (t) => {
  const configured = idsIn('b', N);
  const others = idsIn('o', 55); // 65 endpoints in vpc-1: the listing takes two pages of 50
  const sim = await startSimulator({
    port: 0,
    data: {
      endpoints: [
        ...configured.map((id) => ep(id, 'vpc-1')),
        ...others.map((id) => ep(id, 'vpc-1')),
        ep('ep-pending1', 'vpc-1', { EndpointStatus: 'Pending' }),
        ep('ep-svc1', 'vpc-1', { ServiceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-shared' }),
        ep('ep-elsewhere1', 'vpc-2'),
      ],
    },
  });
  t.teardown(() => sim.close());
  const entries: EntryConfig[] = [
    ...configured.map((id): EntryConfig => ({ kind: 'endpoint', names: [`${id}.pl.test`], endpointId: id, vpcId: 'vpc-1' })),
    { kind: 'endpoint', names: ['pending.pl.test'], endpointId: 'ep-pending1', vpcId: 'vpc-1' },
    { kind: 'endpoint', names: ['gone.pl.test'], endpointId: 'ep-gone1', vpcId: 'vpc-1' },
    { kind: 'service', names: ['svc.pl.test'], serviceName: 'com.aliyuncs.privatelink.cn-hangzhou.epsrv-shared', vpcId: 'vpc-1' },
  ];
  const s = syncer(sim, entries);
  t.teardown(s.close);

  const out = await s.syncer.syncOnce();
  // N configured + the service's endpoint are Active: N + 1 zone listings; the Pending and the missing one cost nothing more.
  t.same(await calls(sim, true), { total: 2 + N + 1, ListVpcEndpoints: 2, ListVpcEndpointZones: N + 1 }, 'one listing (2 pages) for the whole VPC');
  t.same(out.errors.map((e) => [e.entryId, e.code]), [['ep-gone1', 'PL_NOT_FOUND']], 'only the missing endpoint fails');
  const pending = out.state.entries.find((e) => e.id === 'ep-pending1');
  t.equal(pending?.endpoint?.endpointStatus, 'Pending', 'a non-Active endpoint is known from the listing');
  t.same(pending?.zones, [], 'and its zones were not asked for');
  t.equal(out.state.entries.find((e) => e.kind === 'service')?.endpoint?.endpointId, 'ep-svc1', 'the service entry is served by the same listing');
});

t.test('planListings groups by VPC and narrows a one-service VPC listing', async (t) => {
  const plan = planListings([
    { entry: { kind: 'endpoint', names: ['a.test'], endpointId: 'ep-a' } },
    { entry: { kind: 'endpoint', names: ['b.test'], endpointId: 'ep-b' }, knownVpcId: 'vpc-1' },
    { entry: { kind: 'endpoint', names: ['c.test'], endpointId: 'ep-c', vpcId: 'vpc-1' } },
    { entry: { kind: 'service', names: ['d.test'], serviceName: 'svc-d' } },
    { entry: { kind: 'service', names: ['e.test'], serviceName: 'svc-e', vpcId: 'vpc-2' } },
    { entry: { kind: 'service', names: ['f.test'], serviceName: 'svc-f', vpcId: 'vpc-1' } },
  ]);
  t.same(plan, [
    { filter: { endpointId: 'ep-a' }, entries: [0] },
    { filter: { vpcId: 'vpc-1' }, entries: [1, 2, 5] },
    { filter: { serviceName: 'svc-d' }, entries: [3] },
    { filter: { serviceName: 'svc-e', vpcId: 'vpc-2' }, entries: [4] },
  ]);
});

t.test('CallWindow counts the last 60 seconds only', async (t) => {
  const w = new CallWindow();
  const t0 = 1_700_000_000_000;
  w.record('ListVpcEndpoints', t0);
  w.record('ListVpcEndpointZones', t0 + 500);
  w.record('ListVpcEndpointZones', t0 + 30_000);
  t.same(w.lastMinute(t0 + 30_000), { total: 3, ListVpcEndpoints: 1, ListVpcEndpointZones: 2 });
  t.same(w.lastMinute(t0 + 60_000), { total: 1, ListVpcEndpointZones: 1 }, 'the first second has left the window');
  t.same(w.lastMinute(t0 + 200_000), { total: 0 });
  w.record('ListVpcEndpoints', t0 + 120_000); // reuses the slot of t0
  t.same(w.lastMinute(t0 + 120_000), { total: 1, ListVpcEndpoints: 1 });
});
